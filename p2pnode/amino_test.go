package p2pnode

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/dhtdiscovery"
)

// TestAminoRendezvous: two nodes whose only bootstrap peer is a plain
// go-libp2p host serving the Amino DHT protocol (/ipfs/kad/1.0.0, as kubo
// does) find each other through provider records stored on that host, and
// the host, not a member, stays out of their tables. make test-interop runs
// the same against a kubo swarm.
func TestAminoRendezvous(t *testing.T) {
	ctx := context.Background()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	public, err := dht.New(h, dht.Mode(dht.ModeServer))
	if err != nil {
		t.Fatal(err)
	}
	defer public.Close()
	boot, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
	if err != nil {
		t.Fatal(err)
	}

	var nodes []*Node
	for range 2 {
		cfg := testConfig(t, "amino-test", boot[0].String())
		cfg.Discovery.DHT = dhtdiscovery.DHTAmino
		nodes = append(nodes, startNode(t, cfg))
	}
	waitFor(t, 60*time.Second, func() bool {
		return slices.Contains(nodes[0].Peers(), nodes[1].ID()) && slices.Contains(nodes[1].Peers(), nodes[0].ID())
	}, func() string { return peerCounts(nodes) })
	for _, n := range nodes {
		if slices.Contains(n.Peers(), h.ID()) {
			t.Fatalf("the DHT host, not a member, is in %s's table", n.ID())
		}
		if got := n.Host().Network().ConnsToPeer(h.ID()); len(got) == 0 {
			t.Fatalf("%s is not connected to the DHT host", n.ID())
		}
	}

	// The record is stored under the hashed key, which a stranger who knows
	// the network name but not its secret cannot compute.
	key := dhtdiscovery.AminoRendezvousKey("amino-test", nil)
	c, err := dhtdiscovery.RendezvousCID(key)
	if err != nil {
		t.Fatal(err)
	}
	var found []peer.ID
	waitFor(t, 60*time.Second, func() bool {
		found = found[:0]
		for ai := range public.FindProvidersAsync(ctx, c, 10) {
			found = append(found, ai.ID)
		}
		return slices.Contains(found, nodes[0].ID()) && slices.Contains(found, nodes[1].ID())
	}, func() string { return "providers of " + c.String() + " do not include both nodes" })
	if dhtdiscovery.AminoRendezvousKey("amino-test", []byte("s3cret")) == key ||
		dhtdiscovery.AminoRendezvousKey("amino-test2", nil) == key {
		t.Fatal("rendezvous keys of different networks or secrets collide")
	}
}
