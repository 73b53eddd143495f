package replica

import "testing"

// TestHeldEventsAreCappedPerOriginAndExpire plays a peer that sends its
// own events from seq 2 on and never seq 1: it may take only its origin's
// share of the out-of-order buffer, and that share is freed a few
// PullTimeouts later.
func TestHeldEventsAreCappedPerOriginAndExpire(t *testing.T) {
	tn, ids := newTestNet(t, 3, nil)
	a, b, c := ids[0], ids[1], ids[2] // a attacks b
	eb := tn.engines[b]
	perOrigin := eb.maxHeldPerOrigin()
	if perOrigin >= eb.cfg.MaxPendingEvents {
		t.Fatalf("per-origin cap %d does not bound the buffer of %d", perOrigin, eb.cfg.MaxPendingEvents)
	}
	sent := perOrigin + 40
	push := func(from PeerID, evs []*Event) {
		t.Helper()
		for len(evs) > 0 {
			n := min(len(evs), 50)
			if err := eb.Step(Message{From: from, To: b, Body: &Push{Nonce: 1, Hops: 1, Events: evs[:n]}}); err != nil {
				t.Fatal(err)
			}
			evs = evs[n:]
		}
		tn.flush()
		tn.queue = nil // gap requests go unanswered
	}
	var evs []*Event
	for s := 2; s < 2+sent; s++ {
		evs = append(evs, signedEvent(tn.signers[a], uint64(s), OpPut, "k", "x", nil))
	}
	push(a, evs)
	if st := eb.Stats(); st.Buffered != uint64(perOrigin) || st.Dropped != uint64(sent-perOrigin) {
		t.Fatalf("buffered %d, dropped %d; want %d, %d", st.Buffered, st.Dropped, perOrigin, sent-perOrigin)
	}
	// Another origin's out-of-order event still finds room.
	push(c, []*Event{signedEvent(tn.signers[c], 2, OpPut, "j", "y", nil)})
	if st := eb.Stats(); st.Buffered != uint64(perOrigin)+1 {
		t.Fatalf("honest origin's event not held: buffered %d", st.Buffered)
	}
	// Just before the expiry nothing goes; at it, everything held does.
	ttl := heldExpiryPullTimeouts * eb.cfg.PullTimeout
	tn.now = tn.now.Add(ttl - 1)
	eb.Tick(tn.now)
	if st := eb.Stats(); st.HeldExpired != 0 {
		t.Fatalf("expired %d before the deadline", st.HeldExpired)
	}
	tn.now = tn.now.Add(1)
	eb.Tick(tn.now)
	tn.flush()
	tn.queue = nil
	if st := eb.Stats(); st.HeldExpired != uint64(perOrigin)+1 || len(eb.heldIDs) != 0 || len(eb.held) != 0 {
		t.Fatalf("expired %d, still held %d", st.HeldExpired, len(eb.heldIDs))
	}
	// The freed events can arrive again, in order, and apply.
	push(a, []*Event{signedEvent(tn.signers[a], 1, OpPut, "k", "x", nil), evs[0]})
	if vv := eb.VersionVector(); vv[a] != 2 {
		t.Fatalf("vector of a after the expiry: %d", vv[a])
	}
}
