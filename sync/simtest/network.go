package simtest

import (
	"container/heap"
	"time"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// delivery is a message in flight.
type delivery struct {
	at    time.Time
	seq   uint64
	to    int
	msg   replica.Message
	depth int
	// events, when set, is a delivery of the external dissemination router
	// (Engine.Receive) relayed by msg.From; msg has no body then.
	events []*replica.Event
}

// flight is the queue of deliveries ordered by time, then send order.
type flight []*delivery

func (f flight) Len() int { return len(f) }
func (f flight) Less(i, j int) bool {
	if !f[i].at.Equal(f[j].at) {
		return f[i].at.Before(f[j].at)
	}
	return f[i].seq < f[j].seq
}
func (f flight) Swap(i, j int) { f[i], f[j] = f[j], f[i] }
func (f *flight) Push(x any)   { *f = append(*f, x.(*delivery)) }
func (f *flight) Pop() any {
	old := *f
	d := old[len(old)-1]
	old[len(old)-1] = nil
	*f = old[:len(old)-1]
	return d
}

// enqueue schedules a delivery.
func (s *Sim) enqueue(d *delivery) {
	s.sendSeq++
	d.seq = s.sendSeq
	heap.Push(&s.queue, d)
}

// reachable reports whether a message from a to b can pass the partition.
func (s *Sim) reachable(a, b int) bool {
	return s.group == nil || s.group[a] == s.group[b]
}

// latency returns the one-way delay of a message from node a to node b:
// drawn per message from the run's random stream, or, with
// Config.FixedLinkLatency, the fixed delay of the link (see LinkLatency).
func (s *Sim) latency(a, b int) time.Duration {
	lo, hi := s.cfg.LatencyMin, s.cfg.LatencyMax
	if hi <= lo {
		return lo
	}
	if s.cfg.FixedLinkLatency {
		return s.LinkLatency(a, b)
	}
	return lo + time.Duration(s.rnd.Int64N(int64(hi-lo)+1))
}

// LinkLatency is the fixed one-way delay of the link between nodes a and b
// under Config.FixedLinkLatency: uniform in [LatencyMin, LatencyMax], the
// same both ways, a pure function of the seed and the two nodes (it draws
// nothing from the run's random stream, so it is the same whichever message
// crosses the link first).
func (s *Sim) LinkLatency(a, b int) time.Duration {
	lo, hi := s.cfg.LatencyMin, s.cfg.LatencyMax
	if hi <= lo {
		return lo
	}
	if a > b {
		a, b = b, a
	}
	h := mix64(s.cfg.Seed ^ mix64(uint64(a)<<32|uint64(b)))
	return lo + time.Duration(h%uint64(hi-lo+1))
}

// mix64 is the SplitMix64 finalizer: a bijective mix of x's bits, so nearby
// inputs give unrelated outputs.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
