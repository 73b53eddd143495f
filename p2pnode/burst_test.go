package p2pnode

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/security"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// TestHonestBurstKeepsPeersConnected is issue 11's burst: 64 concurrent
// writers through all three nodes of a cluster at once, with each node's
// per-peer budget set far below what the burst needs and a ban threshold of
// three faults. The budget must slow the senders down, not ban them: after
// the burst every node still has both peers, nobody is banned, and every
// acknowledged write is on every node. (Before flow control, the same burst
// over a per-peer message limit banned the writers' peers: see issue 11.)
func TestHonestBurstKeepsPeersConnected(t *testing.T) {
	const writers, perWriter = 64, 12
	nodes := startCluster(t, "burst", 3, 2, func(i int, c *Config) {
		c.Store = "pebble"
		c.Ban.Threshold = 3
		// About 150 events a second per peer: a fraction of the burst.
		c.Rate = security.RateConfig{BytesPerSecond: 192 << 10, Burst: 32 << 10, EventCost: 1024, MaxWait: time.Second}
	})

	// acked[i] is the highest sequence number node i acknowledged.
	acked := make([]uint64, len(nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := w % len(nodes)
			for k := 0; k < perWriter; k++ {
				key := fmt.Sprintf("burst/%02d/%03d", w, k)
				for {
					ev, err := nodes[i].Put(key, []byte(strings.Repeat("v", 100)))
					if errors.Is(err, replica.ErrOverloaded) {
						time.Sleep(10 * time.Millisecond) // the API's 503: back off and retry
						continue
					}
					if err != nil {
						errs <- fmt.Errorf("writer %d put %s on node %d: %w", w, key, i, err)
						return
					}
					mu.Lock()
					acked[i] = max(acked[i], ev.Seq)
					mu.Unlock()
					break
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	ids := make([]replica.PeerID, len(nodes))
	for i, n := range nodes {
		ids[i] = replica.PeerID(n.ID())
	}
	var missing string
	waitFor(t, 3*time.Minute, func() bool {
		missing = ""
		for j, n := range nodes {
			vv, err := n.VersionVector()
			if err != nil {
				t.Fatalf("node %d version vector: %v", j, err)
			}
			for i, id := range ids {
				if vv[id] < acked[i] {
					missing += fmt.Sprintf(" node %d holds %d of node %d's %d writes;", j, vv[id], i, acked[i])
				}
			}
		}
		return missing == ""
	}, func() string { return "acknowledged writes missing:" + missing })

	for i, n := range nodes {
		if b := n.Banned(); len(b) > 0 {
			t.Errorf("node %d banned %d peers after an honest burst: %v", i, len(b), b)
		}
		if p := len(n.Peers()); p != len(nodes)-1 {
			t.Errorf("node %d has %d peers after the burst, want %d", i, p, len(nodes)-1)
		}
		st, err := n.Stats()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("node %d: rate-limited drops %d, inbox drops %d, rejected %d", i, st.RateLimited, st.InboxDropped, st.Rejected)
	}
}
