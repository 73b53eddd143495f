package p2pnode

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/protocol"
	"github.com/murmur-p2p/murmur/sync/pebblestore"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// ErrNotStarted is returned by data operations on a node before Start.
var ErrNotStarted = fmt.Errorf("node not started")

// ErrNotFound is returned by Get and Versions for a key that is absent or
// deleted. It is sync.ErrNotFound, so either can be tested with errors.Is.
var ErrNotFound = replica.ErrNotFound

// ErrDiskFull is returned by writes refused because the store's file system
// is below store_min_free_mb; the text goes on "N bytes free in DIR".
// Writes are taken again once space returns.
var ErrDiskFull = pebblestore.ErrDiskFull

func (n *Node) engine() (*replica.Node, error) {
	r, err := n.replication()
	if err != nil {
		return nil, err
	}
	return r.node, nil
}

// Put writes value under key. It returns the signed event once the write is
// durable in the local store; replication to other nodes proceeds in the
// background. In a closed network a write this node's certificate does not
// allow is ErrForbidden, and nothing is signed.
func (n *Node) Put(key string, value []byte) (*replica.Event, error) {
	e, err := n.engine()
	if err != nil {
		return nil, err
	}
	if err := n.checkWrite(replica.OpPut, key, value); err != nil {
		return nil, err
	}
	return e.Put(key, value)
}

// PutMany writes each pair as its own signed event, all in one commit
// group (one store batch, one fsync), and returns the events once all are
// durable; see replica.Node.PutMany for what a refused pair leaves
// written. In a closed network every pair is checked against this node's
// certificate first: if one is not allowed, nothing is written.
func (n *Node) PutMany(kvs []replica.KV) ([]*replica.Event, error) {
	e, err := n.engine()
	if err != nil {
		return nil, err
	}
	for _, kv := range kvs {
		if err := n.checkWrite(replica.OpPut, kv.Key, kv.Value); err != nil {
			return nil, err
		}
	}
	return e.PutMany(kvs)
}

// Delete writes a tombstone for key, durable when it returns.
func (n *Node) Delete(key string) (*replica.Event, error) {
	e, err := n.engine()
	if err != nil {
		return nil, err
	}
	if err := n.checkWrite(replica.OpDelete, key, nil); err != nil {
		return nil, err
	}
	return e.Delete(key)
}

// Publish replicates an application event with an opaque payload under a
// topic; it does not change the key/value state. Subscribers on every node
// receive it as a change.
func (n *Node) Publish(topic string, payload []byte) (*replica.Event, error) {
	e, err := n.engine()
	if err != nil {
		return nil, err
	}
	if err := n.checkWrite(replica.OpApp, topic, payload); err != nil {
		return nil, err
	}
	return e.Publish(topic, payload)
}

// Get returns the value of key: with concurrent writes, the deterministic
// winner every node agrees on. A missing or deleted key is ErrNotFound.
func (n *Node) Get(key string) ([]byte, error) {
	e, err := n.engine()
	if err != nil {
		return nil, err
	}
	return e.Get(key)
}

// Versions returns the full state of key: every concurrent sibling (a
// conflict when more than one), winner first, and its causal context.
func (n *Node) Versions(key string) (*replica.KeyState, error) {
	e, err := n.engine()
	if err != nil {
		return nil, err
	}
	return e.Versions(key)
}

// List returns the live keys starting with prefix, in key order.
func (n *Node) List(prefix string) ([]*replica.KeyState, error) {
	e, err := n.engine()
	if err != nil {
		return nil, err
	}
	return e.List(prefix)
}

// Subscribe returns a channel of changes: local writes, received events,
// conflicts, peer state changes and sync results. A subscriber that falls
// more than buffer changes behind loses the overflow rather than stalling
// the node.
func (n *Node) Subscribe(buffer int) (<-chan replica.Change, error) {
	e, err := n.engine()
	if err != nil {
		return nil, err
	}
	return e.Subscribe(buffer), nil
}

// SyncWith starts a digest sync with p now (a manual trigger); the result
// arrives to subscribers as a ChangeExchange.
func (n *Node) SyncWith(p peer.ID) error {
	e, err := n.engine()
	if err != nil {
		return err
	}
	return e.SyncNow(replica.PeerID(p))
}

// EnginePeers returns the replication engine's view of its peers with their
// failure-detector state, last contact and reliability.
func (n *Node) EnginePeers() ([]replica.PeerStatus, error) {
	e, err := n.engine()
	if err != nil {
		return nil, err
	}
	return e.Peers(), nil
}

// Stats are a node's counters.
type Stats struct {
	// Engine holds the replication engine's counters.
	Engine replica.Stats
	// Protocols holds messages and bytes per wire protocol.
	Protocols map[string]protocol.ProtocolStats
	// InboxDropped counts received messages dropped because the engine's
	// inbox was full; Rejected counts received messages the engine refused;
	// RateLimited counts messages dropped after waiting for their sender's
	// budget (peer_byte_rate) longer than peer_rate_max_wait;
	// NotMember counts messages dropped because identify showed the sender
	// is not a member of this network.
	InboxDropped, Rejected, RateLimited, NotMember uint64
	// StoreRefused counts received messages not given to the engine (so not
	// acknowledged) while the store refused writes (a full disk).
	StoreRefused uint64
	// Banned is the number of peers banned now.
	Banned int
	// Unauthorized counts received events refused because their origin's
	// certificate does not allow them (closed networks); RefusedPeers
	// counts peers refused admission; GatedStreams counts streams reset
	// because their peer was not a member.
	Unauthorized, RefusedPeers, GatedStreams uint64
}

// Stats returns the node's counters.
func (n *Node) Stats() (Stats, error) {
	r, err := n.replication()
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Engine: r.node.Stats(), Protocols: map[string]protocol.ProtocolStats{},
		InboxDropped: r.dropped.Load(), Rejected: r.rejected.Load(), RateLimited: r.limited.Load(), NotMember: r.notMember.Load(), StoreRefused: r.refused.Load(),
		Banned: len(n.bans.BannedPeers())}
	if n.access != nil {
		st.Unauthorized, st.RefusedPeers = n.access.RefusedEvents(), n.access.RefusedPeers()
	}
	if d := n.Discovery(); d != nil {
		st.GatedStreams = d.GatedStreams()
	}
	for id, ps := range r.transport.Stats() {
		st.Protocols[string(id)] = ps
	}
	return st, nil
}

// VersionVector returns the node's version vector: per origin, the highest
// sequence number held without gaps (durable in the store).
func (n *Node) VersionVector() (replica.VersionVector, error) {
	r, err := n.replication()
	if err != nil {
		return nil, err
	}
	return r.store.VersionVector()
}

// ScanEvents calls fn for the stored events of origin with from <= seq <=
// to (to == 0: no upper bound) in ascending order until fn returns false.
// Events removed by garbage collection are skipped.
func (n *Node) ScanEvents(origin replica.PeerID, from, to uint64, fn func(*replica.Event) bool) error {
	r, err := n.replication()
	if err != nil {
		return err
	}
	return r.store.ScanEvents(origin, from, to, fn)
}

func (n *Node) replication() (*replication, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.closed:
		return nil, ErrClosed
	case n.repl == nil:
		return nil, ErrNotStarted
	}
	return n.repl, nil
}
