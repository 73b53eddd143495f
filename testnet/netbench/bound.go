package main

import (
	"math/rand/v2"
	"slices"
	"time"
)

// link is one connection of the topology, between nodes a and b, with its
// one-way latency (zero on loopback, where none is injected).
type link struct {
	a, b    int
	latency time.Duration
}

// topology is the graph a run connects: nodes 0..n-1 and their links.
type topology struct {
	n     int
	links []link
}

// minLinkLatency and maxLinkLatency bound the one-way latency drawn for
// each mocknet link: continental distances between data centres.
const (
	minLinkLatency = 30 * time.Millisecond
	maxLinkLatency = 70 * time.Millisecond
)

// drawTopology draws the links: each node dials degree random others
// (a pair is linked once), and with latency each link gets a one-way
// latency uniform in minLinkLatency..maxLinkLatency. The draws are made in
// order from rnd, so the topology depends on the seed only.
func drawTopology(n, degree int, latency bool, rnd *rand.Rand) topology {
	type pair struct{ a, b int }
	seen := map[pair]bool{}
	t := topology{n: n}
	for i := range n {
		for d, tries := 0, 0; d < degree && tries < 20*degree; tries++ {
			j := rnd.IntN(n)
			p := pair{min(i, j), max(i, j)}
			if i == j || seen[p] {
				continue
			}
			seen[p] = true
			d++
			l := link{a: i, b: j}
			if latency {
				l.latency = minLinkLatency + time.Duration(rnd.Int64N(int64(maxLinkLatency-minLinkLatency)+1))
			}
			t.links = append(t.links, l)
		}
	}
	return t
}

// farthest returns, from node src, the largest shortest-path latency to
// any other node (the sum of link latencies along the fastest path: no
// protocol can deliver a write made at src to every node sooner) and the
// largest number of hops to any node (breadth first). reachable is false
// when some node cannot be reached at all.
func (t topology) farthest(src int) (latency time.Duration, hops int, reachable bool) {
	adj := make([][]link, t.n)
	for _, l := range t.links {
		adj[l.a] = append(adj[l.a], l)
		adj[l.b] = append(adj[l.b], link{a: l.b, b: l.a, latency: l.latency})
	}
	// Dijkstra, O(n^2): n is a few hundred.
	const inf = time.Duration(1<<63 - 1)
	dist := make([]time.Duration, t.n)
	done := make([]bool, t.n)
	for i := range dist {
		dist[i] = inf
	}
	dist[src] = 0
	for range t.n {
		u := -1
		for i := range dist {
			if !done[i] && dist[i] != inf && (u < 0 || dist[i] < dist[u]) {
				u = i
			}
		}
		if u < 0 {
			break
		}
		done[u] = true
		for _, l := range adj[u] {
			if d := dist[u] + l.latency; d < dist[l.b] {
				dist[l.b] = d
			}
		}
	}
	// Breadth first for hops.
	depth := make([]int, t.n)
	for i := range depth {
		depth[i] = -1
	}
	depth[src] = 0
	queue := []int{src}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, l := range adj[u] {
			if depth[l.b] < 0 {
				depth[l.b] = depth[u] + 1
				queue = append(queue, l.b)
			}
		}
	}
	reachable = true
	for i := range t.n {
		if dist[i] == inf || depth[i] < 0 {
			reachable = false
			continue
		}
		latency = max(latency, dist[i])
		hops = max(hops, depth[i])
	}
	return latency, hops, reachable
}

// bound is the lower bound of a run's delivery times: per write, the
// farthest node's shortest-path latency and hop count from the writer.
type bound struct {
	p50, p99         time.Duration
	hopsP50, hopsP99 int
	// unreachable counts writes whose writer does not reach every node.
	unreachable int
}

// lowerBound computes the bound over the writers of a run's writes, with
// the same percentiles as the delivery times.
func lowerBound(t topology, writers []int) bound {
	var lats []time.Duration
	var hops []int
	var b bound
	for _, w := range writers {
		lat, h, ok := t.farthest(w)
		if !ok {
			b.unreachable++
		}
		lats = append(lats, lat)
		hops = append(hops, h)
	}
	b.p50, b.p99 = percentiles(lats)
	b.hopsP50, b.hopsP99 = percentiles(hops)
	return b
}

// percentiles returns the p50 and p99 of xs (sorting xs in place): the
// element at index len*50/100, and at len*99/100 capped at the last, so
// that p99 of 60 values is the largest. Zero values when xs is empty.
func percentiles[T int | time.Duration](xs []T) (p50, p99 T) {
	if len(xs) == 0 {
		return 0, 0
	}
	slices.Sort(xs)
	return xs[len(xs)*50/100], xs[min(len(xs)-1, len(xs)*99/100)]
}
