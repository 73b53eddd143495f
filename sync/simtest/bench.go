package simtest

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// BenchConfig describes the one-write dissemination benchmark of issue 3.
type BenchConfig struct {
	// Nodes, Loss and Seeds: one run per seed for each combination.
	Nodes []int
	Loss  []float64
	Seeds int
	// View is each node's partial view size.
	View int
	// Fanout is the engines' fanout.
	Fanout int
	// PayloadSize is the size of the written value in bytes.
	PayloadSize int
	// Deadline bounds each run in virtual time.
	Deadline time.Duration
	// PushHops overrides the engines' eager push hops when >= 0 (a large
	// value makes dissemination plain push gossip, for comparison).
	PushHops int
	// Writes is the number of writes per run (RunSteady): the first at
	// node 0 (the cold write, the one-write benchmark's), the others from
	// origins drawn from the seed, Spacing apart in virtual time so that
	// whatever the engines learn from one write (a push tree) can serve
	// the next. 1: the one-write benchmark (RunOne).
	Writes int
	// Spacing is the virtual time between writes.
	Spacing time.Duration
	// Writers, when positive, draws the warm writes' origins from that many
	// nodes (spread evenly over the node indexes) instead of from all, so
	// that each writer writes repeatedly: the many-writers steady state.
	Writers int
	// FixedLinks gives each link a fixed latency drawn from the seed
	// (Config.FixedLinkLatency) instead of a draw per message, so that the
	// eager-push lower bound is exact rather than hops x LatencyMin.
	FixedLinks bool
	// Memory measures the heap in use after setup (SteadyResult.SetupHeap),
	// at the cost of a full garbage collection per run.
	Memory bool
	// AfterSetup, if set, is called by RunSteady once the network is set
	// up, before the first write (to write a heap profile, say).
	AfterSetup func(nodes int) error
}

// DefaultBench is what `make bench-sim` runs.
func DefaultBench() BenchConfig {
	return BenchConfig{
		Nodes:       []int{100, 1000, 10000},
		Loss:        []float64{0, 0.05, 0.2},
		Seeds:       5,
		View:        20,
		Fanout:      3,
		PayloadSize: 1024,
		Deadline:    60 * time.Second,
		PushHops:    -1,
		Writes:      1,
		Spacing:     time.Second,
	}
}

// RunResult is one run of the benchmark.
type RunResult struct {
	// Complete reports 100% delivery within the deadline.
	Complete bool
	// Time is the virtual time from the write to the last node receiving it;
	// Rounds the largest message depth (sequential hops) of any delivery.
	Time   time.Duration
	Rounds int
	// Per node, averaged over all nodes: payload copies received, messages
	// and bytes received.
	Copies, Messages, Bytes float64
	// PushCopies, PullCopies, SyncCopies split Copies by message kind.
	PushCopies, PullCopies, SyncCopies float64
	// Wall is the real time the run took.
	Wall time.Duration
}

// RunOne runs the one-write benchmark for one network size, loss and seed.
func RunOne(nodes int, loss float64, seed uint64, bc BenchConfig) (RunResult, error) {
	start := time.Now()
	s, err := newBenchSim(nodes, loss, seed, bc)
	if err != nil {
		return RunResult{}, err
	}
	base := s.totals()
	payload := benchPayload(seed, 0, bc.PayloadSize)
	var ev *replica.Event
	if err := s.Do(0, func(e *replica.Engine) error {
		var err error
		ev, err = e.Put("bench/key", payload)
		return err
	}); err != nil {
		return RunResult{}, err
	}
	s.Track(ev, 0)
	tr := s.Tracking(ev.ID())
	done, err := s.RunUntil(func() bool { return tr.Count == nodes }, bc.Deadline)
	if err != nil {
		return RunResult{}, err
	}
	if s.Errors > 0 {
		return RunResult{}, fmt.Errorf("simtest: %d step errors, last %v", s.Errors, s.LastError)
	}
	res := RunResult{Complete: done, Wall: time.Since(start)}
	for i := range tr.At {
		if !tr.At[i].IsZero() {
			res.Time = max(res.Time, tr.At[i].Sub(tr.Created))
			res.Rounds = max(res.Rounds, tr.Depth[i])
		}
	}
	t := s.totals()
	n := float64(nodes)
	res.Copies = float64(t.PayloadsReceived-base.PayloadsReceived) / n
	res.Messages = float64(t.MessagesReceived-base.MessagesReceived) / n
	res.Bytes = float64(t.BytesReceived-base.BytesReceived) / n
	res.PushCopies = float64(t.ReceivedByType[replica.TypePush]-base.ReceivedByType[replica.TypePush]) / n
	res.PullCopies = float64(t.ReceivedByType[replica.TypePullResponse]-base.ReceivedByType[replica.TypePullResponse]) / n
	res.SyncCopies = res.Copies - res.PushCopies - res.PullCopies
	return res, nil
}

// newBenchSim builds the benchmark's network and lets the first ticks pass
// so every engine is running.
func newBenchSim(nodes int, loss float64, seed uint64, bc BenchConfig) (*Sim, error) {
	s, err := New(Config{
		Nodes: nodes, Seed: seed, View: bc.View, Loss: loss,
		LatencyMin: benchLatencyMin, LatencyMax: benchLatencyMax,
		FixedLinkLatency: bc.FixedLinks,
		TickInterval:     20 * time.Millisecond,
		Engine: func(c *replica.Config) {
			c.Fanout = bc.Fanout
			c.DedupCacheSize = 256
			if bc.PushHops >= 0 {
				c.PushHops = bc.PushHops
				c.MaxHops = max(c.MaxHops, bc.PushHops)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	if err := s.RunFor(100 * time.Millisecond); err != nil {
		return nil, err
	}
	return s, nil
}

// The benchmark's one-way latency range; a round trip averages their sum.
const (
	benchLatencyMin = 10 * time.Millisecond
	benchLatencyMax = 50 * time.Millisecond
)

// benchPayload is the value of write w of a run with this seed (write 0's
// is the one-write benchmark's).
func benchPayload(seed uint64, w, size int) []byte {
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(seed + uint64(i) + uint64(w))
	}
	return payload
}

// totals sums the statistics of every live node.
func (s *Sim) totals() replica.Stats {
	var t replica.Stats
	for _, n := range s.nodes {
		if n.eng == nil {
			continue
		}
		st := n.eng.Stats()
		t.PayloadsReceived += st.PayloadsReceived
		t.MessagesReceived += st.MessagesReceived
		t.BytesReceived += st.BytesReceived
		for i := range st.ReceivedByType {
			t.ReceivedByType[i] += st.ReceivedByType[i]
		}
	}
	return t
}

// RunBench runs the benchmark and writes the table to w.
func RunBench(w io.Writer, bc BenchConfig) error {
	hops := "default"
	if bc.PushHops >= 0 {
		hops = fmt.Sprint(bc.PushHops)
	}
	fmt.Fprintf(w, "one write of %d bytes, fanout %d, push hops %s, partial view %d, latency 10-50 ms uniform, tick 20 ms, sync_interval 1 s, %d seeds per row\n\n",
		bc.PayloadSize, bc.Fanout, hops, bc.View, bc.Seeds)
	fmt.Fprintln(w, "| N | loss | delivered | time p50 | time p99 | rounds p50 | rounds p99 | payload copies/node | (push/pull/sync) | msgs/node | bytes/node | wall/run |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|")
	for _, nodes := range bc.Nodes {
		for _, loss := range bc.Loss {
			var times []time.Duration
			var rounds []int
			var copies, push, pull, syn, msgs, bytes float64
			var wall time.Duration
			complete := 0
			for seed := 1; seed <= bc.Seeds; seed++ {
				r, err := RunOne(nodes, loss, uint64(seed), bc)
				if err != nil {
					return fmt.Errorf("run with %d nodes, loss %v, seed %d: %w", nodes, loss, seed, err)
				}
				if r.Complete {
					complete++
				}
				times = append(times, r.Time)
				rounds = append(rounds, r.Rounds)
				copies += r.Copies
				push += r.PushCopies
				pull += r.PullCopies
				syn += r.SyncCopies
				msgs += r.Messages
				bytes += r.Bytes
				wall += r.Wall
			}
			k := float64(bc.Seeds)
			fmt.Fprintf(w, "| %d | %.0f%% | %d/%d runs 100%% | %v | %v | %d | %d | %.2f | %.2f/%.2f/%.2f | %.1f | %.0f | %v |\n",
				nodes, loss*100, complete, bc.Seeds,
				percentile(times, 50).Round(time.Millisecond), percentile(times, 99).Round(time.Millisecond),
				percentile(rounds, 50), percentile(rounds, 99),
				copies/k, push/k, pull/k, syn/k, msgs/k, bytes/k, (wall / time.Duration(bc.Seeds)).Round(time.Millisecond))
		}
	}
	return nil
}

// percentile returns the nearest-rank percentile p of xs.
func percentile[T int | float64 | time.Duration](xs []T, p int) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := (p*len(s) + 99) / 100
	return s[max(i-1, 0)]
}
