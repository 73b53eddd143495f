package p2pnode

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/dhtdiscovery"
)

// TestBootstrapThroughAnotherNetworkFailsFast: when every bootstrap peer
// answers and is of another network, Start fails at once with
// ErrBootstrapOtherNetwork instead of waiting out bootstrap_timeout and
// claiming nobody answered.
func TestBootstrapThroughAnotherNetworkFailsFast(t *testing.T) {
	a := startNode(t, testConfig(t, "net-a"))
	cfg := testConfig(t, "net-b", firstAddr(t, a))
	cfg.Discovery.BootstrapTimeout = 10 * time.Minute
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = n.Start(ctx)
	if !errors.Is(err, dhtdiscovery.ErrBootstrapOtherNetwork) {
		t.Fatalf("got %v, want ErrBootstrapOtherNetwork", err)
	}
	for _, want := range []string{`network "net-b"`, a.ID().String(), "murmur/"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// TestBootstrapWaitsWhileAPeerMayStillAnswer: one foreign bootstrap peer
// and one that is down is not a reason to give up early.
func TestBootstrapWaitsWhileAPeerMayStillAnswer(t *testing.T) {
	a := startNode(t, testConfig(t, "net-a"))
	down := startNode(t, testConfig(t, "net-b"))
	downAddr := firstAddr(t, down)
	down.Close()
	cfg := testConfig(t, "net-b", firstAddr(t, a), downAddr)
	cfg.Discovery.BootstrapTimeout = 3 * time.Second
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	err = n.Start(context.Background())
	if !errors.Is(err, dhtdiscovery.ErrNoBootstrapPeer) {
		t.Fatalf("got %v, want ErrNoBootstrapPeer after the timeout", err)
	}
}

// TestAgentVersionIsMurmur: peers see the agent murmur/<version>.
func TestAgentVersionIsMurmur(t *testing.T) {
	a := startNode(t, testConfig(t, "agent"))
	b := startNode(t, testConfig(t, "agent", firstAddr(t, a)))
	// b's Start waited for b's identify of a; a's identify of b may still run.
	var av any
	waitFor(t, 30*time.Second, func() bool {
		av, _ = a.Host().Peerstore().Get(b.ID(), "AgentVersion")
		return av != nil
	}, func() string { return "a has not identified b" })
	if s, _ := av.(string); !strings.HasPrefix(s, "murmur/") {
		t.Fatalf("agent version %q, want murmur/<version>", av)
	}
}
