package simtest

import (
	"container/heap"
	"time"
)

// Paths are the shortest paths from one origin over a graph (ShortestPaths).
type Paths struct {
	// Dist is each node's shortest-path delay from the origin (-1:
	// unreachable); Hops the number of links on that path (among paths of
	// equal delay, the fewest).
	Dist []time.Duration
	Hops []int
}

// Bound is the eager-push lower bound of one write: no protocol can reach
// every node sooner than the shortest-path delay from the origin to the
// farthest node, since every copy travels over links of the overlay.
type Bound struct {
	// Time is the largest shortest-path delay from the origin; Hops the
	// links on that path; Node the node it reaches (the farthest node; among
	// equally far nodes, the one with the most hops, then the lowest index).
	Time time.Duration
	Hops int
	Node int
	// Reached is how many nodes (origin included) the origin can reach.
	Reached int
}

// ShortestPaths runs Dijkstra from origin over the graph whose node i links
// to adj[i], each link a->b costing weight(a, b) (non-negative).
func ShortestPaths(adj [][]int, weight func(a, b int) time.Duration, origin int) Paths {
	p := Paths{Dist: make([]time.Duration, len(adj)), Hops: make([]int, len(adj))}
	for i := range p.Dist {
		p.Dist[i] = -1
	}
	done := make([]bool, len(adj))
	p.Dist[origin] = 0
	q := &pathQueue{{node: origin}}
	for q.Len() > 0 {
		it := heap.Pop(q).(pathItem)
		if done[it.node] {
			continue
		}
		done[it.node] = true
		for _, b := range adj[it.node] {
			if done[b] {
				continue
			}
			d, h := it.dist+weight(it.node, b), it.hops+1
			if p.Dist[b] < 0 || d < p.Dist[b] || (d == p.Dist[b] && h < p.Hops[b]) {
				p.Dist[b], p.Hops[b] = d, h
				heap.Push(q, pathItem{dist: d, hops: h, node: b})
			}
		}
	}
	return p
}

// Farthest returns the bound the paths give: the farthest reachable node.
func (p Paths) Farthest() Bound {
	b := Bound{Node: -1}
	for i, d := range p.Dist {
		if d < 0 {
			continue
		}
		b.Reached++
		if b.Node < 0 || d > b.Time || (d == b.Time && p.Hops[i] > b.Hops) {
			b.Time, b.Hops, b.Node = d, p.Hops[i], i
		}
	}
	return b
}

// EagerBound returns the eager-push lower bound of a write at origin over
// the nodes' views: with Config.FixedLinkLatency each link costs its
// LinkLatency; otherwise latency is drawn per message and each link costs
// the smallest delay it can draw, LatencyMin. Partitions and crashes are
// not considered.
func (s *Sim) EagerBound(origin int) Bound {
	adj := make([][]int, len(s.nodes))
	for i, n := range s.nodes {
		adj[i] = n.view
	}
	weight := func(a, b int) time.Duration { return s.cfg.LatencyMin }
	if s.cfg.FixedLinkLatency {
		weight = s.LinkLatency
	}
	return ShortestPaths(adj, weight, origin).Farthest()
}

// pathItem is a tentative distance in Dijkstra's queue.
type pathItem struct {
	dist time.Duration
	hops int
	node int
}

// pathQueue orders pathItems by distance, then hops, then node.
type pathQueue []pathItem

func (q pathQueue) Len() int { return len(q) }
func (q pathQueue) Less(i, j int) bool {
	if q[i].dist != q[j].dist {
		return q[i].dist < q[j].dist
	}
	if q[i].hops != q[j].hops {
		return q[i].hops < q[j].hops
	}
	return q[i].node < q[j].node
}
func (q pathQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *pathQueue) Push(x any)   { *q = append(*q, x.(pathItem)) }
func (q *pathQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}
