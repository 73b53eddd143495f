package replica

import (
	"errors"
	"fmt"
	"testing"
)

// TestPutManyOneBatchEachItsOwnEvent: a PutMany of 50 pairs writes 50
// events with consecutive sequence numbers, in one store batch, and every
// one is durable when it returns.
func TestPutManyOneBatchEachItsOwnEvent(t *testing.T) {
	st := newGatedStore()
	n := newGroupNode(t, st)
	kvs := make([]KV, 50)
	for i := range kvs {
		kvs[i] = KV{Key: fmt.Sprintf("k%02d", i), Value: []byte(fmt.Sprint(i))}
	}
	evs, err := n.PutMany(kvs)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != len(kvs) {
		t.Fatalf("%d events for %d pairs", len(evs), len(kvs))
	}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) || ev.Key != kvs[i].Key || ev.Op != OpPut {
			t.Fatalf("event %d: %s %q seq %d, want put %q seq %d", i, ev.Op, ev.Key, ev.Seq, kvs[i].Key, i+1)
		}
		if err := ev.Verify(testVerifier{}); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !st.durable(ev.ID()) {
			t.Fatalf("event %d returned before it was durable", i)
		}
	}
	if st.applies != 1 {
		t.Fatalf("%d store batches for one PutMany, want 1", st.applies)
	}
	for _, kv := range kvs {
		if v, err := n.Get(kv.Key); err != nil || string(v) != string(kv.Value) {
			t.Fatalf("%s: %q, %v", kv.Key, v, err)
		}
	}
}

// TestPutManyRefusedPairStopsThere: a pair the engine refuses (an empty
// key) ends the call; the pairs before it are written and durable, the
// ones after it are not.
func TestPutManyRefusedPairStopsThere(t *testing.T) {
	st := newGatedStore()
	n := newGroupNode(t, st)
	evs, err := n.PutMany([]KV{{"a", []byte("1")}, {"b", []byte("2")}, {"", []byte("3")}, {"d", []byte("4")}})
	if !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("got %v, want ErrInvalidEvent", err)
	}
	if len(evs) != 2 {
		t.Fatalf("%d events returned, want the 2 before the refused pair", len(evs))
	}
	for _, ev := range evs {
		if !st.durable(ev.ID()) {
			t.Fatalf("%s returned but not durable", ev.Key)
		}
	}
	if _, err := n.Get("d"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pair after the refused one: %v, want ErrNotFound", err)
	}
}
