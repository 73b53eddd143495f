package p2pnode

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/p2pnode/mplex"
)

// TestMplexOnlyNodesReplicate runs a cluster whose nodes offer only mplex
// next to a default node (yamux, then mplex): every TCP connection falls to
// mplex and replication converges over it.
func TestMplexOnlyNodesReplicate(t *testing.T) {
	nodes := startCluster(t, "mplexrepl", 3, 2, func(i int, c *Config) {
		if i > 0 {
			c.Muxers = []string{MuxerMplex}
		}
	})
	for i, n := range nodes {
		if _, err := n.Put(fmt.Sprintf("k%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	waitConverged(t, nodes, len(nodes), 20*time.Second)
	for _, c := range nodes[0].Host().Network().Conns() {
		if got := c.ConnState().StreamMultiplexer; got != mplex.ID {
			t.Fatalf("connection to %s runs %s, want %s", c.RemotePeer(), got, mplex.ID)
		}
	}
}

func TestMuxersConfig(t *testing.T) {
	for _, tc := range []struct {
		muxers []string
		want   string
	}{
		{nil, "muxers: at least one is required"},
		{[]string{"yamux", "spdy"}, `muxers[1]: invalid value "spdy": want yamux or mplex`},
		{[]string{"mplex", "mplex"}, `muxers[1]: "mplex" is listed twice`},
	} {
		cfg := testConfig(t, "muxcfg")
		cfg.Muxers = tc.muxers
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("muxers %v: got %v, want %q", tc.muxers, err, tc.want)
		}
	}
}
