package p2pnode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// startCluster starts n nodes bootstrapped from node 0 and waits until each
// has at least minPeers peers.
func startCluster(t *testing.T, netName string, n, minPeers int, mut func(i int, c *Config)) []*Node {
	t.Helper()
	nodes := make([]*Node, n)
	cfg := testConfig(t, netName)
	if mut != nil {
		mut(0, &cfg)
	}
	nodes[0] = startNode(t, cfg)
	boot := firstAddr(t, nodes[0])
	for i := 1; i < n; i++ {
		cfg := testConfig(t, netName, boot)
		if mut != nil {
			mut(i, &cfg)
		}
		nodes[i] = startNode(t, cfg)
	}
	waitFor(t, 30*time.Second, func() bool {
		for _, nd := range nodes {
			if len(nd.Peers()) < minPeers {
				return false
			}
		}
		return true
	}, func() string { return peerCounts(nodes) })
	return nodes
}

// stateOf renders a node's whole key/value state (winners) canonically.
func stateOf(t *testing.T, n *Node) string {
	t.Helper()
	kss, err := n.List("")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var b strings.Builder
	for _, ks := range kss {
		fmt.Fprintf(&b, "%s=%x;", ks.Key, ks.Versions[0].Value)
	}
	return b.String()
}

// waitConverged waits until every node has the same state with want keys.
func waitConverged(t *testing.T, nodes []*Node, want int, timeout time.Duration) {
	t.Helper()
	var states []string
	waitFor(t, timeout, func() bool {
		states = states[:0]
		for _, n := range nodes {
			states = append(states, stateOf(t, n))
		}
		for _, s := range states {
			if s != states[0] || strings.Count(s, ";") != want {
				return false
			}
		}
		return true
	}, func() string {
		var counts []string
		for i, s := range states {
			counts = append(counts, fmt.Sprintf("%d:%d", i, strings.Count(s, ";")))
		}
		return fmt.Sprintf("keys per node (want %d): %s", want, strings.Join(counts, " "))
	})
}

func TestTenNodesConvergeUnderConcurrentWrites(t *testing.T) {
	nodes := startCluster(t, "repl10", 10, 3, func(i int, c *Config) {
		c.Store = "pebble"
	})
	const writers, perWriter = 5, 20
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := nodes[w*2]
			for k := 0; k < perWriter; k++ {
				if _, err := n.Put(fmt.Sprintf("w%d/k%02d", w, k), []byte(fmt.Sprintf("v%d-%d", w, k))); err != nil {
					t.Errorf("put on node %d: %v", w*2, err)
					return
				}
			}
			// Every writer also writes the same contended key.
			if _, err := n.Put("shared", []byte(fmt.Sprintf("from %d", w))); err != nil {
				t.Errorf("put shared: %v", err)
			}
		}()
	}
	wg.Wait()
	waitConverged(t, nodes, writers*perWriter+1, 30*time.Second)

	// The contended key resolves to the same winner everywhere; its
	// concurrent siblings are visible through Versions.
	want, err := nodes[0].Get("shared")
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		got, err := n.Get("shared")
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("node %d reads shared=%q (%v), node 0 reads %q", i, got, err, want)
		}
	}
	st, err := nodes[1].Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Engine.Accepted < writers*(perWriter+1)-perWriter-1 {
		t.Fatalf("node 1 accepted only %d events", st.Engine.Accepted)
	}
	var msgs uint64
	for _, ps := range st.Protocols {
		msgs += ps.MessagesReceived
	}
	if msgs == 0 {
		t.Fatal("no messages counted on the wire protocols")
	}
}

func TestSubscribeSeesRemoteWrites(t *testing.T) {
	nodes := startCluster(t, "subs", 3, 2, nil)
	ch, err := nodes[2].Subscribe(64)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := nodes[0].Put("greeting", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[1].Publish("chat", []byte("hi all")); err != nil {
		t.Fatal(err)
	}
	gotPut, gotPub := false, false
	deadline := time.After(15 * time.Second)
	for !gotPut || !gotPub {
		select {
		case c := <-ch:
			if c.Kind != replica.ChangeReceived {
				continue
			}
			if c.Event.ID() == ev.ID() && string(c.Event.Value) == "hello" {
				gotPut = true
			}
			if c.Event.Op == replica.OpApp && c.Event.Key == "chat" && string(c.Event.Value) == "hi all" {
				gotPub = true
			}
		case <-deadline:
			t.Fatalf("node 2 saw put=%v publish=%v", gotPut, gotPub)
		}
	}
}

func TestDataAPIBeforeStartAndAfterClose(t *testing.T) {
	n, err := New(testConfig(t, "api"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Put("k", []byte("v")); err != ErrNotStarted {
		t.Fatalf("Put before Start: %v", err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Put("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Get("missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing: %v", err)
	}
	vv, err := n.VersionVector()
	if err != nil || vv[replica.PeerID(n.ID())] != 1 {
		t.Fatalf("version vector %v (%v), want seq 1 for the node itself", vv, err)
	}
	var keys []string
	if err := n.ScanEvents(replica.PeerID(n.ID()), 1, 0, func(e *replica.Event) bool {
		keys = append(keys, e.Key)
		return true
	}); err != nil || len(keys) != 1 || keys[0] != "k" {
		t.Fatalf("ScanEvents: %v %v", keys, err)
	}
	n.Close()
	if _, err := n.Get("k"); err != ErrClosed {
		t.Fatalf("Get after Close: %v", err)
	}
}

func TestRestartedNodeCatchesUpFromItsDataDir(t *testing.T) {
	nodes := startCluster(t, "restart", 4, 2, func(i int, c *Config) { c.Store = "pebble" })
	if _, err := nodes[3].Put("before", []byte("1")); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, nodes, 1, 15*time.Second)

	// Node 3 goes down; writes continue elsewhere.
	cfg3 := nodes[3].Config()
	id3 := nodes[3].ID()
	if err := nodes[3].Close(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := nodes[i%3].Put(fmt.Sprintf("during/%d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, nodes[:3], 11, 15*time.Second)

	// It restarts from the same data dir: same identity, its own write kept,
	// and it catches up on what it missed.
	cfg3.Discovery.Bootstrap = []string{firstAddr(t, nodes[0])}
	restarted := startNode(t, cfg3)
	if restarted.ID() != id3 {
		t.Fatalf("identity changed across restart: %s -> %s", id3, restarted.ID())
	}
	if v, err := restarted.Get("before"); err != nil || string(v) != "1" {
		t.Fatalf("restarted node lost its own write: %q %v", v, err)
	}
	nodes[3] = restarted
	waitConverged(t, nodes, 11, 20*time.Second)
}

// partitionGater refuses connections between two groups while cut.
type partitionGater struct {
	blockGater
	mu    sync.Mutex
	other map[peer.ID]bool
	cut   bool
}

func (g *partitionGater) set(cut bool, other []peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cut = cut
	g.other = map[peer.ID]bool{}
	for _, p := range other {
		g.other[p] = true
	}
}

func (g *partitionGater) denied(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cut && g.other[p]
}

func (g *partitionGater) InterceptPeerDial(p peer.ID) bool { return !g.denied(p) }
func (g *partitionGater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool {
	return !g.denied(p)
}
func (g *partitionGater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.denied(p)
}

func TestPartitionDivergesAndHeals(t *testing.T) {
	const n = 6
	gaters := make([]*partitionGater, n)
	nodes := make([]*Node, n)
	for i := range gaters {
		gaters[i] = &partitionGater{}
	}
	nodes[0] = startNode(t, testConfig(t, "partition"), WithConnectionGater(gaters[0]))
	boot := firstAddr(t, nodes[0])
	for i := 1; i < n; i++ {
		nodes[i] = startNode(t, testConfig(t, "partition", boot), WithConnectionGater(gaters[i]))
	}
	waitFor(t, 20*time.Second, func() bool {
		for _, nd := range nodes {
			if len(nd.Peers()) < n-1 {
				return false
			}
		}
		return true
	}, func() string { return peerCounts(nodes) })

	groupA, groupB := nodes[:3], nodes[3:]
	ids := func(g []*Node) []peer.ID {
		var out []peer.ID
		for _, nd := range g {
			out = append(out, nd.ID())
		}
		return out
	}
	for i := range nodes {
		if i < 3 {
			gaters[i].set(true, ids(groupB))
		} else {
			gaters[i].set(true, ids(groupA))
		}
	}
	for _, a := range groupA {
		for _, b := range groupB {
			_ = a.Host().Network().ClosePeer(b.ID())
		}
	}
	waitFor(t, 10*time.Second, func() bool {
		for _, nd := range nodes {
			if len(nd.Peers()) != 2 {
				return false
			}
		}
		return true
	}, func() string { return "while cut, " + peerCounts(nodes) })

	for i := 0; i < 5; i++ {
		if _, err := groupA[i%3].Put(fmt.Sprintf("a/%d", i), []byte("A")); err != nil {
			t.Fatal(err)
		}
		if _, err := groupB[i%3].Put(fmt.Sprintf("b/%d", i), []byte("B")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := groupA[0].Put("both", []byte("from A")); err != nil {
		t.Fatal(err)
	}
	if _, err := groupB[0].Put("both", []byte("from B")); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, groupA, 6, 15*time.Second)
	waitConverged(t, groupB, 6, 15*time.Second)
	if stateOf(t, groupA[0]) == stateOf(t, groupB[0]) {
		t.Fatal("the two sides did not diverge while cut")
	}

	for _, g := range gaters {
		g.set(false, nil)
	}
	waitConverged(t, nodes, 11, 30*time.Second)
	ks, err := nodes[0].Versions("both")
	if err != nil {
		t.Fatal(err)
	}
	if len(ks.Versions) != 2 {
		t.Fatalf("concurrent writes on both sides should be kept as 2 siblings, got %d", len(ks.Versions))
	}
}

func TestQUICOnlyReplication(t *testing.T) {
	nodes := startCluster(t, "quicrepl", 4, 2, func(i int, c *Config) {
		c.Listen = []string{"/ip4/127.0.0.1/udp/0/quic-v1"}
	})
	for i, n := range nodes {
		if _, err := n.Put(fmt.Sprintf("k%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, nodes, len(nodes), 20*time.Second)
	for _, c := range nodes[1].Host().Network().Conns() {
		if c.ConnState().Transport != "quic-v1" {
			t.Fatalf("non-QUIC connection %s", c.ConnState().Transport)
		}
	}
}
