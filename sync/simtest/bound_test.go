package simtest

import (
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// TestShortestPaths checks Dijkstra on a hand-made graph (delays in ms):
//
//	0-1: 10, 1-2: 10, 2-3: 10, 0-2: 25, 0-4: 30, 3-4: 5, 0-6: 40, 3-6: 10,
//	0-7: 1, 7-8: 1, 8-9: 48, 6-9: 10; node 5 has no links.
//
// From 0: 2 at 20 over 0-1-2 (not 25 direct), 4 at 30 direct (not 35 over
// 0-1-2-3-4), 6 at 40 both direct and over 0-1-2-3-6 (the tie counts the
// fewest hops, 1), and 9, the farthest, at 50 over 0-7-8-9 (found first),
// 0-6-9 and 0-1-2-3-6-9: 2 hops. Node 5 is unreachable.
func TestShortestPaths(t *testing.T) {
	ms := time.Millisecond
	w := map[[2]int]time.Duration{
		{0, 1}: 10 * ms, {1, 2}: 10 * ms, {2, 3}: 10 * ms, {0, 2}: 25 * ms,
		{0, 4}: 30 * ms, {3, 4}: 5 * ms,
		{0, 6}: 40 * ms, {3, 6}: 10 * ms,
		{0, 7}: 1 * ms, {7, 8}: 1 * ms, {8, 9}: 48 * ms, {6, 9}: 10 * ms,
	}
	adj := make([][]int, 10)
	for e := range w {
		adj[e[0]] = append(adj[e[0]], e[1])
		adj[e[1]] = append(adj[e[1]], e[0])
	}
	weight := func(a, b int) time.Duration {
		if a > b {
			a, b = b, a
		}
		return w[[2]int{a, b}]
	}
	p := ShortestPaths(adj, weight, 0)
	want := []struct {
		dist time.Duration
		hops int
	}{{0, 0}, {10 * ms, 1}, {20 * ms, 2}, {30 * ms, 3}, {30 * ms, 1}, {-1, 0}, {40 * ms, 1},
		{1 * ms, 1}, {2 * ms, 2}, {50 * ms, 2}}
	for i, x := range want {
		if p.Dist[i] != x.dist || (x.dist >= 0 && p.Hops[i] != x.hops) {
			t.Errorf("node %d: dist %v hops %d, want %v hops %d", i, p.Dist[i], p.Hops[i], x.dist, x.hops)
		}
	}
	if b := p.Farthest(); b != (Bound{Time: 50 * ms, Hops: 2, Node: 9, Reached: 9}) {
		t.Fatalf("bound %+v, want 50ms over 2 hops to node 9, 9 reached", b)
	}
	// From node 3 the farthest is node 8: 3-2-1-0-7-8 at 32 ms over 5 hops
	// (3-6-9-8 is 68).
	if b := ShortestPaths(adj, weight, 3).Farthest(); b.Time != 32*ms || b.Hops != 5 || b.Node != 8 {
		t.Fatalf("bound from 3: %+v, want node 8 at 32ms over 5 hops", b)
	}
}

// TestLinkLatency checks fixed link latencies: in range, the same both ways
// and in every simulation with the same seed, different with another seed.
func TestLinkLatency(t *testing.T) {
	mk := func(seed uint64) *Sim {
		s, err := New(Config{Nodes: 30, Seed: seed, View: 6, FixedLinkLatency: true,
			LatencyMin: 10 * time.Millisecond, LatencyMax: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b, c := mk(7), mk(7), mk(8)
	differ := 0
	for i := range 30 {
		for j := range 30 {
			d := a.LinkLatency(i, j)
			if d < 10*time.Millisecond || d > 50*time.Millisecond {
				t.Fatalf("link %d-%d: %v outside 10-50 ms", i, j, d)
			}
			if d != a.LinkLatency(j, i) || d != b.LinkLatency(i, j) {
				t.Fatalf("link %d-%d: %v, reversed %v, same seed %v", i, j, d, a.LinkLatency(j, i), b.LinkLatency(i, j))
			}
			if d != c.LinkLatency(i, j) {
				differ++
			}
		}
	}
	if differ < 800 {
		t.Fatalf("only %d of 900 links differ between seeds 7 and 8", differ)
	}
}

// TestDeliveryRespectsBound checks the bound is a lower bound: over fixed
// links, no node gets a write sooner than its shortest path from the origin,
// and the last node no sooner than EagerBound.
func TestDeliveryRespectsBound(t *testing.T) {
	for _, fixed := range []bool{true, false} {
		s, err := New(Config{Nodes: 200, Seed: 3, View: 8, FixedLinkLatency: fixed,
			LatencyMin: 10 * time.Millisecond, LatencyMax: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RunFor(100 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		const origin = 17
		var ev *replica.Event
		if err := s.Do(origin, func(e *replica.Engine) (err error) { ev, err = e.Put("k", []byte("v")); return err }); err != nil {
			t.Fatal(err)
		}
		s.Track(ev, origin)
		tr := s.Tracking(ev.ID())
		if ok, err := s.RunUntil(func() bool { return tr.Count == s.Len() }, time.Minute); err != nil || !ok {
			t.Fatalf("fixed %v: delivered to %d of %d (err %v)", fixed, tr.Count, s.Len(), err)
		}
		adj := make([][]int, s.Len())
		for i, n := range s.nodes {
			adj[i] = n.view
		}
		weight := func(a, b int) time.Duration { return 10 * time.Millisecond }
		if fixed {
			weight = s.LinkLatency
		}
		p := ShortestPaths(adj, weight, origin)
		var last time.Duration
		for i, at := range tr.At {
			got := at.Sub(tr.Created)
			last = max(last, got)
			if got < p.Dist[i] {
				t.Errorf("fixed %v: node %d got the write after %v, before its shortest path %v", fixed, i, got, p.Dist[i])
			}
		}
		b := s.EagerBound(origin)
		if b.Reached != s.Len() || last < b.Time || b.Time <= 0 || b.Hops < 2 {
			t.Fatalf("fixed %v: bound %+v, last delivery %v", fixed, b, last)
		}
	}
}

// TestSteadyOneWriteIsRunOne checks that one write of RunSteady is the
// one-write benchmark, number for number, so -writes 1 keeps the one-write
// table.
func TestSteadyOneWriteIsRunOne(t *testing.T) {
	bc := DefaultBench()
	for _, loss := range []float64{0, 0.2} {
		one, err := RunOne(100, loss, 2, bc)
		if err != nil {
			t.Fatal(err)
		}
		st, err := RunSteady(100, loss, 2, bc)
		if err != nil {
			t.Fatal(err)
		}
		w, c := st.Writes[0], st.Cold
		if len(st.Writes) != 1 || w.Origin != 0 || w.Complete != one.Complete || w.Time != one.Time ||
			c.Copies != one.Copies || c.PushCopies != one.PushCopies || c.PullCopies != one.PullCopies ||
			c.SyncCopies != one.SyncCopies || c.Messages != one.Messages || c.Bytes != one.Bytes {
			t.Fatalf("loss %v: RunSteady %+v %+v, RunOne %+v", loss, st.Writes, st.Cold, one)
		}
	}
}

// TestSteadySmall runs a few writes on a small network: every write reaches
// every node, no sooner than its bound, from origins that are replayed by
// the seed.
func TestSteadySmall(t *testing.T) {
	bc := DefaultBench()
	bc.Writes, bc.FixedLinks = 4, true
	a, err := RunSteady(100, 0.05, 1, bc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := RunSteady(100, 0.05, 1, bc)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Writes) != 4 || a.Warm.Writes != 3 || a.Cold.Writes != 1 {
		t.Fatalf("%d writes, cold %d, warm %d: want 4, 1, 3", len(a.Writes), a.Cold.Writes, a.Warm.Writes)
	}
	origins := map[int]bool{}
	for w, r := range a.Writes {
		if !r.Complete || r.Time < r.Bound.Time || r.Bound.Reached != 100 {
			t.Errorf("write %d: %+v", w, r)
		}
		if r != b.Writes[w] {
			t.Errorf("write %d not replayed: %+v then %+v", w, r, b.Writes[w])
		}
		origins[r.Origin] = true
	}
	if a.Cold != b.Cold || a.Warm != b.Warm {
		t.Errorf("traffic not replayed: %+v %+v then %+v %+v", a.Cold, a.Warm, b.Cold, b.Warm)
	}
	if len(origins) < 3 || a.Warm.Copies < 0.9 {
		t.Errorf("origins %v, warm copies per node per write %.2f", origins, a.Warm.Copies)
	}
}
