package p2pnode

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
)

// PeerRTT returns the smoothed round-trip time to p that the peerstore
// holds (an exponentially weighted average of PingPeer's measurements), or
// 0 when none was measured yet.
func (n *Node) PeerRTT(p peer.ID) time.Duration {
	h := n.Host()
	if h == nil {
		return 0
	}
	return h.Peerstore().LatencyEWMA(p)
}

// PingPeer measures one round trip to a connected peer with libp2p's ping
// protocol and records it in the peerstore's average (PeerRTT).
func (n *Node) PingPeer(ctx context.Context, p peer.ID) (time.Duration, error) {
	h := n.Host()
	if h == nil {
		return 0, ErrNotStarted
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the ping stream after the first result
	res, ok := <-ping.Ping(ctx, h, p)
	if !ok {
		return 0, fmt.Errorf("ping %s: %w", p, ctx.Err())
	}
	if res.Error != nil {
		return 0, fmt.Errorf("ping %s: %w", p, res.Error)
	}
	return res.RTT, nil
}
