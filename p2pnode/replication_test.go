package p2pnode

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	msync "github.com/murmur-p2p/murmur/sync"
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
			if c.Kind != msync.ChangeReceived {
				continue
			}
			if c.Event.ID() == ev.ID() && string(c.Event.Value) == "hello" {
				gotPut = true
			}
			if c.Event.Op == msync.OpApp && c.Event.Key == "chat" && string(c.Event.Value) == "hi all" {
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
	if _, err := n.Get("missing"); !errorsIs(err, ErrNotFound) {
		t.Fatalf("Get missing: %v", err)
	}
	n.Close()
	if _, err := n.Get("k"); err != ErrClosed {
		t.Fatalf("Get after Close: %v", err)
	}
}
