package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// cluster is a running system under test.
type cluster interface {
	// size is the number of nodes.
	size() int
	// write makes write i through node `via` and returns the origin (the
	// counter it raises) and a ticket: progress(j)[origin] reaching the
	// ticket means node j holds the write. A *busyError asks the writer to
	// try again later.
	write(ctx context.Context, via, i int, value []byte) (origin int, ticket uint64, err error)
	// progress returns how far node j has come, per origin.
	progress(ctx context.Context, j int) ([]uint64, error)
	// wireBytes is the bytes sent between nodes so far (all nodes).
	wireBytes(ctx context.Context) (uint64, error)
	// pids are the node processes, for CPU and memory.
	pids() []int
	// health reports peers connected (min over nodes) and peers banned
	// (sum), or -1 when the system does not tell.
	health(ctx context.Context) (peers, banned int)
	stop()
}

// batchWriter is a cluster that takes many writes in one request
// (murmur's POST /v1/kv): writes keys[j] for j in order and returns the
// origin and each write's ticket.
type batchWriter interface {
	writeMany(ctx context.Context, via int, keys []int, value []byte) (origin int, tickets []uint64, err error)
}

// busyError asks a writer to retry after a delay (429 or 503 with
// Retry-After).
type busyError struct{ after time.Duration }

func (e *busyError) Error() string { return fmt.Sprintf("busy, retry after %s", e.after) }

// bench is one load run's parameters.
type bench struct {
	writers, writes, size int
	batch                 int // writes per request (1: one each; more needs a batchWriter)
	rate                  float64
	spread                bool          // write through every node in turn, not only node 0
	keys                  int           // key space (0: a new key per write)
	rssEvery              time.Duration // print every node's RSS this often during the run (0: never)
	lagTimeout            time.Duration
}

// result is what one run measured.
type result struct {
	writesPerSec                 float64
	latP50, latP99               float64 // ms
	lagP50, lagP99, lagMax       float64 // ms
	retries, lost                int
	wirePerWrite                 float64
	cpuMax, cpuPerWriteMs, rssMB float64
	peers, banned                int
}

func (r result) print(system string, n int) {
	fmt.Printf("| %s | %d | %.0f | %.2f | %.2f | %.0f | %.0f | %.0f | %d | %d | %.0f | %.2f | %.3f | %.0f | %s | %s |\n",
		system, n, r.writesPerSec, r.latP50, r.latP99, r.lagP50, r.lagP99, r.lagMax, r.retries, r.lost,
		r.wirePerWrite, r.cpuMax, r.cpuPerWriteMs, r.rssMB, orDash(r.peers), orDash(r.banned))
}

func orDash(v int) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprint(v)
}

// ack is one acknowledged write.
type ack struct {
	origin int
	ticket uint64
	at     time.Time
}

// run drives the writers against c and measures.
func (b bench) run(c cluster) (result, error) {
	ctx := context.Background()
	n := c.size()
	wire0, err := c.wireBytes(ctx)
	if err != nil {
		return result{}, err
	}
	cpu0 := cpuSeconds(c.pids())

	// Pollers record, per node, when its progress first reached each value.
	type sample struct {
		at  time.Time
		val uint64
	}
	// samples[j][o]: node j's progress on origin o over time.
	samples := make([][][]sample, n)
	for j := range samples {
		samples[j] = make([][]sample, n)
	}
	var smu sync.Mutex
	pollCtx, stopPoll := context.WithCancel(ctx)
	var pwg sync.WaitGroup
	for j := 0; j < n; j++ {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for pollCtx.Err() == nil {
				vs, err := c.progress(pollCtx, j)
				now := time.Now()
				if err == nil {
					smu.Lock()
					for o, v := range vs {
						if s := samples[j][o]; len(s) == 0 || s[len(s)-1].val < v {
							samples[j][o] = append(samples[j][o], sample{now, v})
						}
					}
					smu.Unlock()
				}
				select {
				case <-pollCtx.Done():
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
	}

	acks := make([]ack, b.writes)
	lats := make([]float64, b.writes)
	var next atomic.Int64
	var retries atomic.Int64
	var firstErr error
	var emu sync.Mutex
	var wwg sync.WaitGroup
	value := make([]byte, b.size)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	start := time.Now()
	if b.rssEvery > 0 {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for {
				select {
				case <-pollCtx.Done():
					return
				case <-time.After(b.rssEvery):
				}
				var mb []string
				for _, pid := range c.pids() {
					mb = append(mb, fmt.Sprintf("%.0f", float64(currentRSS(pid))/(1<<20)))
				}
				fmt.Printf("  t=%4.0fs writes=%d RSS MB per node: %s\n", time.Since(start).Seconds(), min(int(next.Load()), b.writes), strings.Join(mb, " "))
			}
		}()
	}
	for w := 0; w < b.writers; w++ {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			per := max(b.batch, 1)
			for {
				i := int(next.Add(int64(per))) - per
				if i >= b.writes {
					return
				}
				end := min(i+per, b.writes)
				if b.rate > 0 {
					due := start.Add(time.Duration(float64(i) / b.rate * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
				}
				for {
					t0 := time.Now()
					via := 0
					if b.spread {
						via = i % n
					}
					keys := make([]int, 0, end-i)
					for j := i; j < end; j++ {
						k := j
						if b.keys > 0 {
							k = j % b.keys
						}
						keys = append(keys, k)
					}
					var origin int
					var tickets []uint64
					var err error
					if per == 1 {
						var t uint64
						origin, t, err = c.write(ctx, via, keys[0], value)
						tickets = []uint64{t}
					} else {
						origin, tickets, err = c.(batchWriter).writeMany(ctx, via, keys, value)
					}
					var busy *busyError
					if errors.As(err, &busy) {
						retries.Add(1)
						time.Sleep(busy.after)
						continue
					}
					if err == nil && len(tickets) != end-i {
						err = fmt.Errorf("%d acknowledgements for %d writes", len(tickets), end-i)
					}
					if err != nil {
						emu.Lock()
						if firstErr == nil {
							firstErr = fmt.Errorf("write %d: %w", i, err)
						}
						emu.Unlock()
						return
					}
					now := time.Now()
					for j := i; j < end; j++ {
						acks[j] = ack{origin, tickets[j-i], now}
						lats[j] = float64(now.Sub(t0).Microseconds()) / 1000
					}
					break
				}
			}
		}()
	}
	wwg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		stopPoll()
		pwg.Wait()
		return result{}, firstErr
	}

	// Wait until every node holds the highest ticket (or time out).
	top := make([]uint64, n)
	for _, a := range acks {
		top[a.origin] = max(top[a.origin], a.ticket)
	}
	deadline := time.Now().Add(b.lagTimeout)
	for time.Now().Before(deadline) {
		smu.Lock()
		done := true
		for j := 0; j < n; j++ {
			for o, t := range top {
				if s := samples[j][o]; t > 0 && (len(s) == 0 || s[len(s)-1].val < t) {
					done = false
				}
			}
		}
		smu.Unlock()
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopPoll()
	pwg.Wait()

	res := result{retries: int(retries.Load())}
	res.writesPerSec = float64(b.writes) / elapsed.Seconds()
	slices.Sort(lats)
	res.latP50, res.latP99 = quantile(lats, 0.5), quantile(lats, 0.99)
	var lags []float64
	for _, a := range acks {
		worst := 0.0
		missing := false
		for j := 0; j < n; j++ {
			s := samples[j][a.origin]
			k, _ := slices.BinarySearchFunc(s, a.ticket, func(x sample, t uint64) int {
				if x.val < t {
					return -1
				}
				return 1
			})
			if k == len(s) {
				missing = true
				break
			}
			worst = math.Max(worst, float64(s[k].at.Sub(a.at).Microseconds())/1000)
		}
		if missing {
			res.lost++
			continue
		}
		lags = append(lags, math.Max(worst, 0))
	}
	slices.Sort(lags)
	if len(lags) > 0 {
		res.lagP50, res.lagP99, res.lagMax = quantile(lags, 0.5), quantile(lags, 0.99), lags[len(lags)-1]
	}
	wire1, err := c.wireBytes(ctx)
	if err != nil {
		return result{}, err
	}
	res.wirePerWrite = float64(wire1-wire0) / float64(b.writes)
	cpu1 := cpuSeconds(c.pids())
	total := 0.0
	for i := range cpu1 {
		d := cpu1[i] - cpu0[i]
		total += d
		res.cpuMax = math.Max(res.cpuMax, d)
	}
	res.cpuPerWriteMs = total / float64(b.writes) * 1000
	for _, pid := range c.pids() {
		res.rssMB = math.Max(res.rssMB, float64(peakRSS(pid))/(1<<20))
	}
	res.peers, res.banned = c.health(ctx)
	return res, nil
}

// quantile of sorted xs.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return xs[min(len(xs)-1, int(q*float64(len(xs))))]
}
