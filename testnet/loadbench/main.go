// Command loadbench measures murmur under write load with real daemons on
// loopback, and a 3-node etcd cluster under the same writers as the
// reference. For each cluster it starts the processes, runs W concurrent
// HTTP writers doing a fixed number of writes of fixed size against node 0,
// and prints acknowledged writes/s, write latency p50/p99, replication lag
// p50/p99/max (time from a write's acknowledgement until every node holds
// it), bytes sent between nodes per write, and CPU seconds and peak RSS per
// node. Peers connected and banned after the burst are printed for murmur,
// so a burst that partitions the network shows. A writer answered 429 or
// 503 waits for Retry-After and tries again (counted as retries). make
// bench-load runs it; docs/benchmarks.md records the table.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	nodes := flag.String("nodes", "3,5", "comma-separated murmur cluster sizes")
	writers := flag.Int("writers", 64, "concurrent HTTP writers")
	writes := flag.Int("writes", 10000, "writes per cluster")
	size := flag.Int("size", 100, "value size in bytes")
	rate := flag.Float64("rate", 0, "writes per second across all writers (0: as fast as acknowledged)")
	basePort := flag.Int("base-port", 5200, "first port; murmur node i uses base+i, etcd base+40..")
	bin := flag.String("murmur", "bin/murmur", "murmur binary")
	etcdBin := flag.String("etcd", "etcd", "etcd binary (Debian etcd-server); empty skips etcd")
	dir := flag.String("dir", "", "work directory (default: a temporary one, removed afterwards)")
	spread := flag.Bool("spread", false, "write through every node in turn (default: node 0 only)")
	duration := flag.Duration("duration", 0, "with -rate: run this long (sets -writes to rate x duration)")
	rssEvery := flag.Duration("rss-every", 0, "print every node's RSS this often during a run (0: never)")
	keys := flag.Int("keys", 0, "write over this many keys, round robin (0: a new key per write, so the state grows)")
	verbose := flag.Bool("v", false, "print each murmur node's engine counters after its run")
	batch := flag.Int("batch", 1, "murmur writes per request (POST /v1/kv, at most 1000; more than 1 needs -etcd '')")
	pprofDir := flag.String("pprof", "", "save a CPU profile of every murmur node, taken during the writes, in this directory (daemons run with MURMUR_PPROF=1)")
	pprofFor := flag.Duration("pprof-for", 15*time.Second, "with -pprof: how long each profile lasts (from the first write)")
	lagTimeout := flag.Duration("lag-timeout", 2*time.Minute, "how long to wait for every node to hold every acknowledged write")
	flag.Parse()

	if *duration > 0 {
		if *rate <= 0 {
			fail(fmt.Errorf("-duration needs -rate"))
		}
		*writes = int(*rate * duration.Seconds())
	}
	if *batch < 1 || *batch > 1000 {
		fail(fmt.Errorf("-batch %d: must be 1 to 1000", *batch))
	}
	if *batch > 1 && *etcdBin != "" {
		fail(fmt.Errorf("-batch %d: etcd has no batch of independent puts; run with -etcd ''", *batch))
	}
	work := *dir
	if work == "" {
		d, err := os.MkdirTemp("", "loadbench-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(d)
		work = d
	}
	bench := bench{writers: *writers, writes: *writes, size: *size, batch: *batch, rate: *rate, spread: *spread, keys: *keys, rssEvery: *rssEvery, lagTimeout: *lagTimeout}
	target := "node 0"
	if *spread {
		target = "every node in turn"
	}
	fmt.Printf("loadbench: %d writers, %d writes of %d bytes through %s, rate %s, %d per request\n", *writers, *writes, *size, target, rateString(*rate), *batch)
	fmt.Println("| system | nodes | writes/s | lat p50 ms | lat p99 ms | lag p50 ms | lag p99 ms | lag max ms | retries | lost | wire B/write | CPU s/node (max) | CPU ms/write | RSS MB/node (max) | peers after | banned |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	var murmurRate, etcdRate float64
	var murmurP99, etcdP99 float64
	for _, f := range strings.Split(*nodes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fail(fmt.Errorf("-nodes: bad size %q", f))
		}
		c, err := startMurmur(*bin, filepath.Join(work, fmt.Sprintf("murmur-%d", n)), n, *basePort, *pprofDir != "")
		if err != nil {
			fail(err)
		}
		profiled := make(chan struct{})
		if *pprofDir != "" {
			go func() { c.profile(*pprofDir, *pprofFor); close(profiled) }()
		} else {
			close(profiled)
		}
		res, err := bench.run(c)
		<-profiled
		if *verbose {
			c.counters(context.Background())
		}
		c.stop()
		if err != nil {
			fail(fmt.Errorf("murmur %d nodes: %w", n, err))
		}
		res.print("murmur", n)
		if n == 3 {
			murmurRate, murmurP99 = res.writesPerSec, res.latP99
		}
	}
	if *etcdBin != "" {
		c, err := startEtcd(*etcdBin, filepath.Join(work, "etcd"), 3, *basePort+40)
		if err != nil {
			fail(err)
		}
		res, err := bench.run(c)
		c.stop()
		if err != nil {
			fail(fmt.Errorf("etcd: %w", err))
		}
		res.print("etcd", 3)
		etcdRate, etcdP99 = res.writesPerSec, res.latP99
	}
	if murmurRate > 0 && etcdRate > 0 {
		fmt.Printf("\nratios (3 nodes, same run): murmur/etcd writes/s %.2fx; write latency p99 murmur/etcd %.2fx\n",
			murmurRate/etcdRate, murmurP99/etcdP99)
	}
}

func rateString(r float64) string {
	if r <= 0 {
		return "unpaced"
	}
	return fmt.Sprintf("%.0f/s", r)
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "loadbench: %v\n", err)
	os.Exit(1)
}
