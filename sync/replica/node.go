package replica

import (
	"fmt"
	"sync"
	"time"
)

// Transport sends engine messages for a Node. Send must not block for long
// and must not call back into the Node; losing a message is fine.
type Transport interface {
	Send(Message)
}

// Broadcaster is implemented by a Transport that also carries the external
// dissemination router (Config.ExternalDissemination): Node hands it each
// Ready's Broadcast events, after the batch is durable and with the
// messages. Like Send, Broadcast must not block for long or call back into
// the Node; losing events is fine (digest sync repairs it).
type Broadcaster interface {
	Broadcast([]*Event)
}

// Node wraps an Engine for concurrent use: every method takes a lock, gives
// the engine its input, and acts on the Ready in the required order (store,
// then transport, then subscribers) before returning. Subscribers receive
// changes on buffered channels; a subscriber that falls behind loses changes
// (counted by Dropped) rather than stalling the node.
type Node struct {
	mu        sync.Mutex
	eng       *Engine
	store     Store
	transport Transport
	bcast     Broadcaster
	subs      []chan Change
	dropped   uint64
	closed    bool
}

// NewNode creates an engine from cfg and wraps it. The transport carries
// the engine's messages; with cfg.ExternalDissemination it must also be a
// Broadcaster.
func NewNode(cfg Config, transport Transport) (*Node, error) {
	if transport == nil {
		return nil, fmt.Errorf("%w: nil transport", ErrInvalidConfig)
	}
	bcast, ok := transport.(Broadcaster)
	if cfg.ExternalDissemination && !ok {
		return nil, fmt.Errorf("%w: external dissemination needs a transport that implements Broadcaster, %T does not", ErrInvalidConfig, transport)
	}
	eng, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Node{eng: eng, store: cfg.Store, transport: transport, bcast: bcast}, nil
}

// ID returns the node's peer ID.
func (n *Node) ID() PeerID { return n.eng.ID() }

// Subscribe returns a channel of changes with the given buffer size.
func (n *Node) Subscribe(buffer int) <-chan Change {
	n.mu.Lock()
	defer n.mu.Unlock()
	ch := make(chan Change, buffer)
	n.subs = append(n.subs, ch)
	return ch
}

// Dropped returns the number of changes lost by slow subscribers.
func (n *Node) Dropped() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dropped
}

// do runs an input under the lock and processes the Ready.
func (n *Node) do(fn func(*Engine) error) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return fmt.Errorf("node: %w", ErrClosed)
	}
	inErr := fn(n.eng)
	for n.eng.HasReady() {
		rd := n.eng.Ready()
		// An empty batch needs no store round trip (or fsync).
		if !rd.Batch.Empty() {
			if err := n.store.Apply(rd.Batch); err != nil {
				// Nothing of this Ready may leave the node (node_persist.go).
				return n.persistFailed(err)
			}
		}
		for _, m := range rd.Messages {
			n.transport.Send(m)
		}
		if len(rd.Broadcast) > 0 && n.bcast != nil {
			n.bcast.Broadcast(rd.Broadcast)
		}
		for _, c := range rd.Changes {
			for _, ch := range n.subs {
				select {
				case ch <- c:
				default:
					n.dropped++
				}
			}
		}
		n.eng.Advance()
	}
	return inErr
}

// Put writes key; see Engine.Put.
func (n *Node) Put(key string, value []byte) (ev *Event, err error) {
	err = n.do(func(e *Engine) error { ev, err = e.Put(key, value); return err })
	return ev, err
}

// Delete writes a tombstone; see Engine.Delete.
func (n *Node) Delete(key string) (ev *Event, err error) {
	err = n.do(func(e *Engine) error { ev, err = e.Delete(key); return err })
	return ev, err
}

// Publish replicates an application event; see Engine.Publish.
func (n *Node) Publish(topic string, payload []byte) (ev *Event, err error) {
	err = n.do(func(e *Engine) error { ev, err = e.Publish(topic, payload); return err })
	return ev, err
}

// Get reads key; see Engine.Get.
func (n *Node) Get(key string) ([]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.eng.Get(key)
}

// Versions returns every sibling of key; see Engine.Versions.
func (n *Node) Versions(key string) (*KeyState, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.eng.Versions(key)
}

// List returns the live keys with a prefix; see Engine.List.
func (n *Node) List(prefix string) ([]*KeyState, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.eng.List(prefix)
}

// Step processes a received message; see Engine.Step.
func (n *Node) Step(msg Message) error {
	return n.do(func(e *Engine) error { return e.Step(msg) })
}

// Receive accepts events from the external dissemination router; see
// Engine.Receive.
func (n *Node) Receive(from PeerID, events []*Event) error {
	return n.do(func(e *Engine) error { return e.Receive(from, events) })
}

// Tick advances time; see Engine.Tick.
func (n *Node) Tick(now time.Time) error {
	return n.do(func(e *Engine) error { e.Tick(now); return nil })
}

// PeerUp adds a peer; see Engine.PeerUp.
func (n *Node) PeerUp(id PeerID) error {
	return n.do(func(e *Engine) error { e.PeerUp(id); return nil })
}

// PeerDown removes a peer; see Engine.PeerDown.
func (n *Node) PeerDown(id PeerID) error {
	return n.do(func(e *Engine) error { e.PeerDown(id); return nil })
}

// SyncNow starts a digest sync (manual trigger); see Engine.SyncNow.
func (n *Node) SyncNow(peer PeerID) error {
	return n.do(func(e *Engine) error { e.SyncNow(peer); return nil })
}

// Stats returns the engine's counters.
func (n *Node) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.eng.Stats()
}

// Peers returns the peer view; see Engine.Peers.
func (n *Node) Peers() []PeerStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.eng.Peers()
}

// Close stops the node and closes its subscriptions. It does not close the
// store, which the caller owns.
func (n *Node) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closeLocked()
}

// closeLocked stops the node and closes the subscriptions; n.mu is held.
func (n *Node) closeLocked() {
	if n.closed {
		return
	}
	n.closed = true
	for _, ch := range n.subs {
		close(ch)
	}
	n.subs = nil
}
