package p2pnode

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/dhtdiscovery"
)

func TestQUICOnly(t *testing.T) {
	cfgA := testConfig(t, "quic")
	cfgA.Listen = []string{"/ip4/127.0.0.1/udp/0/quic-v1"}
	a := startNode(t, cfgA)
	boot := firstAddr(t, a)
	if !strings.Contains(boot, "/quic-v1/") {
		t.Fatalf("QUIC-only node advertises %s", boot)
	}
	cfgB := testConfig(t, "quic", boot)
	cfgB.Listen = []string{"/ip4/127.0.0.1/udp/0/quic-v1"}
	b := startNode(t, cfgB)
	waitFor(t, 10*time.Second, func() bool { return len(a.Peers()) == 1 && len(b.Peers()) == 1 },
		func() string { return peerCounts([]*Node{a, b}) })
	conns := b.Host().Network().ConnsToPeer(a.ID())
	if len(conns) == 0 || conns[0].ConnState().Transport != "quic-v1" {
		t.Fatalf("connection is not QUIC: %+v", conns)
	}
}

func TestTCPConnectionIsNoiseAndYamux(t *testing.T) {
	a := startNode(t, testConfig(t, "stack"))
	b := startNode(t, testConfig(t, "stack", firstAddr(t, a)))
	conns := b.Host().Network().ConnsToPeer(a.ID())
	if len(conns) == 0 {
		t.Fatal("not connected")
	}
	st := conns[0].ConnState()
	if st.Security != "/noise" || st.StreamMultiplexer != "/yamux/1.0.0" || st.Transport != "tcp" {
		t.Fatalf("connection state %+v, want tcp + /noise + /yamux/1.0.0", st)
	}
}

func TestPeerEvents(t *testing.T) {
	a := startNode(t, testConfig(t, "events"))
	events, cancel := a.Discovery().Subscribe(16)
	defer cancel()
	bn, err := New(testConfig(t, "events", firstAddr(t, a)))
	if err != nil {
		t.Fatal(err)
	}
	if err := bn.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	expect := func(kind dhtdiscovery.PeerEventKind, p peer.ID) {
		t.Helper()
		select {
		case ev := <-events:
			if ev.Kind != kind || ev.Peer != p {
				t.Fatalf("got event %v %s, want %v %s", ev.Kind, ev.Peer, kind, p)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %v event for %s within 10s", kind, p)
		}
	}
	expect(dhtdiscovery.PeerJoined, bn.ID())
	if got := a.Peers(); len(got) != 1 || got[0] != bn.ID() {
		t.Fatalf("Peers() = %v, want [%s]", got, bn.ID())
	}
	if err := bn.Close(); err != nil {
		t.Fatal(err)
	}
	expect(dhtdiscovery.PeerLeft, bn.ID())
	if len(a.Peers()) != 0 {
		t.Fatalf("Peers() after the peer left: %v", a.Peers())
	}
}

func TestBootstrapPeerDown(t *testing.T) {
	_, deadID := newKey(t)
	dead := "/ip4/127.0.0.1/tcp/1/p2p/" + deadID.String()
	cfg := testConfig(t, "boot", dead)
	cfg.Discovery.BootstrapTimeout = time.Second
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	start := time.Now()
	err = n.Start(context.Background())
	if !errors.Is(err, dhtdiscovery.ErrNoBootstrapPeer) {
		t.Fatalf("got %v, want ErrNoBootstrapPeer", err)
	}
	if !strings.Contains(err.Error(), deadID.String()) || !strings.Contains(err.Error(), "bootstrap_timeout") {
		t.Fatalf("error %q should name the peer and the setting", err)
	}
	if el := time.Since(start); el < time.Second {
		t.Fatalf("gave up after %s, before bootstrap_timeout", el)
	}
}

// TestBootstrapRetriesUntilPeerComesUp gives a node two bootstrap peers, one
// down for good and one that starts only after the node began retrying.
func TestBootstrapRetriesUntilPeerComesUp(t *testing.T) {
	keyA, idA := newKey(t)
	_, deadID := newKey(t)
	// Reserve a port for A by starting and stopping a node on port 0.
	probe := startNode(t, testConfig(t, "retry"))
	addrA := firstAddr(t, probe)
	probe.Close()
	addrA = strings.Replace(addrA, probe.ID().String(), idA.String(), 1)

	cfgB := testConfig(t, "retry", "/ip4/127.0.0.1/tcp/1/p2p/"+deadID.String(), addrA)
	b, err := New(cfgB)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	started := make(chan error, 1)
	go func() { started <- b.Start(context.Background()) }()

	select {
	case err := <-started:
		t.Fatalf("Start returned %v before any bootstrap peer was up", err)
	case <-time.After(700 * time.Millisecond): // B has failed at least twice by now
	}
	cfgA := testConfig(t, "retry")
	cfgA.Listen = []string{strings.Split(addrA, "/p2p/")[0]}
	a := startNode(t, cfgA, WithIdentity(keyA))
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("B did not connect to A after A came up")
	}
	if b.Host().Network().Connectedness(a.ID()) != network.Connected {
		t.Fatal("B started but is not connected to A")
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	n, err := New(testConfig(t, "close"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil { // never started
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close: %v, want ErrClosed", err)
	}
	m := startNode(t, testConfig(t, "close"))
	for i := 0; i < 3; i++ {
		if err := m.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if len(m.Host().Network().Peers()) != 0 || len(m.Host().Network().ListenAddresses()) != 0 {
		t.Fatal("host still has peers or listeners after Close")
	}
}

func TestNewRejectsBadConfigAndIdentity(t *testing.T) {
	cfg := testConfig(t, "bad")
	cfg.Discovery.Bootstrap = []string{"/ip4/1.2.3/tcp"}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), `bootstrap[0]: invalid multiaddr "/ip4/1.2.3/tcp"`) {
		t.Fatalf("got %v", err)
	}
	cfg = testConfig(t, "bad")
	cfg.DataDir = ""
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "data_dir: required") {
		t.Fatalf("got %v", err)
	}
}
