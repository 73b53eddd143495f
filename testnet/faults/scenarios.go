package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// suite holds the cluster and the settings the scenarios share.
type suite struct {
	c    *cluster
	long bool
	rnd  *rand.Rand
	// tmpfs is node 0's data dir, a tmpfs mount of tmpfsSize.
	tmpfs string
	// figures collects the numbers reported at the end.
	figures []string
}

// say prints a line of what the suite does or found.
func say(format string, args ...any) {
	fmt.Printf("%s  %s\n", time.Now().Format("15:04:05.0"), fmt.Sprintf(format, args...))
}

// figure records a result line for the summary.
func (s *suite) figure(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	s.figures = append(s.figures, line)
	say("RESULT %s", line)
}

// others returns the nodes other than skip.
func (s *suite) others(skip ...*node) []*node {
	var out []*node
outer:
	for _, nd := range s.c.nodes {
		for _, k := range skip {
			if nd == k {
				continue outer
			}
		}
		out = append(out, nd)
	}
	return out
}

// bootAddrs returns the bootstrap addresses of nodes.
func bootAddrs(nodes []*node) []string {
	var out []string
	for _, nd := range nodes {
		if a := nd.bootAddr(); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// restart starts nd again with every other node as bootstrap peer.
func (s *suite) restart(nd *node) (time.Duration, error) {
	began := time.Now()
	err := nd.start(bootAddrs(s.others(nd)), 60*time.Second)
	return time.Since(began), err
}

func (s *suite) checkVerdict(name string, v verdict) error {
	if !v.ok || v.lost > 0 || v.divergent > 0 {
		return fmt.Errorf("%s: %s", name, v)
	}
	return nil
}

// kill9 kills a random node with SIGKILL under write load, cycles times,
// restarting it each time, and checks that every acknowledged write
// survives and all nodes converge.
func (s *suite) kill9(cycles int) error {
	say("kill9: %d cycles of SIGKILL + restart of a random node while every node takes writes", cycles)
	l := startLoad(s.c, "kill9", s.c.nodes, 10*time.Millisecond)
	missingAfterRestart := 0
	var restarts time.Duration
	for i := range cycles {
		time.Sleep(time.Duration(300+s.rnd.IntN(900)) * time.Millisecond)
		victim := pick(s.rnd, s.c.nodes)
		victim.kill()
		last := l.lastAckedBy(victim.i)
		took, err := s.restart(victim)
		if err != nil {
			l.halt()
			return fmt.Errorf("kill9 cycle %d: restart node %d: %w", i+1, victim.i, err)
		}
		restarts += took
		if last != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := victim.api().Get(ctx, last)
			cancel()
			if err != nil {
				missingAfterRestart++
				say("kill9 cycle %d: node %d lost its last acknowledged write %s: %v", i+1, victim.i, last, err)
			}
		}
		if (i+1)%10 == 0 || i+1 == cycles {
			say("kill9: %d/%d cycles, %d writes acknowledged so far", i+1, cycles, l.ackedCount())
		}
	}
	l.halt()
	stopped := time.Now()
	v := l.converge(stopped, 120*time.Second)
	s.figure("kill9: %d kill -9 cycles (mean restart-to-ready %s); %s after the writes stopped; "+
		"last acknowledged write missing right after restart: %d; writes refused %d, unanswered %d",
		cycles, (restarts / time.Duration(cycles)).Round(10*time.Millisecond), v, missingAfterRestart, l.refused.Load(), l.failed.Load())
	if missingAfterRestart > 0 {
		return fmt.Errorf("kill9: %d restarted nodes lacked their last acknowledged write", missingAfterRestart)
	}
	return s.checkVerdict("kill9", v)
}

// pause stops a node with SIGSTOP under load, resumes it, and checks
// convergence.
func (s *suite) pause(d time.Duration) error {
	victim := s.c.nodes[2]
	say("pause: SIGSTOP node %d for %s while every node takes writes", victim.i, d)
	l := startLoad(s.c, "pause", s.c.nodes, 20*time.Millisecond)
	time.Sleep(time.Second)
	if err := victim.signal(syscall.SIGSTOP); err != nil {
		l.halt()
		return err
	}
	time.Sleep(d)
	if err := victim.signal(syscall.SIGCONT); err != nil {
		l.halt()
		return err
	}
	resumed := time.Now()
	time.Sleep(time.Second)
	l.halt()
	v := l.converge(resumed, 60*time.Second)
	s.figure("pause: node %d stopped %s; %s after SIGCONT (writes unanswered while stopped: %d)", victim.i, d, v, l.failed.Load())
	return s.checkVerdict("pause", v)
}

// metric reads a gauge from a node's /metrics.
func metric(nd *node, name string) (float64, error) {
	req, err := http.NewRequest("GET", "http://"+nd.ip+":4180/metrics", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("%s not in /metrics", name)
}

// partition splits the nodes into left and right (both directions cut, or
// with oneWay only traffic into left's first node dropped) for d under
// load, with a concurrent write of one key on both sides; after the heal
// every node must hold every acknowledged write and the same siblings.
func (s *suite) partition(name string, left, right []*node, oneWay bool, d time.Duration) error {
	kind := "symmetric"
	if oneWay {
		kind = "one-way (into node " + strconv.Itoa(left[0].i) + ")"
	}
	say("%s: %s partition %v | %v for %s while every node takes writes", name, kind, ids(left), ids(right), d)
	l := startLoad(s.c, name, s.c.nodes, 20*time.Millisecond)
	time.Sleep(time.Second)
	before, _ := metric(left[0], "gossip_peers_connected")
	var err error
	if oneWay {
		for _, b := range right {
			if err = s.c.cut(left[0], b, true, false); err != nil {
				break
			}
		}
	} else {
		err = s.c.partition(left, right)
	}
	if err != nil {
		l.halt()
		return err
	}
	cutAt := time.Now()
	shared := name + "/shared"
	for _, side := range [][]*node{left, right} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, werr := side[0].api().Put(ctx, shared, []byte(fmt.Sprintf("from-node-%d", side[0].i)))
		cancel()
		if werr != nil {
			say("%s: concurrent write on node %d: %v", name, side[0].i, werr)
		}
	}
	// How long node left[0] keeps counting the peers it cannot reach.
	dropped := time.Duration(-1)
	for time.Since(cutAt) < d {
		if dropped < 0 {
			if v, err := metric(left[0], "gossip_peers_connected"); err == nil && v <= float64(len(left)-1) && !oneWay {
				dropped = time.Since(cutAt)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := s.c.heal(); err != nil {
		l.halt()
		return err
	}
	healed := time.Now()
	time.Sleep(time.Second)
	l.halt()
	v := l.converge(healed, 120*time.Second)
	// The concurrent writes are kept as the same siblings everywhere.
	sibs := map[string]bool{}
	for _, nd := range s.c.nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		e, err := nd.api().Get(ctx, shared)
		cancel()
		if err != nil {
			sibs["error: "+err.Error()] = true
			continue
		}
		var vs []string
		for _, ver := range e.Versions {
			vs = append(vs, ver.Value)
		}
		sibs[fmt.Sprint(vs)] = true
	}
	peersNote := ""
	if !oneWay {
		if dropped >= 0 {
			peersNote = fmt.Sprintf("; node %d's gossip_peers_connected fell from %.0f to the %d reachable after %s",
				left[0].i, before, len(left)-1, dropped.Round(100*time.Millisecond))
		} else {
			peersNote = fmt.Sprintf("; node %d's gossip_peers_connected never fell to %d during the partition", left[0].i, len(left)-1)
		}
	}
	s.figure("%s: %s partition for %s: %s after heal; shared key siblings on all nodes: %v%s",
		name, kind, d, v, sortedKeys(sibs), peersNote)
	if len(sibs) != 1 {
		return fmt.Errorf("%s: nodes disagree on the concurrently written key: %v", name, sortedKeys(sibs))
	}
	if !oneWay && dropped < 0 {
		return fmt.Errorf("%s: gossip_peers_connected kept counting unreachable peers", name)
	}
	return s.checkVerdict(name, v)
}

func ids(nodes []*node) []int {
	var out []int
	for _, nd := range nodes {
		out = append(out, nd.i)
	}
	return out
}

// fill writes a file in dir until the file system is full; it returns the
// file's path.
func fill(dir string) (string, error) {
	path := filepath.Join(dir, "FILLER")
	f, err := os.Create(path)
	if err != nil {
		return path, err
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			return path, err
		}
	}
	// Fill the last partial pages too.
	small := make([]byte, 4096)
	for {
		if _, err := f.Write(small); err != nil {
			break
		}
	}
	return path, nil
}

// freeBytes is the space available in dir.
func freeBytes(dir string) uint64 {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return 0
	}
	return st.Bavail * uint64(st.Bsize)
}

// cpuSeconds is the CPU time the process has used.
func cpuSeconds(pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(fields[11], 64)
	st, _ := strconv.ParseFloat(fields[12], 64)
	return (ut + st) / 100 // clock ticks; 100 on Linux
}

// diskFull fills node 0's tmpfs under load: its writes must be refused with
// 507 (CLI exit 1), it must stay up and serve reads without spinning a
// core, take writes again by itself once space returns, and converge.
// Then it checks SIGTERM on a full disk, a start on a full disk and a start
// on a read-only file system.
func (s *suite) diskFull() error {
	nd := s.c.nodes[0]
	say("diskfull: filling node %d's data dir (tmpfs %s) while every node takes writes", nd.i, s.tmpfs)
	l := startLoad(s.c, "diskfull", s.c.nodes, 20*time.Millisecond)
	time.Sleep(time.Second)
	pid := nd.cmd.Process.Pid
	cpu0, t0 := cpuSeconds(pid), time.Now()
	time.Sleep(3 * time.Second)
	cpuBefore := (cpuSeconds(pid) - cpu0) / time.Since(t0).Seconds()
	filler, err := fill(s.tmpfs)
	if err != nil {
		l.halt()
		return fmt.Errorf("fill %s: %w", s.tmpfs, err)
	}
	say("diskfull: %s full (%d bytes free)", s.tmpfs, freeBytes(s.tmpfs))
	var msg string
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := nd.api().Put(ctx, "diskfull/probe", []byte("x"))
		cancel()
		if err != nil && strings.Contains(err.Error(), "disk full: ") {
			msg = err.Error()
			break
		}
		if time.Now().After(deadline) {
			l.halt()
			return fmt.Errorf("diskfull: writes on a full disk not refused with disk full (last: %v); %s", err, nd.lastLog(3))
		}
		time.Sleep(100 * time.Millisecond)
	}
	say("diskfull: node %d answers: %s", nd.i, msg)
	cli := exec.Command(s.c.bin, "put", "--api", nd.ip+":4180", "diskfull/cli", "x")
	cli.Env = append(os.Environ(), "MURMUR_API_TOKEN="+apiToken)
	out, cliErr := cli.CombinedOutput()
	code := cli.ProcessState.ExitCode()
	say("diskfull: murmur put exits %d: %s", code, strings.TrimSpace(string(out)))
	if code != 1 || !strings.Contains(string(out), "disk full") {
		l.halt()
		return fmt.Errorf("diskfull: CLI put on a full disk: exit %d (%v) %q, want exit 1 saying disk full", code, cliErr, out)
	}
	cpu0, t0 = cpuSeconds(pid), time.Now()
	time.Sleep(3 * time.Second)
	cpu := (cpuSeconds(pid) - cpu0) / time.Since(t0).Seconds()
	if !nd.running() {
		l.halt()
		return fmt.Errorf("diskfull: node %d exited on a full disk; %s", nd.i, nd.lastLog(5))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_, getErr := nd.api().List(ctx, "diskfull/", 10)
	cancel()
	if getErr != nil {
		l.halt()
		return fmt.Errorf("diskfull: reads on a full disk: %w", getErr)
	}
	if err := os.Remove(filler); err != nil {
		l.halt()
		return err
	}
	freed := time.Now()
	var recovered time.Duration
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := nd.api().Put(ctx, "diskfull/after", []byte("x"))
		cancel()
		if err == nil {
			recovered = time.Since(freed)
			break
		}
		if time.Since(freed) > 30*time.Second {
			l.halt()
			return fmt.Errorf("diskfull: writes still refused 30s after space returned: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	l.halt()
	v := l.converge(freed, 120*time.Second)
	s.figure("diskfull: node %d on a full disk refused %d writes (507), stayed up serving reads at %.0f%% CPU (%.0f%% before, same load); "+
		"writes taken again %s after space returned; %s after space returned",
		nd.i, l.diskFull.Load(), cpu*100, cpuBefore*100, recovered.Round(10*time.Millisecond), v)
	if err := s.checkVerdict("diskfull", v); err != nil {
		return err
	}
	// A spinning retry loop takes a whole core (the daemon did before).
	if cpu > 0.9 {
		return fmt.Errorf("diskfull: node %d used %.0f%% CPU on a full disk", nd.i, cpu*100)
	}

	// SIGTERM on a full disk, then a start on a full disk.
	if filler, err = fill(s.tmpfs); err != nil {
		return err
	}
	took, err := nd.stop(20 * time.Second)
	if err != nil {
		return fmt.Errorf("diskfull: %w", err)
	}
	exitErr, stderr, startTook, err := nd.startExpectingFailure(20 * time.Second)
	if err != nil {
		return fmt.Errorf("diskfull: start on a full disk: %w", err)
	}
	first := firstErrorLine(stderr)
	s.figure("diskfull: SIGTERM on a full disk: exited in %s; start on a full disk: exited (%v) after %s with %q",
		took.Round(10*time.Millisecond), exitErr, startTook.Round(10*time.Millisecond), first)
	if exitErr == nil || !strings.Contains(first, "disk full") {
		return fmt.Errorf("diskfull: start on a full disk did not fail naming the cause: %v %q", exitErr, stderr)
	}
	if err := os.Remove(filler); err != nil {
		return err
	}

	// A start on a read-only file system names that first.
	if err := run("mount", "-o", "remount,ro", s.tmpfs); err != nil {
		return err
	}
	exitErr, stderr, startTook, err = nd.startExpectingFailure(20 * time.Second)
	_ = run("mount", "-o", "remount,rw", s.tmpfs)
	if err != nil {
		return fmt.Errorf("readonly: %w", err)
	}
	first = firstErrorLine(stderr)
	s.figure("readonly: start on a read-only data dir: exited (%v) after %s with %q", exitErr, startTook.Round(10*time.Millisecond), first)
	if exitErr == nil || !strings.Contains(first, "read-only file system") || strings.Contains(first, "in use by another") {
		return fmt.Errorf("readonly: start did not fail naming the read-only file system first: %q", stderr)
	}
	_, err = s.restart(nd)
	return err
}

// firstErrorLine is the daemon's error line ("murmur daemon: ...").
func firstErrorLine(stderr string) string {
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "murmur daemon: ") {
			return line
		}
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	return lines[len(lines)-1]
}

// noBootstrap kills a node, stops the node every other one bootstrapped
// from, and restarts the first with only that unreachable bootstrap peer:
// it must rejoin through the members it remembers.
func (s *suite) noBootstrap() error {
	boot, victim := s.c.nodes[0], s.c.nodes[len(s.c.nodes)-1]
	say("nobootstrap: SIGKILL node %d, SIGTERM node %d (the bootstrap peer), restart node %d with --bootstrap node %d only",
		victim.i, boot.i, victim.i, boot.i)
	// The peers file is written every 10 s: let a save happen.
	time.Sleep(11 * time.Second)
	victim.kill()
	if _, err := boot.stop(20 * time.Second); err != nil {
		return err
	}
	l := startLoad(s.c, "nobootstrap", s.others(boot, victim), 20*time.Millisecond)
	time.Sleep(2 * time.Second)
	began := time.Now()
	err := victim.start([]string{boot.bootAddr()}, 90*time.Second)
	if err != nil {
		l.halt()
		return fmt.Errorf("nobootstrap: restart with an unreachable bootstrap peer: %w", err)
	}
	ready := time.Since(began)
	time.Sleep(time.Second)
	l.halt()
	v := l.converge(began, 60*time.Second)
	s.figure("nobootstrap: restarted with its only bootstrap peer down: ready in %s; %s after the restart",
		ready.Round(10*time.Millisecond), v)
	if err := s.checkVerdict("nobootstrap", v); err != nil {
		return err
	}
	_, err = s.restart(boot)
	return err
}

// setClock sets node nd's clock offset (see MURMUR_TEST_CLOCK_OFFSET_FILE).
func (s *suite) setClock(nd *node, offset time.Duration) error {
	return os.WriteFile(s.clockFile(nd), []byte(offset.String()+"\n"), 0o644)
}

func (s *suite) clockFile(nd *node) string {
	return filepath.Join(s.c.dir, fmt.Sprintf("clock%d", nd.i))
}

// clockJumps moves node 1's clock 10 minutes ahead (past max_clock_skew)
// and then 10 minutes behind, under load. A write made after seeing the
// future-clocked one must win everywhere (causality, not the clock), and
// all nodes must converge.
func (s *suite) clockJumps(d time.Duration) error {
	jumper, other := s.c.nodes[1], s.c.nodes[3]
	say("clock: node %d's clock jumps +10m for %s, then -10m for %s, while every node takes writes", jumper.i, d, d)
	l := startLoad(s.c, "clock", s.c.nodes, 20*time.Millisecond)
	defer func() { _ = s.setClock(jumper, 0) }()
	if err := s.setClock(jumper, 10*time.Minute); err != nil {
		l.halt()
		return err
	}
	time.Sleep(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := jumper.api().Put(ctx, "clock/x", []byte("from-the-future")); err != nil {
		l.halt()
		return fmt.Errorf("clock: write on the node ahead: %w", err)
	}
	for {
		e, err := other.api().Get(ctx, "clock/x")
		if err == nil && e.Value == "from-the-future" {
			break
		}
		if ctx.Err() != nil {
			l.halt()
			return fmt.Errorf("clock: node %d never saw the write of the node ahead", other.i)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := other.api().Put(ctx, "clock/x", []byte("causally-later")); err != nil {
		l.halt()
		return err
	}
	time.Sleep(d)
	if err := s.setClock(jumper, -10*time.Minute); err != nil {
		l.halt()
		return err
	}
	time.Sleep(d)
	if err := s.setClock(jumper, 0); err != nil {
		l.halt()
		return err
	}
	reset := time.Now()
	time.Sleep(time.Second)
	l.halt()
	v := l.converge(reset, 60*time.Second)
	values := map[string]bool{}
	for _, nd := range s.c.nodes {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		e, err := nd.api().Get(ctx, "clock/x")
		cancel()
		if err != nil {
			values["error: "+err.Error()] = true
			continue
		}
		values[fmt.Sprintf("%s (versions %d)", e.Value, len(e.Versions))] = true
	}
	s.figure("clock: node %d +10m then -10m, %s each: %s after the clock was reset; a write made after seeing the future-clocked one reads everywhere as %v",
		jumper.i, d, v, sortedKeys(values))
	if len(values) != 1 || !values["causally-later (versions 1)"] {
		return fmt.Errorf("clock: the causally later write did not win everywhere: %v", sortedKeys(values))
	}
	return s.checkVerdict("clock", v)
}
