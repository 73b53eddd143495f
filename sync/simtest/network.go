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

// latency draws a one-way delay.
func (s *Sim) latency() time.Duration {
	lo, hi := s.cfg.LatencyMin, s.cfg.LatencyMax
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(s.rnd.Int64N(int64(hi-lo)+1))
}
