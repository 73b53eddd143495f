package replica

import "testing"

// TestSyncContinuesOnlyOnProgress: a truncated answer (More) to an open
// digest sync continues the chain only when it brought new events; a
// repeated answer (all duplicates, as when the peer serves from above its
// floor events we can only hold) ends it, where it used to start the same
// sync again every round trip. One sync per peer is open at a time.
func TestSyncContinuesOnlyOnProgress(t *testing.T) {
	tn, ids := newTestNet(t, 2, nil)
	a, b := ids[0], ids[1]
	tn.drop = func(Message) bool { return true }
	var evs []*Event
	for _, k := range []string{"x", "y", "z"} {
		ev, err := tn.engines[b].Put(k, []byte("1"))
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	tn.flush()
	tn.drop = nil
	ea := tn.engines[a]
	answer := func(evs []*Event) []Message {
		t.Helper()
		ea.startSync(b)
		ea.startSync(b) // a second one with the same peer is not opened
		var nonce uint64
		for n, st := range ea.syncs {
			if st.peer == b {
				nonce = n
			}
		}
		if len(ea.syncs) != 1 || nonce == 0 {
			t.Fatalf("%d syncs open, want one with b", len(ea.syncs))
		}
		tn.flush()
		tn.queue = nil // the SyncRoot is not delivered: b answers below
		if err := ea.Step(Message{From: b, To: a, Body: &SyncEvents{Nonce: nonce, Events: evs, More: true}}); err != nil {
			t.Fatal(err)
		}
		tn.flush()
		q := tn.queue
		tn.queue = nil
		return q
	}
	if got := countType(answer(evs[:2]), TypeSyncRoot); got != 1 {
		t.Fatalf("an answer with new events and More sent %d SyncRoots, want 1 (the next sync)", got)
	}
	for n := range ea.syncs {
		ea.endSync(n)
	}
	if got := countType(answer(evs[:2]), TypeSyncRoot); got != 0 {
		t.Fatalf("an answer of duplicates with More sent %d SyncRoots, want 0", got)
	}
}
