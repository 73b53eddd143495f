package p2pnode

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// A node restarted while its only bootstrap peer is down rejoins through
// the members it remembers from before the restart.
func TestRestartRejoinsThroughRememberedPeers(t *testing.T) {
	a := startNode(t, testConfig(t, "peerstoretest"))
	b := startNode(t, testConfig(t, "peerstoretest", firstAddr(t, a)))
	cfgC := testConfig(t, "peerstoretest", firstAddr(t, a))
	c, err := New(cfgC)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() bool { return slices.Contains(c.Peers(), b.ID()) },
		func() string { return "C never connected to B" })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cfgC.DataDir, PeersFileName)); err != nil {
		t.Fatalf("no peers file after close: %v", err)
	}
	a.Close() // the only configured bootstrap peer is gone

	cfgC.Discovery.BootstrapTimeout = 10 * time.Second
	c2, err := New(cfgC)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Start(ctx); err != nil {
		t.Fatalf("restart with the bootstrap peer down: %v", err)
	}
	waitFor(t, 20*time.Second, func() bool { return slices.Contains(c2.Peers(), b.ID()) },
		func() string { return "restarted C did not rejoin B" })
}
