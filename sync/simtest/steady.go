package simtest

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// WriteResult is one write of a RunSteady run.
type WriteResult struct {
	// Origin is the node that wrote.
	Origin int
	// Complete reports 100% delivery within the deadline; Time is the
	// virtual time from the write to the last node receiving it.
	Complete bool
	Time     time.Duration
	// Bound is the write's eager-push lower bound (Sim.EagerBound).
	Bound Bound
}

// Window is the traffic received during a span of a run, per node and per
// write of the span: payload copies (split push / pull / digest sync),
// messages and bytes, all message kinds counted.
type Window struct {
	Writes                                     int
	Copies, PushCopies, PullCopies, SyncCopies float64
	Messages, Bytes                            float64
}

// SteadyResult is one run of RunSteady.
type SteadyResult struct {
	// Writes holds every write, the cold one first.
	Writes []WriteResult
	// Cold is the traffic from the first write to the second (to its full
	// delivery when it is the only write); Warm from the second write to
	// Spacing after the last one, or to the last full delivery if later.
	Cold, Warm Window
	// SetupHeap is the heap in use after setup, in bytes (only with
	// BenchConfig.Memory); Setup and Wall are the real time of the setup
	// and of the whole run.
	SetupHeap   uint64
	Setup, Wall time.Duration
}

// originStream is the PCG stream the write origins are drawn from (a stream
// of its own, so the network's draws are the same as with one write).
const originStream = 0x6f726967696e73

// RunSteady runs bc.Writes writes on one network: the first at node 0 (the
// cold write, exactly RunOne's), then one every bc.Spacing of virtual time
// from an origin drawn from the seed, and runs until every write reached
// every node (and Spacing after the last write) or bc.Deadline after the
// last write.
func RunSteady(nodes int, loss float64, seed uint64, bc BenchConfig) (SteadyResult, error) {
	start := time.Now()
	k := max(bc.Writes, 1)
	s, err := newBenchSim(nodes, loss, seed, bc)
	if err != nil {
		return SteadyResult{}, err
	}
	res := SteadyResult{Setup: time.Since(start)}
	if bc.Memory {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		res.SetupHeap = ms.HeapInuse
	}
	if bc.AfterSetup != nil {
		if err := bc.AfterSetup(nodes); err != nil {
			return SteadyResult{}, err
		}
	}
	origins := rand.New(rand.NewPCG(seed, originStream))
	first := s.Now()
	var marks []replica.Stats
	tracks := make([]*Tracking, k)
	for w := range k {
		origin := 0
		if w > 0 {
			origin = origins.IntN(nodes)
			if bc.Writers > 0 && bc.Writers < nodes {
				origin = origins.IntN(bc.Writers) * (nodes / bc.Writers)
			}
			if err := s.RunFor(first.Add(time.Duration(w) * bc.Spacing).Sub(s.Now())); err != nil {
				return SteadyResult{}, err
			}
		}
		if w <= 1 {
			marks = append(marks, s.totals())
		}
		key := "bench/key"
		if w > 0 {
			key = fmt.Sprintf("bench/key/%d", w)
		}
		var ev *replica.Event
		if err := s.Do(origin, func(e *replica.Engine) error {
			var err error
			ev, err = e.Put(key, benchPayload(seed, w, bc.PayloadSize))
			return err
		}); err != nil {
			return SteadyResult{}, fmt.Errorf("simtest: write %d at node %d: %w", w, origin, err)
		}
		s.Track(ev, origin)
		tracks[w] = s.Tracking(ev.ID())
		res.Writes = append(res.Writes, WriteResult{Origin: origin, Bound: s.EagerBound(origin)})
	}
	last := s.Now()
	done := func() bool {
		for _, tr := range tracks {
			if tr.Count < nodes {
				return false
			}
		}
		return true
	}
	cond := done
	if k > 1 {
		cond = func() bool { return !s.Now().Before(last.Add(bc.Spacing)) && done() }
	}
	if _, err := s.RunUntil(cond, bc.Deadline); err != nil {
		return SteadyResult{}, err
	}
	if s.Errors > 0 {
		return SteadyResult{}, fmt.Errorf("simtest: %d step errors, last %v", s.Errors, s.LastError)
	}
	end := s.totals()
	for w, tr := range tracks {
		r := &res.Writes[w]
		r.Complete = tr.Count == nodes
		for i := range tr.At {
			if !tr.At[i].IsZero() {
				r.Time = max(r.Time, tr.At[i].Sub(tr.Created))
			}
		}
	}
	if k == 1 {
		res.Cold = window(marks[0], end, nodes, 1)
	} else {
		res.Cold = window(marks[0], marks[1], nodes, 1)
		res.Warm = window(marks[1], end, nodes, k-1)
	}
	res.Wall = time.Since(start)
	return res, nil
}

// window is the traffic between two totals, per node and per write.
func window(a, b replica.Stats, nodes, writes int) Window {
	d := float64(nodes) * float64(writes)
	w := Window{
		Writes:     writes,
		Copies:     float64(b.PayloadsReceived-a.PayloadsReceived) / d,
		Messages:   float64(b.MessagesReceived-a.MessagesReceived) / d,
		Bytes:      float64(b.BytesReceived-a.BytesReceived) / d,
		PushCopies: float64(b.ReceivedByType[replica.TypePush]-a.ReceivedByType[replica.TypePush]) / d,
		PullCopies: float64(b.ReceivedByType[replica.TypePullResponse]-a.ReceivedByType[replica.TypePullResponse]) / d,
	}
	w.SyncCopies = w.Copies - w.PushCopies - w.PullCopies
	return w
}

// Aim is issue 11's latency aim for a write: its eager-push lower bound
// plus one round trip (rtt) per hop of the bound's path.
func (w WriteResult) Aim(rtt time.Duration) time.Duration {
	return w.Bound.Time + time.Duration(w.Bound.Hops)*rtt
}

// benchRTT is the mean round trip of a link: twice the mean one-way
// latency.
const benchRTT = benchLatencyMin + benchLatencyMax

// RunSteadyBench runs RunSteady for every size, loss and seed of bc and
// writes the table to w: for each, a row for the cold writes (one per seed)
// and one for the warm writes (the rest).
func RunSteadyBench(w io.Writer, bc BenchConfig) error {
	hops := "default"
	if bc.PushHops >= 0 {
		hops = fmt.Sprint(bc.PushHops)
	}
	lat, bound := "drawn per message", "10 ms (the per-link minimum) per hop"
	if bc.FixedLinks {
		lat, bound = "fixed per link (drawn from the seed)", "the links' latencies"
	}
	from := "all nodes"
	if bc.Writers > 0 {
		from = fmt.Sprintf("%d writer nodes", bc.Writers)
	}
	fmt.Fprintf(w, "%d writes of %d bytes per run, %v apart (the 1st at node 0: cold; the rest from seeded random origins among %s: warm), fanout %d, push hops %s, partial view %d, latency 10-50 ms uniform %s, tick 20 ms, sync_interval 1 s, %d seeds per row\n",
		max(bc.Writes, 1), bc.PayloadSize, bc.Spacing, from, bc.Fanout, hops, bc.View, lat, bc.Seeds)
	fmt.Fprintf(w, "bound: shortest path from the origin to the farthest node over the views, weighted by %s; aim: bound + hops x RTT, RTT %v\n\n", bound, benchRTT)
	fmt.Fprintln(w, "| N | loss | writes | delivered | time p50 | time p99 | bound p50 | bound p99 | hops p50/p99 | time/bound p50 | time/bound p99 | aim p99 | p99 <= aim | writes <= aim | payload copies/node | (push/pull/sync) | msgs/node/write | bytes/node/write | wall/run |")
	fmt.Fprintln(w, "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|")
	type memRow struct {
		nodes       int
		heap        uint64
		setup, wall time.Duration
	}
	var mem []memRow
	for _, nodes := range bc.Nodes {
		for _, loss := range bc.Loss {
			var cold, warm []WriteResult
			var coldW, warmW Window
			var wall time.Duration
			for seed := 1; seed <= bc.Seeds; seed++ {
				r, err := RunSteady(nodes, loss, uint64(seed), bc)
				if err != nil {
					return fmt.Errorf("run with %d nodes, loss %v, seed %d: %w", nodes, loss, seed, err)
				}
				cold = append(cold, r.Writes[0])
				warm = append(warm, r.Writes[1:]...)
				coldW = coldW.add(r.Cold)
				warmW = warmW.add(r.Warm)
				wall += r.Wall
				if bc.Memory {
					mem = append(mem, memRow{nodes, r.SetupHeap, r.Setup, r.Wall})
				}
			}
			wall /= time.Duration(bc.Seeds)
			steadyRow(w, nodes, loss, "cold", cold, coldW, wall)
			if len(warm) > 0 {
				steadyRow(w, nodes, loss, "warm", warm, warmW, wall)
			}
		}
	}
	if len(mem) > 0 {
		fmt.Fprintln(w, "\n| N | setup wall | heap in use after setup | per node | run wall |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|---:|")
		for _, m := range mem {
			fmt.Fprintf(w, "| %d | %v | %.1f MiB | %.1f KiB | %v |\n", m.nodes, m.setup.Round(time.Millisecond),
				float64(m.heap)/(1<<20), float64(m.heap)/float64(m.nodes)/1024, m.wall.Round(time.Millisecond))
		}
	}
	return nil
}

// add sums two windows weighted by their writes (an average per write).
func (a Window) add(b Window) Window {
	n := float64(a.Writes + b.Writes)
	if n == 0 {
		return a
	}
	wa, wb := float64(a.Writes)/n, float64(b.Writes)/n
	return Window{
		Writes:     a.Writes + b.Writes,
		Copies:     a.Copies*wa + b.Copies*wb,
		PushCopies: a.PushCopies*wa + b.PushCopies*wb,
		PullCopies: a.PullCopies*wa + b.PullCopies*wb,
		SyncCopies: a.SyncCopies*wa + b.SyncCopies*wb,
		Messages:   a.Messages*wa + b.Messages*wb,
		Bytes:      a.Bytes*wa + b.Bytes*wb,
	}
}

// steadyRow writes one row of the steady-state table.
func steadyRow(w io.Writer, nodes int, loss float64, kind string, ws []WriteResult, win Window, wall time.Duration) {
	var times, bounds, aims []time.Duration
	var hops []int
	var ratios []float64
	complete, within := 0, 0
	for _, r := range ws {
		if r.Complete {
			complete++
		}
		if r.Complete && r.Time <= r.Aim(benchRTT) {
			within++
		}
		times = append(times, r.Time)
		bounds = append(bounds, r.Bound.Time)
		aims = append(aims, r.Aim(benchRTT))
		hops = append(hops, r.Bound.Hops)
		if r.Bound.Time > 0 {
			ratios = append(ratios, float64(r.Time)/float64(r.Bound.Time))
		}
	}
	p99, aim := percentile(times, 99), percentile(aims, 99)
	ok := "no"
	if complete == len(ws) && p99 <= aim {
		ok = "yes"
	}
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	fmt.Fprintf(w, "| %d | %.0f%% | %s | %d/%d writes 100%% | %v | %v | %v | %v | %d/%d | %.2f | %.2f | %v | %s | %d/%d | %.2f | %.2f/%.2f/%.2f | %.1f | %.0f | %v |\n",
		nodes, loss*100, kind, complete, len(ws),
		ms(percentile(times, 50)), ms(p99), ms(percentile(bounds, 50)), ms(percentile(bounds, 99)),
		percentile(hops, 50), percentile(hops, 99), percentile(ratios, 50), percentile(ratios, 99),
		ms(aim), ok, within, len(ws),
		win.Copies, win.PushCopies, win.PullCopies, win.SyncCopies, win.Messages, win.Bytes, ms(wall))
}
