package p2pnode

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/murmur-p2p/murmur/dhtdiscovery"
)

// testConfig returns a config for a loopback test node in network netName.
func testConfig(t testing.TB, netName string, bootstrap ...string) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.Discovery.Network = netName
	cfg.Discovery.Bootstrap = bootstrap
	cfg.Discovery.DiscoveryInterval = 250 * time.Millisecond
	cfg.Discovery.BootstrapTimeout = 15 * time.Second
	cfg.Store = "memory"
	cfg.Sync.SyncInterval = 200 * time.Millisecond
	cfg.TickInterval = 20 * time.Millisecond
	return cfg
}

// startNode creates and starts a node and closes it when the test ends.
func startNode(t testing.TB, cfg Config, opts ...Option) *Node {
	t.Helper()
	n, err := New(cfg, opts...)
	if err != nil {
		t.Fatalf("new node: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func firstAddr(t testing.TB, n *Node) string {
	t.Helper()
	addrs := n.Addrs()
	if len(addrs) == 0 {
		t.Fatal("node has no addresses")
	}
	return addrs[0].String()
}

// waitFor polls cond every 50ms until it holds or the deadline passes; on
// timeout it fails with the message describe returns.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %s", timeout, describe())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newKey(t testing.TB) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, id
}

func peerCounts(nodes []*Node) string {
	s := ""
	for i, n := range nodes {
		s += fmt.Sprintf(" %d:%d", i, len(n.Peers()))
	}
	return "peer counts" + s
}

// claimMember makes a bare host serve an open network's member protocol,
// which is all an open network asks of a member.
func claimMember(h host.Host, netName string) {
	h.SetStreamHandler(protocol.ID(dhtdiscovery.MemberProtocol(netName)), func(s network.Stream) { _ = s.Close() })
}
