// Command netbench compares murmur's two dissemination modes, pushpull and
// gossipsub, on real p2pnode nodes: N hosts are started and connected in a
// random graph (each node dials Degree random others), the same write
// schedule is run against each mode (same writers, same keys, same sizes,
// same pace), and it prints per setting and mode the delivery time to all
// nodes (p50, p99), the payload copies received per node per write and the
// bytes sent per node per write (payload and control). Settings:
// "loopback-N" runs N real hosts on 127.0.0.1 (TCP, Noise, yamux);
// "mocknet-N" runs N in-process hosts on libp2p's mocknet with a per-link
// latency drawn uniformly from 30..70 ms and 1% of received messages
// dropped (p2pnode.WithReceiveLoss, both modes alike). make bench-net runs
// it; docs/benchmarks.md records the table.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
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
	writes := flag.Int("writes", 60, "writes per setting and mode")
	every := flag.Duration("every", 25*time.Millisecond, "pause between writes")
	modes := flag.String("modes", p2pnode.DisseminationPushPull+","+p2pnode.DisseminationGossipSub, "comma-separated dissemination modes to run")
	degree := flag.Int("degree", 8, "connections each node dials")
	seed := flag.Uint64("seed", 1, "seed of the topology, latencies and write schedule")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
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
	fmt.Println("| setting | mode | delivered | p50 ms | p99 ms | copies/node/write | payload B/node/write | control B/node/write |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- |")
	var paths []string
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
			r, err := run(setting{mocknet: kind == "mocknet", nodes: n, mode: mode, writes: *writes, every: *every, degree: *degree, seed: *seed})
			if err != nil {
				fmt.Fprintf(os.Stderr, "netbench: %s %s: %v\n", s, mode, err)
				pprof.StopCPUProfile()
				os.Exit(1)
			}
			progress("%s %s took %s", s, mode, time.Since(start).Round(time.Second))
			fmt.Printf("| %s | %s | %d/%d | %.0f | %.0f | %.2f | %.0f | %.0f |\n", s, mode, r.delivered, *writes,
				ms(r.p50), ms(r.p99), r.copies, r.payloadBytes, r.controlBytes)
			paths = append(paths, r.paths.row(s, mode))
		}
	}
	fmt.Println()
	fmt.Println(pathsHeader)
	for _, p := range paths {
		fmt.Println(p)
	}
}

// progress reports a run's phase on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "netbench: "+format+"\n", args...)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// setting is one run.
type setting struct {
	mocknet       bool
	nodes, writes int
	mode          string
	every         time.Duration
	degree        int
	seed          uint64
}

// result is what a run measured.
type result struct {
	delivered                          int
	p50, p99                           time.Duration
	copies, payloadBytes, controlBytes float64
	paths                              pathStats
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

func run(s setting) (result, error) {
	rnd := rand.New(rand.NewPCG(s.seed, uint64(s.nodes)))
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
	progress("%d nodes started", len(nodes))
	if err := connect(s, rnd, mn, wire, nodes); err != nil {
		return result{}, err
	}
	progress("connected")
	if err := warmUp(s, nodes); err != nil {
		return result{}, err
	}
	progress("warm")

	// Record when each node first receives each write.
	var mu sync.Mutex
	got := map[replica.EventID][]time.Time{}
	via := map[replica.EventID][]replica.Delivery{}
	for i, n := range nodes {
		ch, err := n.Subscribe(s.writes * 4)
		if err != nil {
			return result{}, err
		}
		go func() {
			for c := range ch {
				if c.Kind != replica.ChangeReceived {
					continue
				}
				mu.Lock()
				if at := got[c.Event.ID()]; at != nil && at[i].IsZero() {
					at[i] = time.Now()
					via[c.Event.ID()][i] = c.Via
				}
				mu.Unlock()
			}
		}()
	}
	before := make([]counters, len(nodes))
	for i, n := range nodes {
		if before[i], err = snapshot(n); err != nil {
			return result{}, err
		}
	}
	type write struct {
		id     replica.EventID
		at     time.Time
		writer int
	}
	var ws []write
	value := make([]byte, 100)
	var eventBytes int
	for k := 0; k < s.writes; k++ {
		i := rnd.IntN(len(nodes))
		mu.Lock()
		at := time.Now()
		ev, err := nodes[i].Put(fmt.Sprintf("bench/%d", k), value)
		if err != nil {
			mu.Unlock()
			return result{}, err
		}
		times := make([]time.Time, len(nodes))
		times[i] = at
		got[ev.ID()] = times
		via[ev.ID()] = make([]replica.Delivery, len(nodes))
		mu.Unlock()
		ws = append(ws, write{ev.ID(), at, i})
		eventBytes += ev.Size()
		time.Sleep(s.every) // pacing of the workload, not synchronisation
	}
	// Wait until every write reached every node, or give up after 30 s.
	deadline := time.Now().Add(30 * time.Second)
	complete := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, w := range ws {
			for _, t := range got[w.id] {
				if t.IsZero() {
					return false
				}
			}
		}
		return true
	}
	for !complete() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	progress("writes done")
	// Let in-flight duplicates and digest syncs of the window settle so
	// that both modes are charged for what the writes caused.
	time.Sleep(2 * time.Second)

	var res result
	var lat []time.Duration
	var trace [][]delivery
	var writers []int
	mu.Lock()
	for _, w := range ws {
		ds := make([]delivery, len(nodes))
		for i, t := range got[w.id] {
			if !t.IsZero() {
				ds[i] = delivery{via: via[w.id][i], after: t.Sub(w.at)}
			}
		}
		trace = append(trace, ds)
		writers = append(writers, w.writer)
		last, all := time.Duration(0), true
		for _, t := range got[w.id] {
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
	mu.Unlock()
	res.paths = tally(trace, writers, 6)
	slices.Sort(lat)
	if len(lat) > 0 {
		res.p50 = lat[len(lat)*50/100]
		res.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
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

// connect links (on mocknet, with a 30..70 ms one-way latency per link) and
// connects each node to Degree random others. The pairs and latencies are
// drawn first, in order, so the topology and the write schedule that
// follows depend on the seed only; the connections are then made in
// parallel (serially, 1,600 handshakes over 30..70 ms links take minutes).
func connect(s setting, rnd *rand.Rand, mn mocknet.Mocknet, wire *links, nodes []*p2pnode.Node) error {
	type pair struct{ a, b int }
	seen := map[pair]bool{}
	var pairs []pair
	for i := range nodes {
		for d, tries := 0, 0; d < s.degree && tries < 20*s.degree; tries++ {
			j := rnd.IntN(len(nodes))
			p := pair{min(i, j), max(i, j)}
			if i == j || seen[p] {
				continue
			}
			seen[p] = true
			d++
			pairs = append(pairs, pair{i, j})
			if s.mocknet {
				// The latency is applied by delayHost (see there why not by
				// mocknet's LinkOptions).
				a, b := nodes[i].Host().ID(), nodes[j].Host().ID()
				wire.set(a, b, 30*time.Millisecond+time.Duration(rnd.Int64N(int64(40*time.Millisecond)+1)))
				if _, err := mn.LinkPeers(a, b); err != nil {
					return err
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	work := make(chan pair)
	errs := make(chan error, len(pairs))
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
	for _, p := range pairs {
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
