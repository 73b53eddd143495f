// Command faults is murmur's fault suite against real daemon processes, in
// the spirit of Jepsen's nemeses: five daemons, each in its own network
// namespace on one bridge, take writes through their control APIs while the
// suite kills them with SIGKILL and restarts them, pauses one with SIGSTOP,
// partitions them with iptables (symmetric, one-way, a minority, long
// enough for the failure detector), jumps one's clock ahead and back
// (MURMUR_TEST_CLOCK_OFFSET_FILE), fills one's data dir (a small tmpfs),
// restarts on a full and on a read-only disk, and restarts one whose only
// bootstrap peer is gone. A checker records every acknowledged write; after
// each fault it reports acknowledged, lost and divergent writes and the time
// to converge, and fails if anything acknowledged was lost or the nodes
// disagree.
//
// It needs root (network namespaces, iptables, mount). make test-faults
// runs the short version (CI), make test-faults-long the long one.
package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	long := flag.Bool("long", false, "the long version: 60 kill cycles, partitions of 60 s and 130 s")
	bin := flag.String("bin", "bin/murmur", "the murmur binary")
	dir := flag.String("dir", "testnet/data-faults", "work directory (node data dirs and logs); emptied first")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "seed of the random choices (victims, pauses)")
	hold := flag.Duration("hold", 0, "on a failure, keep the cluster up this long for inspection before tearing it down")
	partFor := flag.Duration("partition-for", 0, "length of the partitions (default 15s, long 60s)")
	only := flag.String("only", "", "comma-separated scenarios to run (default all): kill9,pause,partition,oneway,isolate,clock,diskfull,nobootstrap")
	flag.Parse()
	if err := run0(*long, *bin, *dir, *seed, *only, *hold, *partFor); err != nil {
		fmt.Fprintf(os.Stderr, "faults: FAIL: %v\n", err)
		os.Exit(1)
	}
}

func run0(long bool, bin, dir string, seed uint64, only string, hold, partFor time.Duration) error {
	if os.Geteuid() != 0 {
		return errors.New("the fault suite needs root (network namespaces, iptables, tmpfs mounts)")
	}
	for _, tool := range []string{"ip", "iptables", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found (apt-get install iproute2 iptables)", tool)
		}
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	_ = exec.Command("umount", filepath.Join(dir, "node0")).Run() // a mount left by an interrupted run
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "node0"), 0o755); err != nil {
		return err
	}
	const nodes = 5
	c, err := newCluster(bin, dir, nodes)
	if err != nil {
		return err
	}
	defer c.close()
	s := &suite{c: c, long: long, rnd: rand.New(rand.NewPCG(seed, 14)), tmpfs: c.nodes[0].dataDir}
	// Node 0's data dir is a small tmpfs; below 16 MiB free it refuses writes.
	if err := run("mount", "-t", "tmpfs", "-o", "size=160m", "tmpfs", s.tmpfs); err != nil {
		return err
	}
	defer func() { _ = run("umount", s.tmpfs) }()
	c.nodes[0].env = []string{"MURMUR_STORE_MIN_FREE_MB=16"}
	for _, nd := range c.nodes {
		nd.env = append(nd.env, "MURMUR_TEST_CLOCK_OFFSET_FILE="+s.clockFile(nd))
	}

	say("faults: %d daemons in network namespaces on %s.0/24, seed %d, %s version; logs in %s",
		nodes, c.subnet, seed, map[bool]string{true: "long", false: "short"}[long], dir)
	began := time.Now()
	if err := c.startAll(); err != nil {
		return err
	}
	say("faults: cluster up in %s", time.Since(began).Round(100*time.Millisecond))

	cycles, pause, part, isolate, clock := 6, 6*time.Second, 15*time.Second, 0*time.Second, 5*time.Second
	if long {
		cycles, pause, part, isolate, clock = 60, 30*time.Second, 60*time.Second, 130*time.Second, 20*time.Second
	}
	if partFor > 0 {
		part = partFor
	}
	n := c.nodes
	scenarios := []struct {
		name string
		run  func() error
	}{
		{"kill9", func() error { return s.kill9(cycles) }},
		{"pause", func() error { return s.pause(pause) }},
		{"partition", func() error { return s.partition("partition", n[:2], n[2:], false, part) }},
		{"oneway", func() error { return s.partition("oneway", n[:1], n[1:], true, part) }},
		{"isolate", func() error {
			if isolate == 0 {
				return nil
			}
			return s.partition("isolate", n[4:], n[:4], false, isolate)
		}},
		{"clock", func() error { return s.clockJumps(clock) }},
		{"diskfull", s.diskFull},
		{"nobootstrap", s.noBootstrap},
	}
	var failed []string
	for _, sc := range scenarios {
		if only != "" && !strings.Contains(","+only+",", ","+sc.name+",") {
			continue
		}
		t0 := time.Now()
		if err := sc.run(); err != nil {
			say("FAIL %s: %v", sc.name, err)
			if hold > 0 {
				say("holding the cluster for %s (APIs on %s.1-%d:4180, token %s)", hold, c.subnet, len(c.nodes), apiToken)
				time.Sleep(hold)
			}
			failed = append(failed, sc.name)
			// Leave a whole cluster for the next scenario.
			_ = c.heal()
			for _, nd := range c.nodes {
				if !nd.running() {
					if _, err := s.restart(nd); err != nil {
						return fmt.Errorf("after %s failed: restart node %d: %w", sc.name, nd.i, err)
					}
				}
			}
			continue
		}
		say("ok %s (%s)", sc.name, time.Since(t0).Round(100*time.Millisecond))
	}
	fmt.Println()
	fmt.Printf("fault suite (%s, seed %d) in %s:\n", map[bool]string{true: "long", false: "short"}[long], seed, time.Since(began).Round(time.Second))
	for _, f := range s.figures {
		fmt.Println("  " + f)
	}
	if len(failed) > 0 {
		return fmt.Errorf("scenarios failed: %s (logs in %s)", strings.Join(failed, ", "), dir)
	}
	fmt.Println("PASS")
	return nil
}
