package replica

import (
	"fmt"
	"testing"
	"time"
)

// This file holds the regression tests of issue 9: one dishonest member
// (a valid identity that signs or sends lies) must not be able to destroy
// anyone's data. Each test plays one case of the issue against engines.

// deliverAll is deliver that tolerates Step errors (a liar's messages are
// rejected, which is what the tests want), returning the messages.
func (tn *testNet) deliverAll() []Message {
	var all []Message
	for len(tn.queue) > 0 {
		q := tn.queue
		tn.queue = nil
		for _, m := range q {
			all = append(all, m)
			if e := tn.engines[m.To]; e != nil {
				_ = e.Step(m)
			}
		}
		tn.flush()
	}
	return all
}

// value reads key on node, "" when absent or deleted.
func value(e *Engine, key string) string {
	v, err := e.Get(key)
	if err != nil {
		return ""
	}
	return string(v)
}

// holdsValue reports whether one of key's versions on e has value v.
func holdsValue(e *Engine, key, v string) bool {
	ks, err := e.Versions(key)
	if err != nil {
		return false
	}
	for _, ver := range ks.Versions {
		if string(ver.Value) == v {
			return true
		}
	}
	return false
}

// TestInflatedContextCannotSquatKeys is case 1: a member signs a Put whose
// context claims seqs that were never written. Honest versions must stay,
// and honest writes to the key must still work, on every node.
func TestInflatedContextCannotSquatKeys(t *testing.T) {
	tn, ids := newTestNet(t, 3, nil)
	liar, b, c := ids[0], ids[1], ids[2]
	if _, err := tn.engines[b].Put("k", []byte("mine")); err != nil {
		t.Fatal(err)
	}
	tn.flush()
	tn.deliver()
	forged := signedEvent(tn.signers[liar], 1, OpPut, "k", "squat", VersionVector{b: 1 << 40, c: 1 << 40})
	for _, fresh := range []string{"k", "unwritten"} {
		ev := forged
		if fresh != "k" {
			ev = signedEvent(tn.signers[liar], 2, OpPut, fresh, "squat", VersionVector{b: 1 << 40, c: 1 << 40, liar: 1})
		}
		_ = tn.engines[b].Step(Message{From: liar, To: b, Body: &Push{Nonce: 99, Hops: 1, Events: []*Event{ev}}})
		tn.flush()
		tn.deliverAll()
	}
	for _, n := range []PeerID{b, c} {
		if !holdsValue(tn.engines[n], "k", "mine") {
			t.Fatalf("node %s lost the honest version of k to an inflated context", n)
		}
	}
	for i, n := range []PeerID{b, c} {
		for _, key := range []string{"k", "unwritten"} {
			v := fmt.Sprintf("honest-%d-%s", i, key)
			if _, err := tn.engines[n].Put(key, []byte(v)); err != nil {
				t.Fatalf("honest put of %q on %s after the inflated context: %v", key, n, err)
			}
			tn.flush()
			tn.deliverAll()
			for _, m := range []PeerID{b, c} {
				if !holdsValue(tn.engines[m], key, v) {
					t.Fatalf("honest write %q of %q from %s is not readable on %s", v, key, n, m)
				}
			}
		}
	}
}

// aeWithForgedVector runs an anti-entropy session from victim to liar in
// which the liar holds nothing and claims a vector covering everything.
func aeWithForgedVector(t *testing.T, snapshot bool) {
	tn, ids := newTestNet(t, 3, nil)
	liar, victim, other := ids[0], ids[1], ids[2]
	toLiar := func(m Message) bool { return m.To == liar }
	tn.drop = toLiar
	for i := 0; i < 20; i++ {
		if _, err := tn.engines[victim].Put(fmt.Sprintf("key-%02d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	tn.flush()
	tn.deliver()
	forged := VersionVector{victim: 1 << 40, other: 1 << 40, liar: 1 << 40}
	tn.drop = func(m Message) bool {
		switch b := m.Body.(type) {
		case *AEStates:
			if m.From == liar {
				b.VersionVector = forged.Clone()
				b.States = nil
			}
		case *SnapshotChunk:
			if m.From == liar {
				b.VersionVector = forged.Clone()
				b.States = nil
				b.Last = true
			}
		}
		return false
	}
	if snapshot {
		tn.engines[victim].startSnapshot(liar)
	} else {
		tn.engines[victim].startAE(liar, false)
	}
	tn.flush()
	tn.deliverAll()
	tn.drop = toLiar
	// The victim's next anti-entropy is with an honest node.
	tn.engines[other].startAE(victim, false)
	tn.flush()
	tn.deliverAll()
	for _, n := range []PeerID{victim, other} {
		for i := 0; i < 20; i++ {
			if k := fmt.Sprintf("key-%02d", i); value(tn.engines[n], k) != "v" {
				t.Fatalf("node %s lost %s after a forged vector (snapshot %v)", n, k, snapshot)
			}
		}
	}
	// Every key whose reads changed must have been reported (case 6):
	// nothing changed here, so nothing may have been removed silently.
}

// TestForgedAEVectorDeletesNothing is case 2 (anti-entropy).
func TestForgedAEVectorDeletesNothing(t *testing.T) { aeWithForgedVector(t, false) }

// TestForgedSnapshotDeletesNothing is case 2 (a one-chunk empty snapshot).
func TestForgedSnapshotDeletesNothing(t *testing.T) { aeWithForgedVector(t, true) }

// TestForgedCatchUpVectorRaisesNothing is case 3: a peer answers a digest
// sync with a false Compacted report and a matching catch-up vector.
func TestForgedCatchUpVectorRaisesNothing(t *testing.T) {
	tn, ids := newTestNet(t, 3, nil)
	liar, victim, honest := ids[0], ids[1], ids[2]
	if _, err := tn.engines[honest].Put("h", []byte("1")); err != nil {
		t.Fatal(err)
	}
	tn.flush()
	tn.deliver()
	// The liar holds an event the victim lacks, so the victim asks.
	tn.drop = func(m Message) bool { return m.From == liar }
	if _, err := tn.engines[liar].Put("l", []byte("1")); err != nil {
		t.Fatal(err)
	}
	tn.flush()
	tn.deliver()
	claim := VersionVector{honest: 1 << 40}
	tn.drop = func(m Message) bool {
		if m.From != liar {
			return false
		}
		switch b := m.Body.(type) {
		case *SyncEvents:
			b.Compacted = claim.Clone()
			b.Events = nil
		case *AEResponse:
			if b.VersionVector != nil {
				b.VersionVector = VersionVector{honest: 1 << 40, liar: 1}
			}
		case *AEStates:
			b.VersionVector = VersionVector{honest: 1 << 40, liar: 1}
		}
		return false
	}
	tn.engines[victim].SyncNow(liar)
	tn.flush()
	tn.deliverAll()
	if got := tn.engines[victim].VersionVector()[honest]; got >= 1<<40 {
		t.Fatalf("victim raised %s to %d on a peer's word", honest, got)
	}
	if f := tn.engines[victim].Floor()[honest]; f > 1 {
		t.Fatalf("victim raised its floor of %s to %d on a peer's word", honest, f)
	}
	tn.drop = nil
	if _, err := tn.engines[honest].Put("h2", []byte("2")); err != nil {
		t.Fatal(err)
	}
	tn.flush()
	tn.deliverAll()
	if value(tn.engines[victim], "h2") != "2" {
		t.Fatal("the honest origin's next write is not readable on the victim")
	}
	tn.engines[victim].startAE(honest, false)
	tn.flush()
	tn.deliverAll()
	if value(tn.engines[honest], "h") != "1" {
		t.Fatal("anti-entropy with the victim deleted the honest origin's own write")
	}
}

// TestLostStoreKeptIdentityDoesNotReuseSeqs is case 4: a node whose store
// is wiped but keeps its identity must not write under seqs it used.
func TestLostStoreKeptIdentityDoesNotReuseSeqs(t *testing.T) {
	tn, ids := newTestNet(t, 2, func(c *Config) { c.GCInterval = 0 })
	a, b := ids[0], ids[1]
	for i := 0; i < 3; i++ {
		if _, err := tn.engines[a].Put(fmt.Sprintf("old-%d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	tn.flush()
	tn.deliver()
	// a loses its store, keeps its identity, and restarts.
	tn.stores[a] = NewMemStore()
	tn.boot(a, 42, func(c *Config) { c.GCInterval = 0; c.ResumeIdentity = true })
	tn.engines[a].PeerUp(b)
	if _, err := tn.engines[a].Put("early", []byte("x")); err == nil {
		t.Fatal("a node with a wiped store wrote before learning its own sequence")
	}
	deadline := tn.now.Add(time.Minute)
	var ev *Event
	for ev == nil && tn.now.Before(deadline) {
		tn.tick(100 * time.Millisecond)
		if e, err := tn.engines[a].Put("new", []byte("after")); err == nil {
			ev = e
		}
	}
	if ev == nil {
		t.Fatal("the node never learned its own sequence from its peer")
	}
	if ev.Seq <= 3 {
		t.Fatalf("new write reuses seq %d", ev.Seq)
	}
	tn.flush()
	tn.deliver()
	if value(tn.engines[b], "new") != "after" {
		t.Fatal("the peer dropped the node's new write")
	}
}

// TestOriginFloodIsBounded is case 5: one peer relays events of thousands
// of throwaway origins. It may fill its own quota, not the node.
func TestOriginFloodIsBounded(t *testing.T) {
	tn, ids := newTestNet(t, 3, nil)
	flooder, b, c := ids[0], ids[1], ids[2]
	limit := DefaultConfig().MaxOriginsPerPeer
	var batch []*Event
	for i := 0; i < limit+200; i++ {
		s := newTestSignerN(i)
		batch = append(batch, signedEvent(s, 1, OpPut, fmt.Sprintf("junk-%d", i), "x", nil))
		if len(batch) == 100 {
			_ = tn.engines[b].Step(Message{From: flooder, To: b, Body: &SyncEvents{Events: batch}})
			batch = nil
		}
	}
	_ = tn.engines[b].Step(Message{From: flooder, To: b, Body: &SyncEvents{Events: batch}})
	tn.flush()
	tn.queue = nil
	if n := len(tn.engines[b].VersionVector()); n > limit+3 {
		t.Fatalf("one peer made the node track %d origins", n)
	}
	if _, err := tn.engines[c].Put("honest", []byte("1")); err != nil {
		t.Fatal(err)
	}
	tn.flush()
	tn.deliverAll()
	if value(tn.engines[b], "honest") != "1" {
		t.Fatal("an honest origin is refused after the flood")
	}
}

// newTestSignerN is a signer for flood origins, distinct for every n.
func newTestSignerN(n int) *testSigner {
	var s [32]byte
	s[0], s[1], s[2], s[3] = byte(n), byte(n>>8), 0xf1, 0x00
	return newTestSignerFromSeed(s)
}

// TestEmptyVectorDoesNotStallGC is case 6: a peer answering every digest
// sync with an empty vector must not stop garbage collection forever.
func TestEmptyVectorDoesNotStallGC(t *testing.T) {
	tune := func(c *Config) {
		c.GCInterval = 500 * time.Millisecond
		c.SyncInterval = 200 * time.Millisecond
	}
	tn, ids := newTestNet(t, 3, tune)
	liar, b, c := ids[0], ids[1], ids[2]
	tn.drop = func(m Message) bool {
		if d, ok := m.Body.(*SyncDigest); ok && m.From == liar {
			d.Match = false
			d.VersionVector = VersionVector{}
		}
		return false
	}
	for i := 0; i < 5; i++ {
		if _, err := tn.engines[c].Put("k", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		tn.flush()
		tn.deliverAll()
	}
	deadline := tn.now.Add(30 * time.Minute)
	for tn.engines[b].Floor()[c] == 0 && tn.now.Before(deadline) {
		tn.tick(time.Second)
	}
	if tn.engines[b].Floor()[c] == 0 {
		t.Fatal("a peer reporting an empty vector stopped garbage collection for 30 minutes")
	}
}

// TestPeerTableShrinks is case 6: the peer table must not grow with every
// sender forever.
func TestPeerTableShrinks(t *testing.T) {
	tn, ids := newTestNet(t, 2, nil)
	b := ids[1]
	for i := 0; i < 200; i++ {
		from := PeerID(fmt.Sprintf("throwaway-sender-%03d.............", i))
		_ = tn.engines[b].Step(Message{From: from, To: b, Body: &SyncRoot{Nonce: 1}})
	}
	tn.flush()
	tn.queue = nil
	for i := 0; i < 3000; i++ {
		tn.tick(time.Second)
	}
	if n := len(tn.engines[b].Peers()); n > 10 {
		t.Fatalf("peer table holds %d peers after the senders went silent for an hour", n)
	}
}

// TestLostStoreAfterGCRecoversFromHead is case 4 once peers have
// collected the node's old events: the head event each peer keeps is the
// evidence of its last seq.
func TestLostStoreAfterGCRecoversFromHead(t *testing.T) {
	tune := func(c *Config) {
		c.GCInterval = 500 * time.Millisecond
		c.SyncInterval = 200 * time.Millisecond
	}
	tn, ids := newTestNet(t, 3, tune)
	a, b := ids[0], ids[1]
	for i := 0; i < 5; i++ {
		if _, err := tn.engines[a].Put("k", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		tn.flush()
		tn.deliver()
	}
	// Another node overwrites the key: none of a's events is a version.
	if _, err := tn.engines[ids[2]].Put("k", []byte("theirs")); err != nil {
		t.Fatal(err)
	}
	tn.flush()
	tn.deliver()
	deadline := tn.now.Add(time.Minute)
	collected := func() bool { return tn.engines[b].Floor()[a] >= 4 && tn.engines[ids[2]].Floor()[a] >= 4 }
	for !collected() && tn.now.Before(deadline) {
		tn.tick(100 * time.Millisecond)
	}
	if !collected() {
		t.Fatalf("peers collected only up to %d and %d", tn.engines[b].Floor()[a], tn.engines[ids[2]].Floor()[a])
	}
	tn.stores[a] = NewMemStore()
	tn.boot(a, 43, func(c *Config) { tune(c); c.ResumeIdentity = true })
	for _, p := range ids {
		tn.engines[a].PeerUp(p)
	}
	var ev *Event
	for deadline = tn.now.Add(time.Minute); ev == nil && tn.now.Before(deadline); {
		tn.tick(100 * time.Millisecond)
		if e, err := tn.engines[a].Put("new", []byte("after")); err == nil {
			ev = e
		}
	}
	if ev == nil {
		t.Fatal("the node never recovered its sequence after its events were collected")
	}
	if ev.Seq != 6 {
		t.Fatalf("new write got seq %d, want 6", ev.Seq)
	}
	tn.flush()
	tn.deliver()
	if value(tn.engines[b], "new") != "after" {
		t.Fatal("the peer dropped the node's new write")
	}
}
