package p2pnode

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkOrderCommitLatency measures, on three voters on loopback with
// the daemon's defaults (Pebble stores with fsync, 100 ms ticks), the time
// from a Put returning on a node until that node delivers the event in the
// global order (SubscribeOrdered): gossip to the leader, a Raft round,
// the commit reaching the writer, apply. Writes are sequential, spread over
// the three nodes. Run by make bench-order.
func BenchmarkOrderCommitLatency(b *testing.B) {
	c := newBenchOrderCluster(b, "bench-latency", true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subs := make([]<-chan OrderedEvent, 3)
	for i := range 3 {
		var err error
		if subs[i], err = c.nodes[i].SubscribeOrdered(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
	const writes = 300
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		lat = lat[:0]
		for k := range writes {
			i := k % 3
			ev, err := c.nodes[i].Put(fmt.Sprintf("lat/%d", k), []byte("v"))
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			id := ev.ID()
			for {
				select {
				case e := <-subs[i]:
					if e.ID != id {
						continue
					}
				case <-time.After(60 * time.Second):
					b.Fatalf("write %d not ordered within 60s", k)
				}
				break
			}
			lat = append(lat, time.Since(start))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max_ms")
}

// BenchmarkOrderFollowerCatchUp orders $ORDER_EVENTS (default 100,000) events,
// written on the leader of three voters, then starts a fourth node that joins as a learner and
// measures the time until its order holds them all (the order: IDs by
// Raft log or snapshot; payloads arrive separately by the replica's own
// catch-up). Memory stores, so that writing 100,000 events takes seconds.
func BenchmarkOrderFollowerCatchUp(b *testing.B) {
	events := 100_000
	if v, err := strconv.Atoi(os.Getenv("ORDER_EVENTS")); err == nil && v > 0 {
		events = v
	}
	c := newBenchOrderCluster(b, "bench-catchup", false)
	// Write on the leader: it holds every event at once, so the ordering
	// runs at Raft's pace rather than at the pace gossip brings events to
	// the leader (which under a 100,000-event burst is the replication
	// engine's catch-up rate, not the order's).
	leader := -1
	for i, n := range c.nodes {
		if st, _ := n.OrderStatus(); st.Role == "StateLeader" {
			leader = i
		}
	}
	if leader < 0 {
		b.Fatal("no leader")
	}
	start := time.Now()
	for k := range events {
		if _, err := c.nodes[leader].Put(fmt.Sprintf("c/%d", k%1000), []byte("v")); err != nil {
			b.Fatal(err)
		}
		if k%10_000 == 0 {
			st, _ := c.nodes[leader].OrderStatus()
			fmt.Fprintf(os.Stderr, "%s: %d written, %d ordered\n", time.Since(start).Round(time.Second), k, st.Ordered)
		}
	}
	lastLog := time.Now()
	waitFor(b, 20*time.Minute, func() bool {
		st, _ := c.nodes[leader].OrderStatus()
		if time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			vv, _ := c.nodes[leader].VersionVector()
			var held uint64
			for _, s := range vv {
				held += s
			}
			fmt.Fprintf(os.Stderr, "%s: the leader holds %d events, %d ordered (%s)\n", time.Since(start).Round(time.Second), held, st.Ordered, st.Role)
		}
		return st.Ordered >= uint64(events)
	}, func() string { st, _ := c.nodes[leader].OrderStatus(); return fmt.Sprintf("ordered %d", st.Ordered) })
	written := time.Since(start)
	fmt.Fprintf(os.Stderr, "%d events written and ordered in %s\n", events, written.Round(time.Millisecond))
	b.ResetTimer()
	for range b.N {
		k, id := newKey(b)
		cfg := testConfig(b, "bench-catchup", firstAddr(b, c.nodes[leader]))
		cfg.Ordering, cfg.OrderVoters, cfg.Store, cfg.TickInterval = OrderingRaft, c.voters, "memory", 100*time.Millisecond
		joined := time.Now()
		n := startNode(b, cfg, WithIdentity(k))
		waitFor(b, 20*time.Minute, func() bool {
			st, _ := n.OrderStatus()
			return st.Ordered >= uint64(events)
		}, func() string { st, _ := n.OrderStatus(); return fmt.Sprintf("learner %s ordered %d", id, st.Ordered) })
		b.ReportMetric(time.Since(joined).Seconds(), "catchup_s")
		_ = n.Close()
	}
	b.ReportMetric(written.Seconds(), "write_and_order_s")
}

type benchOrderCluster struct {
	nodes  []*Node
	voters []string
}

func newBenchOrderCluster(b *testing.B, name string, pebble bool) *benchOrderCluster {
	c := &benchOrderCluster{}
	var privs = make([]Option, 3)
	for i := range 3 {
		k, id := newKey(b)
		privs[i] = WithIdentity(k)
		c.voters = append(c.voters, id.String())
	}
	for i := range 3 {
		cfg := testConfig(b, name)
		cfg.TickInterval = 100 * time.Millisecond // the daemon's default
		cfg.Ordering, cfg.OrderVoters = OrderingRaft, c.voters
		if pebble {
			cfg.Store = "pebble"
		}
		if i > 0 {
			cfg.Discovery.Bootstrap = []string{firstAddr(b, c.nodes[0])}
		}
		c.nodes = append(c.nodes, startNode(b, cfg, privs[i]))
	}
	waitFor(b, 60*time.Second, func() bool {
		for _, n := range c.nodes {
			if st, _ := n.OrderStatus(); st.Leader != "" {
				continue
			}
			return false
		}
		return true
	}, func() string { return "no leader" })
	return c
}
