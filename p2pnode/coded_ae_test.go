package p2pnode

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestAntiEntropyCodedPathOnRealHosts: two nodes on Pebble stores (which
// keep the coded sketch) with digest sync effectively off; a write node 1
// never received, neither pushed nor announced, reaches it through an
// anti-entropy session that the coded fast path settles, over the real
// wire (AERequest/AEResponse coded fields).
func TestAntiEntropyCodedPathOnRealHosts(t *testing.T) {
	var cut atomic.Bool
	tune := func(_ int, c *Config) {
		c.Store = "pebble"
		c.Sync.SyncInterval = time.Hour
		c.Sync.AntiEntropyInterval = 300 * time.Millisecond
	}
	cfg0 := testConfig(t, "codedae")
	tune(0, &cfg0)
	n0 := startNode(t, cfg0)
	cfg1 := testConfig(t, "codedae", firstAddr(t, n0))
	tune(1, &cfg1)
	n1 := startNode(t, cfg1, WithReceiveLoss(func(peer.ID) bool { return cut.Load() }))
	nodes := []*Node{n0, n1}
	waitFor(t, 30*time.Second, func() bool { return len(n0.Peers()) >= 1 && len(n1.Peers()) >= 1 }, func() string { return peerCounts(nodes) })
	for i := range 20 {
		if _, err := n0.Put(fmt.Sprintf("k/%02d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, nodes, 20, 30*time.Second)

	cut.Store(true)
	if _, err := n0.Put("missed", []byte("written while node 1 heard nothing")); err != nil {
		t.Fatal(err)
	}
	// Let every push, announcement and retry of the write go unheard.
	st0, _ := n0.Stats()
	waitFor(t, 30*time.Second, func() bool {
		st, _ := n0.Stats()
		return st.Engine.AERounds >= st0.Engine.AERounds+3
	}, func() string { return "node 0 started no anti-entropy sessions" })
	if v, err := n1.Get("missed"); err == nil {
		t.Fatalf("node 1 has the write before the cut healed: %q", v)
	}
	cut.Store(false)
	waitFor(t, 30*time.Second, func() bool {
		v, err := n1.Get("missed")
		return err == nil && string(v) == "written while node 1 heard nothing"
	}, func() string { return "node 1 never got the missed write" })
	waitFor(t, 30*time.Second, func() bool {
		a, _ := n0.Stats()
		b, _ := n1.Stats()
		return a.Engine.AECoded+b.Engine.AECoded > 0
	}, func() string {
		a, _ := n0.Stats()
		b, _ := n1.Stats()
		return fmt.Sprintf("no coded session: node 0 %d rounds, %d matches; node 1 %d rounds, %d matches",
			a.Engine.AERounds, a.Engine.AEMatches, b.Engine.AERounds, b.Engine.AEMatches)
	})
}
