package replica

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the CPU per event since start to b's metrics.
func reportCPU(b *testing.B, start time.Duration, events int) {
	b.ReportMetric(float64((cpuTime(b)-start).Microseconds())/float64(events), "cpu-µs/event")
}

// BenchmarkNodeReceive: the receiver's write path in process: Pushes of
// 64 new events (Ed25519-signed, 100-byte values) stepped through
// Node.StepAll over a MemStore, while a reader calls Get every 100 µs. It
// reports wall time and CPU per event, and the Gets' latency, which is the
// time a commit group holds the engine lock.
func BenchmarkNodeReceive(b *testing.B) {
	origin := newTestSigner(1)
	const per = 64
	msgs := make([]Message, b.N)
	seq := uint64(0)
	for i := range msgs {
		evs := make([]*Event, per)
		for j := range evs {
			seq++
			evs[j] = signedEvent(origin, seq, OpPut, fmt.Sprintf("k%08d", seq), "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv", nil)
		}
		msgs[i] = Message{From: "relay", Body: &Push{Nonce: uint64(i + 1), Events: evs}}
	}
	n := newBenchNode(b)
	defer n.Close()
	stopReader := startReader(b, n)
	b.ResetTimer()
	start := cpuTime(b)
	for i := range msgs {
		for _, err := range n.StepAll(msgs[i : i+1]) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	reportCPU(b, start, b.N*per)
	stopReader()
}

// startReader calls n.Get every 100 µs until the returned function is
// called, which reports the Gets' latency p50 and p99 to b. A Get waits for
// the engine lock, so its latency shows how long commit groups hold it.
func startReader(b *testing.B, n *Node) func() {
	stop := make(chan struct{})
	var gets []time.Duration
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			t0 := time.Now()
			_, _ = n.Get("k00000001")
			gets = append(gets, time.Since(t0))
			time.Sleep(100 * time.Microsecond)
		}
	}()
	return func() {
		close(stop)
		wg.Wait()
		if len(gets) > 0 {
			slices.Sort(gets)
			b.ReportMetric(float64(gets[len(gets)/2].Microseconds()), "get-p50-µs")
			b.ReportMetric(float64(gets[len(gets)*99/100].Microseconds()), "get-p99-µs")
		}
	}
}

// BenchmarkNodeConcurrentPuts: the writer's path in process: 64 goroutines
// each doing Puts of 100-byte values through one Node over a MemStore
// (group commit, Ed25519 signing), while a reader calls Get every 100 µs.
// It reports wall time and CPU per write and the Gets' latency.
func BenchmarkNodeConcurrentPuts(b *testing.B) {
	n := newBenchNode(b)
	defer n.Close()
	value := make([]byte, 100)
	const writers = 64
	stopReader := startReader(b, n)
	b.ResetTimer()
	start := cpuTime(b)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < b.N; i += writers {
				if _, err := n.Put(fmt.Sprintf("k%08d", i), value); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	reportCPU(b, start, b.N)
	stopReader()
}

// newBenchNode returns a Node over a MemStore whose messages go nowhere.
func newBenchNode(b *testing.B) *Node {
	cfg := DefaultConfig()
	cfg.Signer, cfg.Verifier, cfg.Store = newTestSigner(7), testVerifier{}, NewMemStore()
	cfg.Rand = rand.New(rand.NewPCG(7, 7))
	n, err := NewNode(cfg, chanTransport{ch: make(chan Message, 1<<16)})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
