package replica

import (
	"errors"
	"testing"
)

// TestUnsolicitedCompactedCannotRaiseVector plays the attack of the
// security review: a peer sends an unsolicited SyncEvents with a Compacted
// vector, then answers the catch-up session it provoked with a made-up
// version vector. The victim must neither start that session nor adopt
// the vector.
func TestUnsolicitedCompactedCannotRaiseVector(t *testing.T) {
	tn, ids := newTestNet(t, 2, nil)
	a, b := ids[0], ids[1] // a attacks b
	if _, err := tn.engines[b].Put("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	tn.flush()
	tn.deliver()
	victim := PeerID("an honest origin of 32 bytes.....")
	forged := VersionVector{a: 1 << 40, b: 1 << 40, victim: 1 << 40}
	tn.drop = func(m Message) bool {
		if r, ok := m.Body.(*AEResponse); ok && m.From == a {
			r.VersionVector = forged.Clone() // a lies about its vector
		}
		return false
	}
	before := tn.engines[b].VersionVector()
	for _, nonce := range []uint64{0, 77} {
		err := tn.engines[b].Step(Message{From: a, To: b, Body: &SyncEvents{Nonce: nonce, Compacted: VersionVector{victim: 1 << 40}}})
		if err != nil {
			t.Fatal(err)
		}
		tn.flush()
		msgs := tn.deliver()
		if n := countType(msgs, TypeAERequest); n != 0 {
			t.Fatalf("unsolicited Compacted (nonce %d) started %d catch-up requests", nonce, n)
		}
	}
	after := tn.engines[b].VersionVector()
	for _, o := range []PeerID{a, b, victim} {
		if after[o] != before[o] {
			t.Fatalf("vector of %x changed from %d to %d", o[:4], before[o], after[o])
		}
	}
	if st := tn.engines[b].Stats(); st.CompactedIgnored != 2 || st.CatchUps != 0 {
		t.Fatalf("stats: ignored %d, catch-ups %d", st.CompactedIgnored, st.CatchUps)
	}
}

// TestRaiseToNeverRaisesOwnOrigin checks that a catch-up never moves the
// node's own sequence, and ignores entries above MaxSeq.
func TestRaiseToNeverRaisesOwnOrigin(t *testing.T) {
	tn, ids := newTestNet(t, 2, nil)
	a, b := ids[0], ids[1]
	e := tn.engines[b]
	e.raiseTo(VersionVector{b: 1000, a: 5})
	if vv := e.VersionVector(); vv[b] != 0 || vv[a] != 5 {
		t.Fatalf("after raise: own %d, other %d", vv[b], vv[a])
	}
	e.raiseTo(VersionVector{a: MaxSeq + 1})
	if vv := e.VersionVector(); vv[a] != 5 {
		t.Fatalf("raised above MaxSeq: %d", vv[a])
	}
	ev, err := e.Put("k", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Seq != 1 {
		t.Fatalf("own write got seq %d after a peer's catch-up vector", ev.Seq)
	}
}

// TestPeerVectorsAndEventsAboveMaxSeqAreRefused checks the overflow
// guard wherever a peer's vector or event seq comes in.
func TestPeerVectorsAndEventsAboveMaxSeqAreRefused(t *testing.T) {
	tn, ids := newTestNet(t, 2, nil)
	a, b := ids[0], ids[1]
	if err := checkVector(a, VersionVector{a: MaxSeq}); err != nil {
		t.Fatalf("MaxSeq refused: %v", err)
	}
	if err := checkVector(a, VersionVector{a: MaxSeq + 1}); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("vector above MaxSeq: %v", err)
	}
	huge := signedEvent(tn.signers[a], ^uint64(0), OpPut, "k", "v", nil)
	err := tn.engines[b].Step(Message{From: a, To: b, Body: &Push{Nonce: 1, Hops: 1, Events: []*Event{huge}}})
	if !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("event at max uint64: %v", err)
	}
	if st := tn.engines[b].Stats(); st.Buffered != 0 {
		t.Fatalf("event above MaxSeq was held")
	}
}
