package p2pnode

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// blockGater refuses every connection to or from one peer while blocked.
type blockGater struct {
	peer    peer.ID
	blocked atomic.Bool
}

func (g *blockGater) deny(p peer.ID) bool { return g.blocked.Load() && p == g.peer }

func (g *blockGater) InterceptPeerDial(p peer.ID) bool                 { return !g.deny(p) }
func (g *blockGater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !g.deny(p) }
func (g *blockGater) InterceptAccept(network.ConnMultiaddrs) bool      { return true }
func (g *blockGater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.deny(p)
}
func (g *blockGater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}

// TestTwentyHostsFindEachOtherThroughDHT starts 20 hosts on loopback, each
// bootstrapped from host 0 only, and checks that every one fills its peer
// table through the DHT, and that host 19 resolves host 7 with FindPeer
// without ever having been connected to it.
func TestTwentyHostsFindEachOtherThroughDHT(t *testing.T) {
	const n = 20
	key7, id7 := newKey(t)
	gater := &blockGater{peer: id7}
	gater.blocked.Store(true)

	nodes := make([]*Node, n)
	nodes[0] = startNode(t, testConfig(t, "dhttest"))
	boot := firstAddr(t, nodes[0])
	start := time.Now()
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		var opts []Option
		switch i {
		case 7:
			opts = append(opts, WithIdentity(key7))
		case 19:
			opts = append(opts, WithConnectionGater(gater))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := New(testConfig(t, "dhttest", boot), opts...)
			if err != nil {
				t.Errorf("new node %d: %v", i, err)
				return
			}
			t.Cleanup(func() { n.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := n.Start(ctx); err != nil {
				t.Errorf("start node %d: %v", i, err)
				return
			}
			nodes[i] = n
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	want := min(nodes[0].Config().Discovery.TargetPeers, n-1)
	waitFor(t, 60*time.Second, func() bool {
		for _, nd := range nodes {
			if len(nd.Peers()) < want {
				return false
			}
		}
		return true
	}, func() string { return peerCounts(nodes) })
	t.Logf("%d hosts filled their peer tables (>= %d peers) in %s", n, want, time.Since(start))

	// Every table entry came from the DHT or a connection, never from config:
	// only host 0 was configured. Nodes other than 0 must know peers beyond it.
	for i, nd := range nodes[1:] {
		others := slices.DeleteFunc(nd.Peers(), func(p peer.ID) bool { return p == nodes[0].ID() })
		if len(others) == 0 {
			t.Fatalf("node %d only knows the bootstrap node", i+1)
		}
	}

	h19 := nodes[19].Host()
	if h19.Network().Connectedness(id7) == network.Connected {
		t.Fatal("host 19 is connected to host 7 despite the gater")
	}
	h19.Peerstore().ClearAddrs(id7)
	gater.blocked.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ai, err := nodes[19].Discovery().FindPeer(ctx, id7)
	if err != nil {
		t.Fatalf("host 19 FindPeer(host 7): %v", err)
	}
	if ai.ID != id7 || len(ai.Addrs) == 0 {
		t.Fatalf("FindPeer returned %v", ai)
	}
	have := nodes[7].Host().Addrs()
	found := false
	for _, a := range ai.Addrs {
		for _, b := range have {
			if a.Equal(b) {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("FindPeer addrs %v do not include any of host 7's listen addrs %v", ai.Addrs, have)
	}
}

// TestNetworksDoNotMix runs two networks on the same loopback and even joins
// a node of one through a node of the other: neither ever enters the other's
// peer table.
func TestNetworksDoNotMix(t *testing.T) {
	a0 := startNode(t, testConfig(t, "net-a"))
	b0 := startNode(t, testConfig(t, "net-b"))
	aBoot, bBoot := firstAddr(t, a0), firstAddr(t, b0)
	var as, bs []*Node
	as = append(as, a0)
	bs = append(bs, b0)
	for i := 0; i < 3; i++ {
		as = append(as, startNode(t, testConfig(t, "net-a", aBoot)))
		// B nodes are also given A's bootstrap node: they connect to it, but
		// it must never count as a B member, nor they as A members.
		bs = append(bs, startNode(t, testConfig(t, "net-b", bBoot, aBoot)))
	}
	inA := map[peer.ID]bool{}
	for _, n := range as {
		inA[n.ID()] = true
	}
	waitFor(t, 30*time.Second, func() bool {
		for _, set := range [][]*Node{as, bs} {
			for _, n := range set {
				if len(n.Peers()) < 3 {
					return false
				}
			}
		}
		return true
	}, func() string { return "A " + peerCounts(as) + "; B " + peerCounts(bs) })
	for _, n := range as {
		for _, p := range n.Peers() {
			if !inA[p] {
				t.Errorf("A node %s has B peer %s in its table", n.ID(), p)
			}
		}
	}
	for _, n := range bs {
		for _, p := range append(n.Peers(), n.Discovery().Known()...) {
			if inA[p] {
				t.Errorf("B node %s has A peer %s in its table or pool", n.ID(), p)
			}
		}
	}

	// A B node whose only bootstrap peer is an A node cannot join.
	cfg := testConfig(t, "net-b", aBoot)
	cfg.Discovery.BootstrapTimeout = 2 * time.Second
	lone, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer lone.Close()
	err = lone.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), `not a member of network "net-b"`) {
		t.Fatalf("joining net-b through a net-a node: got %v, want an error saying it is not a member", err)
	}
}
