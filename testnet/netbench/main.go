// Command netbench compares murmur's two dissemination modes, pushpull and
// gossipsub, on real p2pnode nodes: N hosts are started and connected in a
// random graph (each node dials Degree random others), the same write
// schedule is run against each mode (same writers, same keys, same sizes),
// and it prints per setting and mode the delivery time to all nodes (p50,
// p99) beside a lower bound (the shortest-path latency from the writer to
// the farthest node), the CPU the process spent per write and per node per
// write, the payload copies received per node per write and the bytes sent
// per node per write (payload and control). Settings: "loopback-N" runs N
// real hosts on 127.0.0.1 (TCP, Noise, yamux); "mocknet-N" runs N
// in-process hosts on libp2p's mocknet with a per-link latency drawn
// uniformly from 30..70 ms and 1% of received messages dropped
// (p2pnode.WithReceiveLoss, both modes alike).
//
// The writes are paced so that the benchmark measures protocols, not CPU
// starvation: a few calibration writes measure a write's CPU cost above
// the nodes' idle load, the pause between writes gives the process at most
// -cores cores on average (half the machine by default), and the writer
// also holds back whenever the process's average since the first write is
// above that. Before writing, each run waits (up to -quiet-wait) until
// other processes use at most -quiet cores; rows whose process exceeded the
// target or whose threads waited for a CPU are marked. make bench-net runs
// it; docs/benchmarks.md records the tables.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	logging "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/murmur-p2p/murmur/p2pnode"
	"github.com/murmur-p2p/murmur/sync/replica"
)

func main() {
	settings := flag.String("settings", "loopback-10,loopback-50,mocknet-200", "comma-separated settings: loopback-N or mocknet-N")
	writes := flag.Int("writes", 60, "measured writes per setting and mode")
	every := flag.Duration("every", 25*time.Millisecond, "least pause between writes (the pace is the larger of this and the CPU-paced one)")
	cores := flag.Float64("cores", float64(runtime.NumCPU())/2, "average CPU cores the process may use while writing (default half the machine); 0 writes every -every without CPU pacing")
	quiet := flag.Float64("quiet", 0.5, "before writing, wait until other processes use at most this many cores (0: do not wait)")
	quietWait := flag.Duration("quiet-wait", 3*time.Minute, "the longest wait for -quiet, per setting and mode; then the run goes ahead and is marked")
	calibrate := flag.Int("calibrate", 3, "writes, one at a time after one uncounted write, that measure the CPU cost of a write before the measured ones")
	modes := flag.String("modes", p2pnode.DisseminationPushPull+","+p2pnode.DisseminationGossipSub, "comma-separated dissemination modes to run")
	degree := flag.Int("degree", 8, "connections each node dials")
	seed := flag.Uint64("seed", 1, "seed of the topology, latencies and write schedule")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *writes < 1 || *calibrate < 0 || *cores < 0 || *every < 0 {
		fmt.Fprintln(os.Stderr, "netbench: -writes must be at least 1; -calibrate, -cores and -every not negative")
		os.Exit(2)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "netbench: %v\n", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "netbench: %v\n", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	logging.SetAllLoggers(logging.LevelError)
	fmt.Printf("netbench: %d writes per setting and mode, paced to at most %.2f cores of %d (pause at least %s), degree %d, seed %d\n\n",
		*writes, *cores, runtime.NumCPU(), *every, *degree, *seed)
	fmt.Println(resultHeader)
	var paths []string
	overloaded := false
	for _, s := range strings.Split(*settings, ",") {
		s = strings.TrimSpace(s)
		kind, num, ok := strings.Cut(s, "-")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 2 || (kind != "loopback" && kind != "mocknet") {
			fmt.Fprintf(os.Stderr, "netbench: bad setting %q: want loopback-N or mocknet-N\n", s)
			os.Exit(2)
		}
		for _, mode := range strings.Split(*modes, ",") {
			start := time.Now()
			r, err := run(setting{name: s, mocknet: kind == "mocknet", nodes: n, mode: mode, writes: *writes, every: *every,
				cores: *cores, quiet: *quiet, quietWait: *quietWait, calibrate: *calibrate, degree: *degree, seed: *seed})
			if err != nil {
				fmt.Fprintf(os.Stderr, "netbench: %s %s: %v\n", s, mode, err)
				pprof.StopCPUProfile()
				os.Exit(1)
			}
			progress("%s %s took %s", s, mode, time.Since(start).Round(time.Second))
			fmt.Println(r.row(s, mode, *writes, n))
			paths = append(paths, r.paths.row(s, mode))
			overloaded = overloaded || r.overloaded()
		}
	}
	fmt.Println()
	fmt.Println(pathsHeader)
	for _, p := range paths {
		fmt.Println(p)
	}
	fmt.Println()
	fmt.Println(legend)
	if overloaded {
		fmt.Println("\nWARNING: in a row marked ! the process averaged more than its target while writing, its threads waited for a CPU (other processes or its own load), or its idle load alone was near the target: its latencies include CPU queueing, not only the protocol.")
	}
}

// progress reports a run's phase on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "netbench: "+format+"\n", args...)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// setting is one run.
type setting struct {
	name          string
	mocknet       bool
	nodes, writes int
	mode          string
	every         time.Duration
	cores         float64
	quiet         float64
	quietWait     time.Duration
	calibrate     int
	degree        int
	seed          uint64
}

// result is what a run measured.
type result struct {
	delivered                          int
	p50, p99                           time.Duration
	copies, payloadBytes, controlBytes float64
	paths                              pathStats
	bound                              bound
	// pause is the mean pause between the measured writes (the
	// calibration chose the first; see run); calibOverloaded says the
	// idle load alone was near the target.
	pause           time.Duration
	calibOverloaded bool
	// idleCores is the process's load before any write; writeCores its
	// average from the first write until every write was delivered.
	idleCores, writeCores float64
	// target is the cores the writes were paced to (effectiveTarget).
	target float64
	// othersCores is the rest of the machine's load and waitCores the
	// mean number of the process's threads waiting for a CPU, over the
	// same span as writeCores.
	othersCores, waitCores float64
	// cpuPerWrite is the process's CPU from the first write until the end
	// of the settling time after the last delivery, less the idle load
	// over that time, per write.
	cpuPerWrite time.Duration
}

// resultHeader heads the results table (result.row).
const resultHeader = "| setting | mode | delivered | p50 ms | p99 ms | bound p50/p99 ms | hops p50/p99 | pause ms | cores writing: process/target/others/waiting | idle cores | CPU ms/write | CPU µs/node/write | copies/node/write | payload B/node/write | control B/node/write |\n" +
	"| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"

// legend explains the columns of both tables.
const legend = `Columns: p50/p99 = time from the Put until the last node received the write, over the delivered writes.
bound = lower bound: per write, the shortest-path latency (sum of one-way link latencies) from the
writer to the farthest node over the topology's links, p50/p99 over the same writes (0 on loopback,
where no latency is injected); hops = the same for the hop count (breadth first).
pause = mean pause between writes: CPU per write / (target - idle cores), at least -every, with the CPU
per write measured by the calibration writes and, from the 5th write on, by the writes so far; the
writer also waits whenever the process's average since the first write is above the target.
cores writing = process CPU / wall time from the first write until all were delivered, the target it was
paced to (-cores, or half of what other processes left free if less), the rest of the machine's (other
processes, /proc/stat) and the mean number of the process's threads waiting for a CPU (schedstat
run-queue wait); ! = process above the target, other processes above 0.5 cores or threads waiting more
than 0.3 on average: the row measures CPU queueing too. idle cores = the process before any write (timers,
digest syncs, heartbeats).
CPU ms/write = process CPU (all nodes, harness, GC) from the first write until 2 s after the last
delivery, less idle cores x that time, per write; µs/node/write = that / nodes.
link lateness (mocknet) = how long after its due time each delayed write entered the mocknet stream
(scheduling, a receiver not reading): near 0 means the links added only their latency.`

// maxWaiting is the mean number of the process's threads waiting for a
// CPU, and maxOthers the cores other processes used, while writing, above
// which a run's latencies are taken to include CPU queueing. A process
// averaging one core of two waits about 0.15-0.2 by itself (its bursts);
// on a machine shared with busy processes it waited 1.0-1.3.
const (
	maxWaiting = 0.3
	maxOthers  = 0.5
)

// overloaded reports whether the run exceeded the CPU target (by more
// than a tenth), waited for the CPU, shared the machine with busy
// processes, or whether the idle load alone was near the target.
func (r result) overloaded() bool {
	return r.waitCores > maxWaiting || r.othersCores > maxOthers ||
		(r.target > 0 && (r.calibOverloaded || r.writeCores > 1.1*r.target))
}

// row formats the result as a row of the results table.
func (r result) row(setting, mode string, writes, nodes int) string {
	mark := ""
	if r.overloaded() {
		mark = " !"
	}
	unreachable := ""
	if r.bound.unreachable > 0 {
		unreachable = fmt.Sprintf(" (%d writers do not reach every node)", r.bound.unreachable)
	}
	return fmt.Sprintf("| %s | %s | %d/%d | %.0f | %.0f | %.0f/%.0f%s | %d/%d | %.0f | %.2f/%.2f/%.2f/%.2f%s | %.2f | %.1f | %.1f | %.2f | %.0f | %.0f |",
		setting, mode, r.delivered, writes, ms(r.p50), ms(r.p99), ms(r.bound.p50), ms(r.bound.p99), unreachable,
		r.bound.hopsP50, r.bound.hopsP99, ms(r.pause), r.writeCores, r.target, r.othersCores, r.waitCores, mark, r.idleCores,
		ms(r.cpuPerWrite), float64(r.cpuPerWrite)/float64(time.Microsecond)/float64(nodes),
		r.copies, r.payloadBytes, r.controlBytes)
}

// counters are a node's traffic counters at one moment.
type counters struct {
	engineCopies, externalCopies, gossipCopies uint64
	engineBytes, gossipPayload, gossipControl  uint64
	ackTimeouts, pullRetries, pullsAbandoned   uint64
	// lost counts messages a node dropped itself: inbox full, over a
	// sender's rate limit, send queue full, or a failed stream.
	lost uint64
}

func snapshot(n *p2pnode.Node) (counters, error) {
	st, err := n.Stats()
	if err != nil {
		return counters{}, err
	}
	c := counters{engineCopies: st.Engine.PayloadsReceived, externalCopies: st.Engine.ExternalReceived,
		ackTimeouts: st.Engine.AckTimeouts, pullRetries: st.Engine.PullRetries, pullsAbandoned: st.Engine.PullsAbandoned}
	c.lost = st.InboxDropped + st.RateLimited
	for _, ps := range st.Protocols {
		c.engineBytes += ps.BytesSent
		c.lost += ps.Dropped + ps.SendFailures
	}
	if gs, err := n.GossipStats(); err == nil {
		c.gossipCopies = gs.PayloadsReceived
		c.gossipPayload, c.gossipControl = gs.PayloadBytesSent, gs.ControlBytesSent
	}
	return c, nil
}

// tracker records when each node first receives each tracked write.
type tracker struct {
	mu  sync.Mutex
	got map[replica.EventID][]time.Time
	via map[replica.EventID][]replica.Delivery
}

// follow records the receipts of nodes[i] from its change subscription.
func (t *tracker) follow(i int, ch <-chan replica.Change) {
	for c := range ch {
		if c.Kind != replica.ChangeReceived {
			continue
		}
		t.mu.Lock()
		if at := t.got[c.Event.ID()]; at != nil && at[i].IsZero() {
			at[i] = time.Now()
			t.via[c.Event.ID()][i] = c.Via
		}
		t.mu.Unlock()
	}
}

// put writes key on nodes[i] and tracks the write. The lock is held over
// the Put so that no receipt can come before the write is tracked.
func (t *tracker) put(nodes []*p2pnode.Node, i int, key string, value []byte) (*replica.Event, time.Time, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at := time.Now()
	ev, err := nodes[i].Put(key, value)
	if err != nil {
		return nil, at, fmt.Errorf("put %s on node %d: %w", key, i, err)
	}
	times := make([]time.Time, len(nodes))
	times[i] = at
	t.got[ev.ID()] = times
	t.via[ev.ID()] = make([]replica.Delivery, len(nodes))
	return ev, at, nil
}

// complete reports whether every node received every one of ids.
func (t *tracker) complete(ids ...replica.EventID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range ids {
		for _, at := range t.got[id] {
			if at.IsZero() {
				return false
			}
		}
	}
	return true
}

// waitComplete polls until every node received every one of ids, or the
// deadline passes; it reports which.
func (t *tracker) waitComplete(deadline time.Time, ids ...replica.EventID) bool {
	for !t.complete(ids...) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// adaptAfter is the number of measured writes after which the pause is
// re-estimated from the CPU they cost.
const adaptAfter = 5

// idleFor is how long the idle load is measured before the writes.
const idleFor = 2 * time.Second

// settleFor is how long after the last delivery traffic is still counted,
// so that both modes are charged for the duplicates, acks and digest syncs
// the writes caused.
const settleFor = 2 * time.Second

func run(s setting) (result, error) {
	rnd := rand.New(rand.NewPCG(s.seed, uint64(s.nodes)))
	topo := drawTopology(s.nodes, s.degree, s.mocknet, rnd)
	netName := fmt.Sprintf("netbench-%d-%s", s.nodes, s.mode)
	var mn mocknet.Mocknet
	var opts []p2pnode.Option
	wire := newLinks()
	defer close(wire.stop)
	if s.mocknet {
		mn = mocknet.New()
		defer mn.Close()
		opts = append(opts, p2pnode.WithReceiveLoss(func(peer.ID) bool { return rand.Float64() < 0.01 }))
	}
	nodes := make([]*p2pnode.Node, s.nodes)
	defer func() {
		for _, n := range nodes {
			if n != nil {
				n.Close()
			}
		}
	}()
	dir, err := os.MkdirTemp("", "netbench")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	for i := range nodes {
		cfg := p2pnode.DefaultConfig()
		cfg.DataDir = fmt.Sprintf("%s/%d", dir, i)
		cfg.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
		cfg.Discovery.Network = netName
		// The benchmark connects the nodes itself; DHT clients answer no
		// queries, so no node advertises or looks up the rendezvous key
		// and DHT traffic (and the connections its queries open) does not
		// compete with the writes for the CPU. Engine peers still come
		// from discovery's member handshake on every connection.
		cfg.Discovery.DHTMode = "client"
		cfg.Discovery.MDNS = false
		cfg.Store = "memory"
		cfg.Dissemination = s.mode
		cfg.ConnLowWater, cfg.ConnHighWater = 64, 128
		o := opts
		if s.mocknet {
			key, _, err := crypto.GenerateEd25519Key(nil)
			if err != nil {
				return result{}, err
			}
			h, err := mn.AddPeer(key, ma.StringCast(fmt.Sprintf("/ip4/10.%d.%d.1/tcp/4100", i/256, i%256)))
			if err != nil {
				return result{}, err
			}
			o = append(slices.Clone(opts), p2pnode.WithHost(delayHost{h, wire}))
		}
		n, err := p2pnode.New(cfg, o...)
		if err != nil {
			return result{}, err
		}
		if err := n.Start(ctx); err != nil {
			return result{}, err
		}
		nodes[i] = n
	}
	progress("%s %s: %d nodes started", s.name, s.mode, len(nodes))
	if err := connect(s, topo, mn, wire, nodes); err != nil {
		return result{}, err
	}
	progress("connected")
	if err := warmUp(s, nodes); err != nil {
		return result{}, err
	}

	tr := &tracker{got: map[replica.EventID][]time.Time{}, via: map[replica.EventID][]replica.Delivery{}}
	for i, n := range nodes {
		ch, err := n.Subscribe((s.writes + s.calibrate + 1) * 4)
		if err != nil {
			return result{}, err
		}
		go tr.follow(i, ch)
	}

	// The idle load: what the nodes cost with nothing written; measured
	// again while other processes keep the machine busy (-quiet).
	var res result
	quietBy := time.Now().Add(s.quietWait)
	for {
		idle, err := startCPU()
		if err != nil {
			return result{}, err
		}
		time.Sleep(idleFor) // measuring the idle load over a span, not synchronisation
		sp, err := idle.span()
		if err != nil {
			return result{}, err
		}
		res.idleCores = sp.utilisation()
		res.target = effectiveTarget(s.cores, float64(runtime.NumCPU()), sp.others())
		if s.quiet <= 0 || sp.others() <= s.quiet {
			break
		}
		if time.Now().After(quietBy) {
			progress("WARNING: other processes still use %.2f cores after %s; writing anyway", sp.others(), s.quietWait)
			break
		}
		progress("waiting for a quieter machine: other processes use %.2f cores (want at most %.2f)", sp.others(), s.quiet)
	}

	// Calibration: writes one at a time, each until everyone has it and a
	// little after; the CPU above the idle load is a write's cost. Their
	// writers come from their own generator, so the measured schedule is
	// the same with or without calibration.
	value := make([]byte, 100)
	res.pause = s.every
	if s.calibrate > 0 && res.target > 0 {
		crnd := rand.New(rand.NewPCG(s.seed, uint64(s.nodes)+1<<32))
		var m cpuMeter
		// Write 0 is not counted: the first write opens the dissemination
		// streams on most links, a cost the measured writes do not pay.
		for k := range s.calibrate + 1 {
			if k == 1 {
				if m, err = startCPU(); err != nil {
					return result{}, err
				}
			}
			ev, _, err := tr.put(nodes, crnd.IntN(len(nodes)), fmt.Sprintf("calibrate/%d", k), value)
			if err != nil {
				return result{}, err
			}
			tr.waitComplete(time.Now().Add(10*time.Second), ev.ID())
			time.Sleep(300 * time.Millisecond) // let the write's trailing traffic run, inside the measured span
		}
		sp, err := m.span()
		if err != nil {
			return result{}, err
		}
		perWrite := costPerWrite(sp, res.idleCores, s.calibrate)
		res.pause, res.calibOverloaded = paceFor(perWrite, res.idleCores, res.target, s.every)
		if res.calibOverloaded {
			progress("WARNING: idle load %.2f cores is near the target %.2f: writes get a quarter of the target", res.idleCores, res.target)
		}
		progress("idle %.2f cores, target %.2f cores; calibration: %.1f ms CPU per write, pause %s", res.idleCores, res.target, ms(perWrite), res.pause.Round(time.Millisecond))
	}

	before := make([]counters, len(nodes))
	for i, n := range nodes {
		if before[i], err = snapshot(n); err != nil {
			return result{}, err
		}
	}
	wire.takeLateness() // count the measured writes only
	type write struct {
		id     replica.EventID
		at     time.Time
		writer int
	}
	var ws []write
	var ids []replica.EventID
	var eventBytes int
	phase, err := startCPU()
	if err != nil {
		return result{}, err
	}
	pause := res.pause
	for k := 0; k < s.writes; k++ {
		if k > 0 {
			for {
				cpu, err := cpuClock()
				if err != nil {
					return result{}, err
				}
				wait := paceWait(time.Since(ws[k-1].at), pause, cpu-phase.start.cpu, time.Since(phase.wall0), res.target)
				if wait <= 0 {
					break
				}
				time.Sleep(min(wait, 20*time.Millisecond)) // pacing of the workload, not synchronisation
			}
		}
		if k >= adaptAfter && res.target > 0 {
			// Re-estimate a write's cost from the writes so far: a larger
			// sample than the calibration's, made at the measured pace.
			sp, err := phase.span()
			if err != nil {
				return result{}, err
			}
			perWrite := costPerWrite(sp, res.idleCores, k)
			pause, _ = paceFor(perWrite, res.idleCores, res.target, s.every)
		}
		i := rnd.IntN(len(nodes))
		ev, at, err := tr.put(nodes, i, fmt.Sprintf("bench/%d", k), value)
		if err != nil {
			return result{}, err
		}
		ws = append(ws, write{ev.ID(), at, i})
		ids = append(ids, ev.ID())
		eventBytes += ev.Size()
	}
	if len(ws) > 1 {
		res.pause = ws[len(ws)-1].at.Sub(ws[0].at) / time.Duration(len(ws)-1)
	}
	// Wait until every write reached every node, or give up after 30 s.
	tr.waitComplete(time.Now().Add(30*time.Second), ids...)
	writing, err := phase.span()
	if err != nil {
		return result{}, err
	}
	res.writeCores, res.othersCores, res.waitCores = writing.utilisation(), writing.others(), writing.waiting()
	progress("writes done: %.2f cores while writing, others %.2f, threads waiting for a CPU %.2f (pause %s)",
		res.writeCores, res.othersCores, res.waitCores, res.pause.Round(time.Millisecond))
	if res.overloaded() {
		progress("WARNING: CPU queueing while writing (target %.2f cores): latencies include it", res.target)
	}
	time.Sleep(settleFor) // counting the writes' trailing traffic, not synchronisation
	all, err := phase.span()
	if err != nil {
		return result{}, err
	}
	res.cpuPerWrite = max(0, all.cpu-time.Duration(res.idleCores*float64(all.wall))) / time.Duration(s.writes)
	res.paths.late = wire.takeLateness()

	var lat []time.Duration
	var trace [][]delivery
	var writers []int
	tr.mu.Lock()
	for _, w := range ws {
		ds := make([]delivery, len(nodes))
		for i, t := range tr.got[w.id] {
			if !t.IsZero() {
				ds[i] = delivery{via: tr.via[w.id][i], after: t.Sub(w.at)}
			}
		}
		trace = append(trace, ds)
		writers = append(writers, w.writer)
		last, all := time.Duration(0), true
		for _, t := range tr.got[w.id] {
			if t.IsZero() {
				all = false
				break
			}
			last = max(last, t.Sub(w.at))
		}
		if all {
			res.delivered++
			lat = append(lat, last)
		}
	}
	tr.mu.Unlock()
	late := res.paths.late
	res.paths = tally(trace, writers, 6)
	res.paths.late = late
	res.bound = lowerBound(topo, writers)
	res.p50, res.p99 = percentiles(lat)
	var copies, engineCopies, engineBytes, gossipPayload, gossipControl float64
	for i, n := range nodes {
		c, err := snapshot(n)
		if err != nil {
			return result{}, err
		}
		b := before[i]
		engine := float64((c.engineCopies - b.engineCopies) - (c.externalCopies - b.externalCopies))
		engineCopies += engine
		copies += engine + float64(c.gossipCopies-b.gossipCopies)
		engineBytes += float64(c.engineBytes - b.engineBytes)
		gossipPayload += float64(c.gossipPayload - b.gossipPayload)
		gossipControl += float64(c.gossipControl - b.gossipControl)
		res.paths.ackTimeouts += float64(c.ackTimeouts - b.ackTimeouts)
		res.paths.pullRetries += float64(c.pullRetries - b.pullRetries)
		res.paths.pullsAbandoned += float64(c.pullsAbandoned - b.pullsAbandoned)
		res.paths.lost += float64(c.lost - b.lost)
	}
	per := float64(len(nodes) * s.writes)
	meanEvent := float64(eventBytes) / float64(s.writes)
	enginePayload := engineCopies * meanEvent
	res.copies = copies / per
	res.payloadBytes = (enginePayload + gossipPayload) / per
	res.controlBytes = (engineBytes - enginePayload + gossipControl) / per
	res.paths.ackTimeouts /= float64(s.writes)
	res.paths.pullRetries /= float64(s.writes)
	res.paths.pullsAbandoned /= float64(s.writes)
	res.paths.lost /= float64(s.writes)
	return res, nil
}

// connect links the topology's pairs (on mocknet, with each link's latency
// applied by delayHost; see there why not by mocknet's LinkOptions) and
// connects them in parallel (serially, 1,600 handshakes over 30..70 ms
// links take minutes).
func connect(s setting, topo topology, mn mocknet.Mocknet, wire *links, nodes []*p2pnode.Node) error {
	if s.mocknet {
		for _, l := range topo.links {
			a, b := nodes[l.a].Host().ID(), nodes[l.b].Host().ID()
			wire.set(a, b, l.latency)
			if _, err := mn.LinkPeers(a, b); err != nil {
				return fmt.Errorf("link %d and %d: %w", l.a, l.b, err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	work := make(chan link)
	errs := make(chan error, len(topo.links))
	var wg sync.WaitGroup
	for range connectWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				a, b := nodes[p.a].Host(), nodes[p.b].Host()
				if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
					errs <- fmt.Errorf("connect %d to %d: %w", p.a, p.b, err)
				}
			}
		}()
	}
	for _, p := range topo.links {
		work <- p
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs // the first error, or nil
}

// connectWorkers is how many connections are made at once.
const connectWorkers = 32

// warmUp waits until every node's engine knows all its connected peers
// (and, with gossipsub, has a mesh) and the number of connections has not
// changed for quietFor, so that the writes start on a settled network.
func warmUp(s setting, nodes []*p2pnode.Node) error {
	const quietFor = time.Second
	deadline := time.Now().Add(2 * time.Minute)
	lastConns, since := -1, time.Now()
	for {
		ready, conns := 0, 0
		for _, n := range nodes {
			ps, err := n.EnginePeers()
			if err != nil {
				return err
			}
			connected := len(n.Host().Network().Peers())
			conns += connected
			ok := len(ps) >= min(3, len(nodes)-1) && len(ps) >= connected
			if s.mode == p2pnode.DisseminationGossipSub {
				gs, err := n.GossipStats()
				ok = ok && err == nil && gs.MeshPeers > 0
			}
			if ok {
				ready++
			}
		}
		if conns != lastConns {
			lastConns, since = conns, time.Now()
		}
		if ready == len(nodes) && time.Since(since) >= quietFor {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("warm-up: %d of %d nodes ready, %d connections, after 2 min", ready, len(nodes), conns)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
