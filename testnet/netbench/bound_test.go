package main

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestFarthestTakesTheFastestPathNotTheFewestHops(t *testing.T) {
	// 0-1 direct at 100 ms; 0-2-1 at 30+30 ms; 3 hangs off 1 at 10 ms.
	topo := topology{n: 4, links: []link{
		{a: 0, b: 1, latency: 100 * time.Millisecond},
		{a: 0, b: 2, latency: 30 * time.Millisecond},
		{a: 2, b: 1, latency: 30 * time.Millisecond},
		{a: 1, b: 3, latency: 10 * time.Millisecond},
	}}
	lat, hops, ok := topo.farthest(0)
	if !ok || lat != 70*time.Millisecond || hops != 2 {
		t.Fatalf("farthest(0) = %s, %d hops, reachable %v; want 70ms (0-2-1-3), 2 hops (0-1-3), true", lat, hops, ok)
	}
	lat, hops, ok = topo.farthest(3)
	if !ok || lat != 70*time.Millisecond || hops != 2 {
		t.Fatalf("farthest(3) = %s, %d hops, reachable %v; want 70ms, 2 hops, true", lat, hops, ok)
	}
}

func TestFarthestReportsUnreachableNodes(t *testing.T) {
	topo := topology{n: 3, links: []link{{a: 0, b: 1, latency: 5 * time.Millisecond}}}
	lat, hops, ok := topo.farthest(0)
	if ok || lat != 5*time.Millisecond || hops != 1 {
		t.Fatalf("farthest(0) = %s, %d hops, reachable %v; want 5ms over the reachable part, 1 hop, false", lat, hops, ok)
	}
	if b := lowerBound(topo, []int{0, 1, 2}); b.unreachable != 3 {
		t.Fatalf("lowerBound: %d unreachable writers, want 3", b.unreachable)
	}
}

func TestLowerBoundPercentilesOverWriters(t *testing.T) {
	// A path 0-1-2-3 of 10 ms links: from an end the farthest node is 30 ms
	// and 3 hops away, from an inner node 20 ms and 2 hops.
	topo := topology{n: 4}
	for i := range 3 {
		topo.links = append(topo.links, link{a: i, b: i + 1, latency: 10 * time.Millisecond})
	}
	b := lowerBound(topo, []int{1, 1, 1, 0})
	if b.p50 != 20*time.Millisecond || b.p99 != 30*time.Millisecond || b.hopsP50 != 2 || b.hopsP99 != 3 || b.unreachable != 0 {
		t.Fatalf("lowerBound = %+v; want p50 20ms, p99 30ms, hops 2/3, none unreachable", b)
	}
}

func TestDrawTopologyDependsOnTheSeedOnly(t *testing.T) {
	a := drawTopology(50, 8, true, rand.New(rand.NewPCG(1, 50)))
	b := drawTopology(50, 8, true, rand.New(rand.NewPCG(1, 50)))
	if len(a.links) != len(b.links) {
		t.Fatalf("same seed: %d and %d links", len(a.links), len(b.links))
	}
	degree := make([]int, a.n)
	for i, l := range a.links {
		if l != b.links[i] {
			t.Fatalf("same seed, link %d: %+v and %+v", i, l, b.links[i])
		}
		if l.a == l.b || l.latency < minLinkLatency || l.latency > maxLinkLatency {
			t.Fatalf("link %+v: want distinct ends and a latency in %s..%s", l, minLinkLatency, maxLinkLatency)
		}
		degree[l.a]++
	}
	for i, d := range degree {
		if d != 8 {
			t.Fatalf("node %d dialled %d links, want 8", i, d)
		}
	}
	if _, _, ok := a.farthest(0); !ok {
		t.Fatal("a degree-8 random graph of 50 nodes is not connected")
	}
	for _, l := range drawTopology(10, 3, false, rand.New(rand.NewPCG(1, 10))).links {
		if l.latency != 0 {
			t.Fatalf("loopback link %+v has a latency", l)
		}
	}
}
