package p2pnode

import (
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// gaters combines connection gaters: a connection passes only if every one
// lets it.
type gaters []connmgr.ConnectionGater

func (g gaters) InterceptPeerDial(p peer.ID) bool {
	for _, x := range g {
		if !x.InterceptPeerDial(p) {
			return false
		}
	}
	return true
}

func (g gaters) InterceptAddrDial(p peer.ID, a ma.Multiaddr) bool {
	for _, x := range g {
		if !x.InterceptAddrDial(p, a) {
			return false
		}
	}
	return true
}

func (g gaters) InterceptAccept(c network.ConnMultiaddrs) bool {
	for _, x := range g {
		if !x.InterceptAccept(c) {
			return false
		}
	}
	return true
}

func (g gaters) InterceptSecured(d network.Direction, p peer.ID, c network.ConnMultiaddrs) bool {
	for _, x := range g {
		if !x.InterceptSecured(d, p, c) {
			return false
		}
	}
	return true
}

func (g gaters) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	for _, x := range g {
		if ok, reason := x.InterceptUpgraded(c); !ok {
			return false, reason
		}
	}
	return true, 0
}
