package dhtdiscovery

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
)

// netnsEnv marks a test process running in its own network namespace.
const netnsEnv = "MURMUR_TEST_NETNS"

// inOwnNetwork runs the calling test again in a network namespace of its
// own, holding only a loopback interface with multicast on, so that its
// mDNS traffic reaches nothing but the test's own hosts. It returns true in
// the outer process (which must then return), false inside the namespace.
func inOwnNetwork(t *testing.T) bool {
	t.Helper()
	if os.Getenv(netnsEnv) == "1" {
		return false
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatalf("this test runs in a network namespace of its own, made with unshare (util-linux), which is not installed: %v", err)
	}
	script := `ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo && exec "$0" "$@"`
	cmd := exec.Command(unshare, "--net", "--map-root-user", "--", "sh", "-c", script,
		os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in a network namespace of its own:\n%s", out)
	if err != nil {
		t.Fatalf("the test in its own network namespace failed (%v); needs unshare --net --map-root-user and iproute2's ip to work", err)
	}
	return true
}

// startMDNSNode starts a host on loopback with discovery in network, mDNS
// on (loopback allowed) and no bootstrap peer.
func startMDNSNode(t *testing.T, network string) *Discovery {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	cfg := DefaultConfig()
	cfg.Network = network
	cfg.MDNS = true
	cfg.mdnsLoopback = true
	d, err := New(h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if d.mdns == nil {
		t.Fatal("mDNS did not start (see the log above)")
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestMDNSFindsTheSameNetworkOnly(t *testing.T) {
	if inOwnNetwork(t) {
		return
	}
	a1, a2 := startMDNSNode(t, "mdns-a"), startMDNSNode(t, "mdns-a")
	b1, b2 := startMDNSNode(t, "mdns-b"), startMDNSNode(t, "mdns-b")
	has := func(d *Discovery, other *Discovery) bool { return slices.Contains(d.Peers(), other.host.ID()) }
	deadline := time.Now().Add(60 * time.Second)
	for !(has(a1, a2) && has(a2, a1) && has(b1, b2) && has(b2, b1)) {
		if time.Now().After(deadline) {
			t.Fatalf("with no bootstrap peer, mDNS did not bring each network's two nodes together within 60s: a1 %v, a2 %v, b1 %v, b2 %v",
				a1.Peers(), a2.Peers(), b1.Peers(), b2.Peers())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The networks never mix: no member of one is in the other's table,
	// and no query of one was answered by the other (no connection).
	for _, d := range []*Discovery{a1, a2} {
		for _, other := range []*Discovery{b1, b2} {
			if has(d, other) || has(other, d) {
				t.Fatalf("networks mixed: %s and %s are in each other's tables", d.host.ID(), other.host.ID())
			}
			if c := d.host.Network().ConnsToPeer(other.host.ID()); len(c) > 0 {
				t.Fatalf("network mdns-a's %s is connected to mdns-b's %s: mDNS answers crossed networks", d.host.ID(), other.host.ID())
			}
		}
	}
	if MDNSService("mdns-a") == MDNSService("mdns-b") {
		t.Fatal("two networks share an mDNS service name")
	}
}

func TestMDNSOffWithoutALANInterface(t *testing.T) {
	// Outside a namespace of its own, a node that listens on loopback only
	// runs no mDNS: loopback is shared with other programs of this host.
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := listenInterfaces(h, false); err == nil {
		t.Fatal("listenInterfaces found a LAN interface for a loopback-only host")
	}
	ifs, err := listenInterfaces(h, true)
	if err != nil || len(ifs) != 1 || ifs[0] == nil {
		t.Fatalf("with loopback allowed: %v, %v; want the loopback interface", ifs, err)
	}
}

func TestMDNSServiceName(t *testing.T) {
	s := MDNSService("murmur")
	if len(s) != len("_murmur-01234567._udp") || s[:8] != "_murmur-" {
		t.Fatalf("service name %q: want _murmur-<8 hex>._udp (a service label has at most 15 characters)", s)
	}
}
