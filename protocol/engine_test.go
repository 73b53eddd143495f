package protocol

import (
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/security"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// engineNode is a sync.Node wired to a Transport on a real host, signing
// with the host's own key.
type engineNode struct {
	n    *node
	sync *replica.Node
}

func newEngineNode(t *testing.T, seed uint64) *engineNode {
	t.Helper()
	var target atomic.Pointer[replica.Node]
	n := &node{h: newHost(t), in: newInbox()}
	tr, err := New(n.h, Config{}, func(_ peer.ID, m replica.Message) {
		if sn := target.Load(); sn != nil {
			_ = sn.Step(m) // rejected events are the engine's business
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	n.t = tr
	signer, err := security.NewSigner(n.h.Peerstore().PrivKey(n.h.ID()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := replica.DefaultConfig()
	cfg.Signer, cfg.Verifier, cfg.Store = signer, security.Verifier{}, replica.NewMemStore()
	cfg.Rand = rand.New(rand.NewPCG(seed, seed))
	sn, err := replica.NewNode(cfg, tr.EngineTransport())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sn.Close)
	target.Store(sn)
	return &engineNode{n: n, sync: sn}
}

// meet connects two engine nodes and tells each engine about the other.
func meet(t *testing.T, a, b *engineNode) {
	t.Helper()
	connect(t, a.n.h, b.n.h)
	if err := a.sync.PeerUp(b.sync.ID()); err != nil {
		t.Fatal(err)
	}
	if err := b.sync.PeerUp(a.sync.ID()); err != nil {
		t.Fatal(err)
	}
}

// waitValue polls n until key reads value.
func waitValue(t *testing.T, n *engineNode, key, value string) {
	t.Helper()
	waitFor(t, key+" on "+n.sync.ID().String(), func() bool {
		v, err := n.sync.Get(key)
		if err != nil && !errors.Is(err, replica.ErrNotFound) {
			t.Fatalf("get %s: %v", key, err)
		}
		return string(v) == value
	})
}

// TestEnginesReplicateOverTheWire: real engines with real signatures on
// real hosts: writes spread by push/ack both ways, and a node that joins
// later catches up through the digest sync exchange.
func TestEnginesReplicateOverTheWire(t *testing.T) {
	a, b, c := newEngineNode(t, 1), newEngineNode(t, 2), newEngineNode(t, 3)
	meet(t, a, b)
	meet(t, a, c)
	meet(t, b, c)
	if _, err := a.sync.Put("colour", []byte("blue")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.sync.Put("shape", []byte("round")); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*engineNode{a, b, c} {
		waitValue(t, n, "colour", "blue")
		waitValue(t, n, "shape", "round")
	}
	// Each push was acknowledged: a received b's push-ack for its event.
	waitFor(t, "push-acks", func() bool { return a.sync.Stats().ReceivedByType[replica.TypePushAck] >= 1 })
	if s := a.sync.Stats(); s.Rejected != 0 {
		t.Fatalf("a rejected %d events", s.Rejected)
	}

	late := newEngineNode(t, 4)
	meet(t, late, a)
	if err := late.sync.SyncNow(a.sync.ID()); err != nil {
		t.Fatal(err)
	}
	waitValue(t, late, "colour", "blue")
	waitValue(t, late, "shape", "round")
	st := late.n.t.Stats()[SyncProtocol]
	if st.MessagesSent < 2 || st.MessagesReceived < 2 {
		t.Fatalf("late node's digest sync traffic %+v: want root+exchange sent, digest+events received", st)
	}
	if s := late.sync.Stats(); s.Rejected != 0 || s.SyncRounds != 1 {
		t.Fatalf("late node stats %+v: want 1 sync round and no rejected events", s)
	}
}
