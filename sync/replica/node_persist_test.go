package replica

import (
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// switchStore refuses every batch while full is set, like a full disk.
type switchStore struct {
	*MemStore
	full atomic.Bool
}

var errTestDiskFull = errors.New("disk full: 0 bytes free in /test")

func (s *switchStore) Apply(b *Batch) error {
	if s.full.Load() {
		return errTestDiskFull
	}
	return s.MemStore.Apply(b)
}

// collect is a transport that keeps what was sent.
type collect struct{ msgs []Message }

func (c *collect) Send(m Message) { c.msgs = append(c.msgs, m) }

func (c *collect) take() []Message { m := c.msgs; c.msgs = nil; return m }

func newPersistNode(t *testing.T, seed byte, store Store, tr Transport) *Node {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Signer, cfg.Verifier, cfg.Store = newTestSigner(seed), testVerifier{}, store
	cfg.Rand = rand.New(rand.NewPCG(uint64(seed), 2))
	n, err := NewNode(cfg, tr)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A batch the store refuses is a state, not the end of the node: the write
// fails with the store's error, nothing leaves the node (received events
// are not acknowledged), reads go on, and once the store takes batches
// again the node writes and accepts events as if the failure had not been.
func TestNodeRefusedBatchIsNotAcknowledgedAndRecovers(t *testing.T) {
	trA, trB := &collect{}, &collect{}
	storeB := &switchStore{MemStore: NewMemStore()}
	a := newPersistNode(t, 50, NewMemStore(), trA)
	b := newPersistNode(t, 51, storeB, trB)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.PeerUp(b.ID()))
	must(b.PeerUp(a.ID()))
	_, err := b.Put("before", []byte("1"))
	must(err)
	trB.take()

	storeB.full.Store(true)
	if _, err := b.Put("k", []byte("v")); !errors.Is(err, errTestDiskFull) {
		t.Fatalf("Put on a full store: %v, want the store's error", err)
	}
	if _, err := b.Get("k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused write is readable: %v", err)
	}
	if v, err := b.Get("before"); err != nil || string(v) != "1" {
		t.Fatalf("read on a full store: %q %v", v, err)
	}
	// An event pushed by a peer is not acknowledged while the store refuses it.
	_, err = a.Put("from-a", []byte("x"))
	must(err)
	pushes := trA.take()
	if len(pushes) == 0 {
		t.Fatal("a sent nothing for its write")
	}
	for _, m := range pushes {
		if m.To == b.ID() {
			_ = b.Step(m)
		}
	}
	if sent := trB.take(); len(sent) != 0 {
		t.Fatalf("b sent %d messages (%s first) for events it could not persist", len(sent), sent[0].Body.Type())
	}
	if len(b.Peers()) != 1 {
		t.Fatalf("b forgot its peers after a refused batch: %v", b.Peers())
	}

	storeB.full.Store(false) // space returns
	ev, err := b.Put("k", []byte("v"))
	must(err)
	if ev.Seq != 2 {
		t.Fatalf("the write after recovery has seq %d, want 2 (the refused one left no gap)", ev.Seq)
	}
	for _, m := range pushes { // the sender retries
		if m.To == b.ID() {
			must(b.Step(m))
		}
	}
	if v, err := b.Get("from-a"); err != nil || string(v) != "x" {
		t.Fatalf("b after recovery: from-a = %q, %v", v, err)
	}
	acked := false
	for _, m := range trB.take() {
		if m.To == a.ID() && m.Body.Type() == TypePushAck {
			acked = true
		}
	}
	if !acked {
		t.Fatal("b did not acknowledge the retried push after recovery")
	}
}
