package replica

import (
	"fmt"
	"testing"
)

// payloadCopies sums the payloads every engine received.
func (tn *testNet) payloadCopies() uint64 {
	var n uint64
	for _, e := range tn.engines {
		n += e.Stats().PayloadsReceived
	}
	return n
}

// warmTree lets every node write rounds times, with ticks in between so
// that waiting pulls graft: the push tree forms.
func warmTree(t *testing.T, tn *testNet, ids []PeerID, rounds int) {
	t.Helper()
	for r := range rounds {
		for i, id := range ids {
			if _, err := tn.engines[id].Put(fmt.Sprintf("warm/%d/%d", r, i), []byte("v")); err != nil {
				t.Fatal(err)
			}
			tn.flush()
			tn.deliver()
			tn.tick(DefaultConfig().PullTimeout)
		}
	}
}

// deliveredBy returns how each node other than origin got the event of
// key, failing the test if one lacks it.
func deliveredBy(t *testing.T, tn *testNet, ids []PeerID, origin PeerID, key string) map[Delivery]int {
	t.Helper()
	by := map[Delivery]int{}
	for _, id := range ids {
		if id == origin {
			continue
		}
		found := false
		for _, c := range tn.changes[id] {
			if c.Kind == ChangeReceived && c.Key == key {
				by[c.Via]++
				found = true
			}
		}
		if !found {
			t.Fatalf("node %s lacks %s", id, key)
		}
	}
	return by
}

// Once the tree has formed, a write from any node reaches every other node
// exactly once, by push: the duplicate paths of the first writes were
// pruned and the tree spans the network.
func TestPushTreeOneCopyPerNode(t *testing.T) {
	const n = 9
	tn, ids := newTestNet(t, n, nil)
	warmTree(t, tn, ids, 3)
	for i, id := range ids {
		key := fmt.Sprintf("k%d", i)
		before := tn.payloadCopies()
		if _, err := tn.engines[id].Put(key, []byte("v")); err != nil {
			t.Fatal(err)
		}
		tn.flush()
		tn.deliver() // no tick: nothing may wait for a timer
		if got := tn.payloadCopies() - before; got != n-1 {
			t.Errorf("write from node %d: %d payload copies for %d receivers", i, got, n-1)
		}
		if by := deliveredBy(t, tn, ids, id, key); by[DeliveryPush] != n-1 {
			t.Errorf("write from node %d delivered by %v, want all %d by push", i, by, n-1)
		}
	}
	var grafts uint64
	for _, e := range tn.engines {
		grafts += e.Stats().Grafts
	}
	if grafts == 0 {
		t.Fatal("no grafts: the trees were never built")
	}
}

// A node whose pushes are lost hears the ID from lazy peers one timeout
// later and pulls it, which grafts it under a second parent; the next
// write reaches it twice, the slower parent prunes it, and writes reach
// every node once by push again.
func TestPushTreeGraftsAroundLostPush(t *testing.T) {
	const n = 9
	for _, victimIdx := range []int{1, n - 1} { // whichever is a leaf or a hub
		tn, ids := newTestNet(t, n, nil)
		warmTree(t, tn, ids, 3)
		origin, victim := ids[0], ids[victimIdx]
		tn.drop = func(m Message) bool { return m.To == victim && m.Body.Type() == TypePush }
		if _, err := tn.engines[origin].Put("lost", []byte("v")); err != nil {
			t.Fatal(err)
		}
		tn.flush()
		tn.deliver()
		tn.drop = nil
		if v, _ := tn.engines[victim].Get("lost"); v != nil {
			t.Fatal("the victim got the event although every push to it was dropped")
		}
		tn.tick(DefaultConfig().PullTimeout)
		if v, _ := tn.engines[victim].Get("lost"); string(v) != "v" {
			t.Fatal("the victim did not pull the event after the tree failed it")
		}
		healed := false
		for w := range 5 {
			key := fmt.Sprintf("next%d", w)
			before := tn.payloadCopies()
			if _, err := tn.engines[ids[w%n]].Put(key, []byte("v")); err != nil {
				t.Fatal(err)
			}
			tn.flush()
			tn.deliver()
			by := deliveredBy(t, tn, ids, ids[w%n], key)
			if tn.payloadCopies()-before == n-1 && by[DeliveryPush] == n-1 {
				healed = true
				break
			}
			tn.tick(DefaultConfig().PullTimeout)
		}
		if !healed {
			t.Fatalf("victim %d: five writes after the repair, writes still do not reach every node once by push", victimIdx)
		}
		var prunes uint64
		for _, e := range tn.engines {
			prunes += e.Stats().Prunes
		}
		if prunes == 0 {
			// The pull grafted the victim under a second parent; the next
			// write reached it twice, and the slower parent must have let go.
			t.Fatalf("victim %d: no prune after the repair", victimIdx)
		}
	}
}

// A hop count a peer sends is a claim: the largest uint32 must not wrap to
// 0 on the next hop and start the announcements' count over.
func TestPeerHopCountDoesNotWrap(t *testing.T) {
	tn, ids := newTestNet(t, 6, nil)
	liar, victim := ids[0], ids[1]
	ev := signedEvent(tn.signers[liar], 1, OpPut, "k", "v", nil)
	if err := tn.engines[victim].Step(Message{From: liar, To: victim, Body: &Push{Nonce: 1, Hops: ^uint32(0), Events: []*Event{ev}}}); err != nil {
		t.Fatal(err)
	}
	rd := tn.engines[victim].Ready()
	maxHops := uint32(DefaultConfig().MaxHops)
	for _, m := range rd.Messages {
		var h uint32
		switch b := m.Body.(type) {
		case *Push:
			h = b.Hops
		case *PullSync:
			h = b.Hops
		default:
			continue
		}
		if h < maxHops {
			t.Fatalf("%s to %s with hop count %d after a push claiming %d", m.Body.Type(), m.To, h, ^uint32(0))
		}
	}
}
