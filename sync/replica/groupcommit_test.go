package replica

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// gatedStore is a MemStore whose Apply can be held (to see what waits for
// it) and which records every batch applied.
type gatedStore struct {
	*MemStore
	gate    chan struct{} // when not nil, Apply waits for a receive
	mu      sync.Mutex
	applies int
	events  map[EventID]bool
}

func newGatedStore() *gatedStore {
	return &gatedStore{MemStore: NewMemStore(), events: map[EventID]bool{}}
}

func (s *gatedStore) Apply(b *Batch) error {
	if s.gate != nil {
		<-s.gate
	}
	if err := s.MemStore.Apply(b); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applies++
	for _, ev := range b.Events {
		s.events[ev.ID()] = true
	}
	return nil
}

func (s *gatedStore) durable(id EventID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events[id]
}

func newGroupNode(t *testing.T, st Store, opts ...NodeOption) *Node {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Signer, cfg.Verifier, cfg.Store = newTestSigner(7), testVerifier{}, st
	cfg.Rand = rand.New(rand.NewPCG(7, 7))
	n, err := NewNode(cfg, chanTransport{ch: make(chan Message, 16)}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// TestNodeGroupCommitSharesBatches holds the store while 64 writers write:
// the 63 that arrive while the first is being persisted must share batches
// (far fewer Applies than writes), and each write must be durable when its
// Put returns.
func TestNodeGroupCommitSharesBatches(t *testing.T) {
	st := newGatedStore()
	st.gate = make(chan struct{})
	n := newGroupNode(t, st)
	const writers = 64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev, err := n.Put(fmt.Sprintf("k%02d", w), []byte("v"))
			if err != nil {
				errs <- err
				return
			}
			if !st.durable(ev.ID()) {
				errs <- fmt.Errorf("put of k%02d returned before its event was durable", w)
			}
		}()
	}
	// The first write is being persisted (held); once every other one is
	// queued behind it, let the store go.
	waitUntil(t, func() bool {
		n.qmu.Lock()
		defer n.qmu.Unlock()
		return len(n.queue) == writers-1
	}, "writes not queued behind the held batch")
	close(st.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	groups, inputs := n.GroupStats()
	if inputs < writers {
		t.Fatalf("%d inputs committed, want at least %d", inputs, writers)
	}
	if st.applies >= writers/2 {
		t.Fatalf("%d store batches for %d concurrent writes (%d groups): writes do not share batches", st.applies, writers, groups)
	}
	for w := 0; w < writers; w++ {
		if v, err := n.Get(fmt.Sprintf("k%02d", w)); err != nil || string(v) != "v" {
			t.Fatalf("k%02d: %q, %v", w, v, err)
		}
	}
}

// TestNodeRefusesWritesOverQueueBound fills the write queue while the store
// is held: writes past the bound fail at once with ErrOverloaded instead of
// queueing without bound, and the queued ones all succeed once the store
// moves.
func TestNodeRefusesWritesOverQueueBound(t *testing.T) {
	st := newGatedStore()
	st.gate = make(chan struct{})
	n := newGroupNode(t, st, WithMaxQueuedWrites(4))
	results := make(chan error, 16)
	put := func(i int) {
		_, err := n.Put(fmt.Sprintf("k%d", i), []byte("v"))
		results <- err
	}
	// The first write is taken by the committer, which blocks in Apply.
	go put(0)
	waitUntil(t, func() bool { g, _ := n.GroupStats(); return g == 1 }, "first write not committing")
	for i := 1; i <= 4; i++ {
		go put(i)
	}
	waitUntil(t, func() bool { n.qmu.Lock(); defer n.qmu.Unlock(); return n.writes == 4 }, "four writes not queued")
	if _, err := n.Put("over", []byte("v")); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("write over the queue bound: %v, want ErrOverloaded", err)
	}
	close(st.gate)
	for i := 0; i < 5; i++ {
		if err := <-results; err != nil {
			t.Fatalf("queued write failed: %v", err)
		}
	}
}

// TestNodeCloseAnswersQueuedInputs closes a node while inputs wait for a
// held store: every caller returns (with an error), none hangs.
func TestNodeCloseAnswersQueuedInputs(t *testing.T) {
	st := newGatedStore()
	st.gate = make(chan struct{})
	n := newGroupNode(t, st)
	results := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			_, err := n.Put(fmt.Sprintf("k%d", i), []byte("v"))
			results <- err
		}()
	}
	waitUntil(t, func() bool { g, _ := n.GroupStats(); return g >= 1 }, "no write committing")
	go n.Close() // waits for the group in Apply
	close(st.gate)
	for i := 0; i < 8; i++ {
		select {
		case <-results:
		case <-time.After(30 * time.Second):
			t.Fatal("a queued write never returned after Close")
		}
	}
	if _, err := n.Put("late", []byte("v")); !errors.Is(err, ErrClosed) {
		t.Fatalf("put after close: %v, want ErrClosed", err)
	}
}

func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
		time.Sleep(time.Millisecond)
	}
}
