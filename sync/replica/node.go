package replica

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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

// Node wraps an Engine for concurrent use, with group commit: every input
// (a local write, a received message, a tick, a peer change) is queued, and
// one commit at a time gives the engine all inputs queued so far, then acts
// on the resulting Ready in the required order (store, then transport, then
// subscribers) before any of those inputs returns. A caller that finds no
// commit running commits the queue itself; the committer goroutine takes
// what queues up meanwhile. So concurrent
// writers and received events share one synced store batch, and nothing is
// acknowledged (to a local caller or, by PushAck, to a peer) before it is
// durable; a lone writer pays for one batch, as before. Reads take the
// engine lock and see only committed state.
//
// Subscribers receive changes on buffered channels; a subscriber that falls
// behind loses changes (counted by Dropped) rather than stalling the node.
type Node struct {
	// mu guards the engine and the fields below it; the committer holds it
	// from the first input of a group until the group's Ready is done.
	mu        sync.Mutex
	eng       *Engine
	store     Store
	transport Transport
	bcast     Broadcaster
	subs      []chan Change
	dropped   uint64
	closed    bool

	// qmu guards the input queue, which the committer drains.
	qmu     sync.Mutex
	queue   []*input
	writes  int  // local writes in queue
	busy    bool // a group is being committed
	qclosed bool
	wake    chan struct{}
	done    chan struct{}
	opts    nodeOptions
	groups  atomic.Uint64 // commit groups run
	inputs  atomic.Uint64 // inputs given to the engine

	// pre holds signature verdicts StepAll reached off the engine lock
	// (preverify.go); seen is the engine's vector as of the last commit,
	// which tells StepAll which received events are new.
	pre  *preVerifier
	seen atomic.Pointer[VersionVector]
}

// input is one queued call into the engine: fn, or a Put when put is set
// (commit gives a run of Puts to the engine together, see putAll).
type input struct {
	fn    func(*Engine) error
	put   *KV
	ev    *Event // the put's event
	write bool
	err   error
	done  chan struct{}
}

// NodeOption tunes a Node.
type NodeOption func(*nodeOptions)

type nodeOptions struct {
	maxQueuedWrites int
	maxGroup        int
}

// DefaultMaxQueuedWrites bounds the local writes waiting for the committer
// (WithMaxQueuedWrites): 4,096 small writes are about a tenth of a second
// of the Pebble store's batched rate (36,000 events/s, make bench-store),
// more than clients that each wait for their own answer queue in practice
// (one each), so only a flood of callers meets it, and it bounds the
// memory and the latency of what waits.
const DefaultMaxQueuedWrites = 4096

// defaultMaxGroup bounds the inputs one commit group takes, so one batch
// (and the lock held while it is persisted) stays small enough that reads
// are not kept waiting for long.
const defaultMaxGroup = 1024

// WithMaxQueuedWrites sets how many local writes may wait for the
// committer; past it Put, Delete and Publish fail at once with
// ErrOverloaded (the control API answers 503 with Retry-After). 0 or less
// means DefaultMaxQueuedWrites.
func WithMaxQueuedWrites(n int) NodeOption {
	return func(o *nodeOptions) {
		if n > 0 {
			o.maxQueuedWrites = n
		}
	}
}

// ErrOverloaded is returned for a local write when the node's write queue
// is full: the caller should retry later.
var ErrOverloaded = errors.New("node overloaded: write queue full")

// NewNode creates an engine from cfg and wraps it. The transport carries
// the engine's messages; with cfg.ExternalDissemination it must also be a
// Broadcaster. It starts the committer goroutine, which Close stops.
func NewNode(cfg Config, transport Transport, opts ...NodeOption) (*Node, error) {
	if transport == nil {
		return nil, fmt.Errorf("%w: nil transport", ErrInvalidConfig)
	}
	bcast, ok := transport.(Broadcaster)
	if cfg.ExternalDissemination && !ok {
		return nil, fmt.Errorf("%w: external dissemination needs a transport that implements Broadcaster, %T does not", ErrInvalidConfig, transport)
	}
	var pre *preVerifier
	if cfg.Verifier != nil {
		pre, cfg.Verifier = newPreVerifier(cfg.Verifier)
	}
	eng, err := New(cfg)
	if err != nil {
		return nil, err
	}
	o := nodeOptions{maxQueuedWrites: DefaultMaxQueuedWrites, maxGroup: defaultMaxGroup}
	for _, opt := range opts {
		opt(&o)
	}
	n := &Node{eng: eng, store: cfg.Store, transport: transport, bcast: bcast,
		wake: make(chan struct{}, 1), done: make(chan struct{}), opts: o, pre: pre}
	n.noteSeen()
	go n.commitLoop()
	return n, nil
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

// GroupStats returns how many commit groups ran and how many inputs they
// held (inputs/groups is the mean group size).
func (n *Node) GroupStats() (groups, inputs uint64) {
	return n.groups.Load(), n.inputs.Load()
}

// do queues an input and waits until its group is durable and acted on.
// write marks a local write, which the queue bound applies to. When no
// group is being committed, the caller commits the queue itself (a lone
// writer pays no goroutine hand-off); otherwise the committer goroutine
// takes it with the next group.
func (n *Node) do(write bool, fn func(*Engine) error) error {
	return n.submit(&input{fn: fn, write: write, done: make(chan struct{})})
}

// submit queues in and waits until its group is durable and acted on (do).
func (n *Node) submit(in *input) error {
	write := in.write
	n.qmu.Lock()
	if n.qclosed {
		n.qmu.Unlock()
		return fmt.Errorf("node: %w", ErrClosed)
	}
	if write {
		if n.writes >= n.opts.maxQueuedWrites {
			n.qmu.Unlock()
			return fmt.Errorf("node: %w (%d writes waiting)", ErrOverloaded, n.writes)
		}
		n.writes++
	}
	n.queue = append(n.queue, in)
	group := n.takeLocked()
	n.qmu.Unlock()
	if group != nil {
		n.commit(group)
		n.release()
	} else {
		n.kick()
	}
	<-in.done
	return in.err
}

// kick wakes the committer goroutine.
func (n *Node) kick() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// takeLocked takes the next group off the queue and marks a commit as
// running; it returns nil when one is running already or nothing is
// queued. n.qmu is held.
func (n *Node) takeLocked() []*input {
	if n.busy || len(n.queue) == 0 {
		return nil
	}
	k := min(len(n.queue), n.opts.maxGroup)
	group := n.queue[:k:k]
	n.queue = n.queue[k:]
	for _, in := range group {
		if in.write {
			n.writes--
		}
	}
	n.busy = true
	return group
}

// release ends a commit and wakes the committer if more is queued.
func (n *Node) release() {
	n.qmu.Lock()
	n.busy = false
	more := len(n.queue) > 0
	n.qmu.Unlock()
	if more {
		n.kick()
	}
}

// commitLoop runs the commit groups that queue up while another commit
// runs, until Close.
func (n *Node) commitLoop() {
	for {
		select {
		case <-n.done:
			n.failQueued()
			return
		case <-n.wake:
		}
		for {
			n.qmu.Lock()
			group := n.takeLocked()
			n.qmu.Unlock()
			if group == nil {
				break // nothing queued, or an inline commit will kick again
			}
			n.commit(group)
			n.qmu.Lock()
			n.busy = false
			n.qmu.Unlock()
		}
	}
}

// failQueued answers every queued input with ErrClosed.
func (n *Node) failQueued() {
	n.qmu.Lock()
	q := n.queue
	n.queue, n.writes = nil, 0
	n.qmu.Unlock()
	for _, in := range q {
		in.err = fmt.Errorf("node: %w", ErrClosed)
		close(in.done)
	}
}

// commit gives the engine a group of inputs, makes their Ready durable and
// acts on it, then answers each input.
func (n *Node) commit(group []*input) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		for _, in := range group {
			in.err = fmt.Errorf("node: %w", ErrClosed)
			close(in.done)
		}
		return
	}
	for i := 0; i < len(group); {
		if group[i].put == nil {
			group[i].err = group[i].fn(n.eng)
			i++
			continue
		}
		// A run of Puts: the engine signs them in parallel.
		j := i
		var kvs []KV
		for ; j < len(group) && group[j].put != nil; j++ {
			kvs = append(kvs, *group[j].put)
		}
		evs, errs := n.eng.putAll(kvs, false)
		for k, in := range group[i:j] {
			in.ev, in.err = evs[k], errs[k]
		}
		i = j
	}
	n.groups.Add(1)
	n.inputs.Add(uint64(len(group)))
	err := n.flushReady()
	n.noteSeen()
	n.mu.Unlock()
	for _, in := range group {
		if err != nil {
			// Nothing of the group is durable: no input succeeded.
			in.err = err
		}
		close(in.done)
	}
}

// noteSeen publishes the engine's vector for StepAll's pre-verification;
// n.mu is held (or the node is not shared yet).
func (n *Node) noteSeen() {
	vv := n.eng.vv.Clone()
	n.seen.Store(&vv)
}

// flushReady acts on the engine's Readies until it has none; n.mu is held.
func (n *Node) flushReady() error {
	for n.eng.HasReady() {
		rd := n.eng.Ready()
		if err := n.persist(rd.Batch); err != nil {
			return err
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
	return nil
}

// persist makes a Ready's batch durable; n.mu is held.
func (n *Node) persist(b *Batch) error {
	// An empty batch needs no store round trip (or fsync).
	if b.Empty() {
		return nil
	}
	if err := n.store.Apply(b); err != nil {
		// Nothing of this Ready may leave the node: the engine is rebuilt
		// from the store (node_persist.go).
		return n.persistFailed(err)
	}
	return nil
}

// Put writes key; see Engine.Put.
func (n *Node) Put(key string, value []byte) (*Event, error) {
	in := &input{put: &KV{Key: key, Value: value}, write: true, done: make(chan struct{})}
	if err := n.submit(in); err != nil {
		return nil, err
	}
	return in.ev, nil
}

// Delete writes a tombstone; see Engine.Delete.
func (n *Node) Delete(key string) (ev *Event, err error) {
	err = n.do(true, func(e *Engine) error { ev, err = e.Delete(key); return err })
	return ev, err
}

// Publish replicates an application event; see Engine.Publish.
func (n *Node) Publish(topic string, payload []byte) (ev *Event, err error) {
	err = n.do(true, func(e *Engine) error { ev, err = e.Publish(topic, payload); return err })
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
	return n.do(false, func(e *Engine) error { return e.Step(msg) })
}

// StepAll processes received messages in one commit group (see Node) and
// returns each one's error (nil entries for the accepted ones). A receive
// loop that hands over everything that arrived while the previous group was
// being persisted gets one store batch per group, not per message.
//
// Before queueing, StepAll checks the signatures of the messages' new
// events in parallel, outside the engine lock (preverify.go); the engine's
// own checks of those events are then answered from the verdicts.
func (n *Node) StepAll(msgs []Message) []error {
	checked := n.preVerify(msgs)
	defer n.pre.forget(checked)
	ins := make([]*input, len(msgs))
	for i, m := range msgs {
		ins[i] = &input{fn: func(e *Engine) error { return e.Step(m) }, done: make(chan struct{})}
	}
	errs := make([]error, len(msgs))
	n.qmu.Lock()
	if n.qclosed {
		n.qmu.Unlock()
		for i := range errs {
			errs[i] = fmt.Errorf("node: %w", ErrClosed)
		}
		return errs
	}
	n.queue = append(n.queue, ins...)
	group := n.takeLocked()
	n.qmu.Unlock()
	if group != nil {
		n.commit(group)
		n.release()
	} else {
		n.kick()
	}
	for i, in := range ins {
		<-in.done
		errs[i] = in.err
	}
	return errs
}

// Receive accepts events from the external dissemination router; see
// Engine.Receive.
func (n *Node) Receive(from PeerID, events []*Event) error {
	return n.do(false, func(e *Engine) error { return e.Receive(from, events) })
}

// Tick advances time; see Engine.Tick.
func (n *Node) Tick(now time.Time) error {
	return n.do(false, func(e *Engine) error { e.Tick(now); return nil })
}

// PeerUp adds a peer; see Engine.PeerUp.
func (n *Node) PeerUp(id PeerID) error {
	return n.do(false, func(e *Engine) error { e.PeerUp(id); return nil })
}

// PeerDown removes a peer; see Engine.PeerDown.
func (n *Node) PeerDown(id PeerID) error {
	return n.do(false, func(e *Engine) error { e.PeerDown(id); return nil })
}

// SyncNow starts a digest sync (manual trigger); see Engine.SyncNow.
func (n *Node) SyncNow(peer PeerID) error {
	return n.do(false, func(e *Engine) error { e.SyncNow(peer); return nil })
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
	n.qmu.Lock()
	n.qclosed = true
	n.qmu.Unlock()
	close(n.done)
	for _, ch := range n.subs {
		close(ch)
	}
	n.subs = nil
}
