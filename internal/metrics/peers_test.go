package metrics

import (
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/murmur-p2p/murmur/p2pnode"
)

// During a partition the connection can outlive reachability by tens of
// seconds (TCP and yamux keepalives); gossip_peers_connected follows the
// failure detector instead, so it drops within fail_timeout.
func TestPeersConnectedDropsUnreachablePeers(t *testing.T) {
	var cut atomic.Bool
	reg := NewRegistry()
	a := startNode(t, t.TempDir(), []p2pnode.Option{p2pnode.WithPrometheusRegisterer(reg),
		p2pnode.WithReceiveLoss(func(peer.ID) bool { return cut.Load() })})
	reg.MustRegister(NewNodeCollector(a))
	startNode(t, t.TempDir(), nil, a.Addrs()[0].String())
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	waitValue := func(want float64, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			v, _ := value(scrape(t, srv.URL), "gossip_peers_connected")
			if v == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("gossip_peers_connected = %v after %s, want %v (connected: %d)", v, within, want, len(a.Peers()))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitValue(1, 20*time.Second)
	cut.Store(true) // nothing from the peer reaches A's engine any more
	waitValue(0, 20*time.Second)
	if len(a.Peers()) != 1 {
		t.Fatalf("the connection itself went away (%d peers); the test needs it to stay", len(a.Peers()))
	}
	cut.Store(false) // healed: counted again
	waitValue(1, 20*time.Second)
}
