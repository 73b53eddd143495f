package p2pnode

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// TestNodeRedialsPeersAfterBanEnds has node a ban its only peer b for two
// seconds, which disconnects them and leaves both alone. Once the ban ends
// they must find each other again without help: a node that dropped its
// peers redials them (issue 11: a node whose bans emptied its peer table
// stayed alone).
func TestNodeRedialsPeersAfterBanEnds(t *testing.T) {
	nodes := startCluster(t, "redial", 2, 1, func(i int, c *Config) {
		c.Ban.Threshold = 1
		c.Ban.Duration = 2 * time.Second
		c.Discovery.DiscoveryInterval = 500 * time.Millisecond
	})
	a, b := nodes[0], nodes[1]
	a.fault(b.ID(), "test")
	waitFor(t, 10*time.Second, func() bool {
		return a.Host().Network().Connectedness(b.ID()) != network.Connected
	}, func() string { return "banned peer still connected" })
	waitFor(t, 60*time.Second, func() bool {
		return len(a.Banned()) == 0 && a.Host().Network().Connectedness(b.ID()) == network.Connected &&
			len(a.Peers()) == 1 && len(b.Peers()) == 1
	}, func() string { return "peers did not reconnect after the ban ended: " + peerCounts(nodes) })
	// They replicate again.
	if _, err := b.Put("after-ban", []byte("v")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() bool {
		v, err := a.Get("after-ban")
		return err == nil && string(v) == "v"
	}, func() string { return "write after the ban did not replicate" })
}
