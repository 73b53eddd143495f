package controlapi

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// rttNode is what a node offers to measure round trips (*p2pnode.Node does).
type rttNode interface {
	PeerRTT(p peer.ID) time.Duration
	PingPeer(ctx context.Context, p peer.ID) (time.Duration, error)
}

// pingWait bounds how long GET /v1/peers?ping=1 waits for the pings.
const pingWait = 2 * time.Second

// fillRTT sets each peer's RTTMillis from the peerstore's smoothed round
// trip; with ?ping=1 it first pings the connected peers (concurrently,
// for up to pingWait), which is how the dashboard keeps the numbers fresh.
func (s *Server) fillRTT(r *http.Request, peers []Peer) {
	n, ok := s.node.(rttNode)
	if !ok {
		return
	}
	if v := r.URL.Query().Get("ping"); v == "1" || v == "true" {
		ctx, cancel := context.WithTimeout(r.Context(), pingWait)
		var wg sync.WaitGroup
		for _, p := range peers {
			id, err := peer.Decode(p.ID)
			if err != nil || !p.Connected {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := n.PingPeer(ctx, id); err != nil {
					log.Debugw("ping failed", "peer", id, "error", err)
				}
			}()
		}
		wg.Wait()
		cancel()
	}
	for i := range peers {
		if id, err := peer.Decode(peers[i].ID); err == nil {
			peers[i].RTTMillis = float64(n.PeerRTT(id).Microseconds()) / 1000
		}
	}
}
