// Command sim runs the sync engine's one-write dissemination benchmark in the
// simulator (sync/simtest) and prints the table of issue 3: for each network
// size and loss rate, time and rounds to 100% delivery (p50, p99 over the
// seeds), payload copies, messages and bytes received per node.
//
//	go run ./testnet/sim -nodes 100,1000,10000 -loss 0,0.05,0.2 -seeds 5
//
// With -writes K > 1 (or -fixed-links, or -mem) it runs K writes per network
// instead, Spacing apart, and prints the steady-state table of issue 11: the
// cold (first) and the warm writes apart, each beside its eager-push lower
// bound (the shortest path over the overlay to the farthest node); -mem adds
// the heap in use per simulated node after setup and the peak RSS.
//
//	go run ./testnet/sim -writes 20 -fixed-links -nodes 1000 -seeds 3
//	go run ./testnet/sim -writes 5 -fixed-links -mem -nodes 100000 -loss 0 -seeds 1
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/murmur-p2p/murmur/sync/simtest"
)

func main() {
	bc := simtest.DefaultBench()
	nodes := flag.String("nodes", "100,1000,10000", "comma-separated network sizes")
	loss := flag.String("loss", "0,0.05,0.2", "comma-separated loss rates")
	flag.IntVar(&bc.Seeds, "seeds", bc.Seeds, "runs (seeds) per size and loss rate")
	flag.IntVar(&bc.View, "view", bc.View, "partial view size of each node")
	flag.IntVar(&bc.Fanout, "fanout", bc.Fanout, "push fanout")
	flag.IntVar(&bc.PayloadSize, "payload", bc.PayloadSize, "payload size in bytes")
	flag.IntVar(&bc.PushHops, "push-hops", bc.PushHops, "eager push hops (-1: engine default 1; 32: plain push gossip for comparison)")
	flag.DurationVar(&bc.Deadline, "deadline", bc.Deadline, "virtual time limit per run (after the last write)")
	flag.IntVar(&bc.Writes, "writes", bc.Writes, "writes per run: the first at node 0 (cold), the rest from seeded random origins (warm); 1: the one-write table")
	flag.DurationVar(&bc.Spacing, "spacing", bc.Spacing, "virtual time between writes")
	flag.IntVar(&bc.Writers, "writers", bc.Writers, "draw the warm writes from this many origins (0: from all nodes)")
	flag.BoolVar(&bc.FixedLinks, "fixed-links", bc.FixedLinks, "fix each link's latency (drawn from the seed) instead of drawing it per message; the bound is then exact")
	flag.BoolVar(&bc.Memory, "mem", bc.Memory, "print the heap in use per node after setup and the peak RSS")
	memprofile := flag.String("memprofile", "", "write a heap profile after each run's setup to this file (the last run's stays)")
	flag.Parse()
	if *memprofile != "" {
		bc.AfterSetup = func(int) error { return writeHeapProfile(*memprofile) }
	}
	var err error
	if bc.Nodes, err = parseList(*nodes, strconv.Atoi); err != nil {
		fail(fmt.Errorf("-nodes %q: %w", *nodes, err))
	}
	if bc.Loss, err = parseList(*loss, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }); err != nil {
		fail(fmt.Errorf("-loss %q: %w", *loss, err))
	}
	if bc.Writes < 1 || bc.Spacing <= 0 || bc.Seeds < 1 {
		fail(fmt.Errorf("-writes %d -spacing %v -seeds %d: need at least one write and one seed and a positive spacing", bc.Writes, bc.Spacing, bc.Seeds))
	}
	start := time.Now()
	run := simtest.RunBench
	if bc.Writes > 1 || bc.FixedLinks || bc.Memory || bc.AfterSetup != nil {
		run = simtest.RunSteadyBench
	}
	if err := run(os.Stdout, bc); err != nil {
		fail(err)
	}
	fmt.Printf("\ntotal wall time %v\n", time.Since(start).Round(time.Millisecond))
	if bc.Memory {
		hwm, err := peakRSS()
		if err != nil {
			fail(err)
		}
		fmt.Printf("peak RSS %.1f MiB\n", float64(hwm)/(1<<20))
	}
}

// writeHeapProfile writes the heap profile to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("heap profile %s: %w", path, err)
	}
	return f.Close()
}

// peakRSS returns the process's peak resident set size in bytes (VmHWM in
// /proc/self/status; Linux only).
func peakRSS() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("peak RSS: VmHWM %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("peak RSS: no VmHWM in /proc/self/status")
}

func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		v, err := parse(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sim:", err)
	os.Exit(1)
}
