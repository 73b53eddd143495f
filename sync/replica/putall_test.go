package replica

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// newPutEngine is an engine over a MemStore signing with s.
func newPutEngine(t *testing.T, s Signer) *Engine {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Signer, cfg.Verifier, cfg.Store = s, testVerifier{}, NewMemStore()
	cfg.Rand = rand.New(rand.NewPCG(1, 1))
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestPutAllSameEventsAsPuts: signing a batch in parallel gives exactly
// the events a loop of Puts gives (same sequence numbers, contexts,
// timestamps and signatures), also when a key comes back in the batch.
func TestPutAllSameEventsAsPuts(t *testing.T) {
	kvs := []KV{{"a", []byte("1")}, {"b", []byte("2")}, {"a", []byte("3")}, {"c", []byte("4")}, {"b", []byte("5")}, {"d", []byte("6")}}
	loop, batch := newPutEngine(t, newTestSigner(3)), newPutEngine(t, newTestSigner(3))
	var want []*Event
	for _, kv := range kvs {
		ev, err := loop.Put(kv.Key, kv.Value)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, ev)
	}
	got, errs := batch.putAll(kvs, false)
	for i := range kvs {
		if errs[i] != nil {
			t.Fatalf("pair %d: %v", i, errs[i])
		}
		if got[i].ID() != want[i].ID() || !bytes.Equal(got[i].Signature, want[i].Signature) {
			t.Fatalf("pair %d: batch event %s/%d %v differs from the loop's %s/%d %v", i, got[i].Key, got[i].Seq, got[i].Context, want[i].Key, want[i].Seq, want[i].Context)
		}
		if err := got[i].Verify(testVerifier{}); err != nil {
			t.Fatalf("pair %d: %v", i, err)
		}
	}
	if got[2].Context[got[0].Origin] != 1 {
		t.Fatalf("the second write of a does not supersede the first: context %v", got[2].Context)
	}
}

// refusingSigner fails to sign events of key "bad".
type refusingSigner struct{ *testSigner }

func (s refusingSigner) Sign(msg []byte) ([]byte, error) {
	if bytes.Contains(msg, []byte("\x03bad")) {
		return nil, errors.New("refusing to sign")
	}
	return s.testSigner.Sign(msg)
}

// TestPutAllRefusalLeavesNoGap: a pair refused while the batch is being
// validated, or after sequence numbers were handed out (its signature
// failed), costs only itself: the other pairs are written with
// consecutive sequence numbers and valid signatures. With stop, nothing
// after the refused pair is written.
func TestPutAllRefusalLeavesNoGap(t *testing.T) {
	e := newPutEngine(t, refusingSigner{newTestSigner(4)})
	kvs := []KV{{"a", []byte("1")}, {"", []byte("no key")}, {"b", []byte("2")}, {"bad", []byte("3")}, {"c", []byte("4")}, {"d", []byte("5")}}
	evs, errs := e.putAll(kvs, false)
	if !errors.Is(errs[1], ErrInvalidEvent) || errs[3] == nil {
		t.Fatalf("refusals: %v, %v", errs[1], errs[3])
	}
	seq := uint64(0)
	for i, ev := range evs {
		if i == 1 || i == 3 {
			if ev != nil {
				t.Fatalf("refused pair %d has an event", i)
			}
			continue
		}
		if errs[i] != nil {
			t.Fatalf("pair %d: %v", i, errs[i])
		}
		seq++
		if ev.Seq != seq || ev.Key != kvs[i].Key {
			t.Fatalf("pair %d: %q seq %d, want %q seq %d", i, ev.Key, ev.Seq, kvs[i].Key, seq)
		}
		if err := ev.Verify(testVerifier{}); err != nil {
			t.Fatalf("pair %d: %v", i, err)
		}
	}
	if got := e.VersionVector()[e.ID()]; got != seq {
		t.Fatalf("vector at %d after %d writes", got, seq)
	}

	e = newPutEngine(t, refusingSigner{newTestSigner(5)})
	evs, errs = e.putAll([]KV{{"a", []byte("1")}, {"bad", []byte("2")}, {"c", []byte("3")}}, true)
	if evs[0] == nil || errs[1] == nil || evs[2] != nil || errs[2] != nil {
		t.Fatalf("with stop: events %v, errors %v", evs, errs)
	}
	if _, err := e.Get("c"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pair after the refused one written: %v", err)
	}
}

// TestNodeConcurrentPutsOneRun: Puts queued behind a held batch are
// committed as one run (signed in parallel) and get distinct, consecutive
// sequence numbers with valid signatures.
func TestNodeConcurrentPutsOneRun(t *testing.T) {
	st := newGatedStore()
	st.gate = make(chan struct{})
	n := newGroupNode(t, st)
	const writers = 32
	evs := make([]*Event, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev, err := n.Put(fmt.Sprintf("k%02d", w%20), []byte(fmt.Sprint(w)))
			if err != nil {
				t.Error(err)
				return
			}
			evs[w] = ev
		}()
	}
	waitUntil(t, func() bool { n.qmu.Lock(); defer n.qmu.Unlock(); return len(n.queue) == writers-1 }, "puts not queued behind the held batch")
	close(st.gate)
	wg.Wait()
	seen := map[uint64]bool{}
	for w, ev := range evs {
		if ev == nil {
			t.Fatalf("writer %d: no event", w)
		}
		if seen[ev.Seq] || ev.Seq < 1 || ev.Seq > writers {
			t.Fatalf("writer %d: seq %d repeated or out of 1..%d", w, ev.Seq, writers)
		}
		seen[ev.Seq] = true
		if err := ev.Verify(testVerifier{}); err != nil {
			t.Fatalf("writer %d: %v", w, err)
		}
		if !st.durable(ev.ID()) {
			t.Fatalf("writer %d: returned before durable", w)
		}
	}
}
