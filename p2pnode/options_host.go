package p2pnode

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/host"
)

// WithHost runs the node on h instead of a host it builds itself, for
// example a host of libp2p's mocknet in simulations and benchmarks, or a
// host the embedding application shares with other protocols. The caller
// owns h: the node registers its protocol handlers on it and uses it until
// Close, but never closes it. With WithHost, the config's listen addresses,
// transports, resource and connection manager settings, NAT options,
// WithConnectionGater, WithPrometheusRegisterer and WithLibp2pOptions do
// not apply (they configure a host the node builds); the allow-list and
// bans cannot refuse connections either, though a banned peer is still
// disconnected. Unless WithIdentity is given, the node takes h's private
// key from h's peerstore as its identity (the data dir's key file is not
// used); Start fails if the identity does not match h.
func WithHost(h host.Host) Option {
	return func(o *options) error {
		if h == nil {
			return errors.New("WithHost: nil host")
		}
		o.host = h
		if o.identity == nil {
			key := h.Peerstore().PrivKey(h.ID())
			if key == nil {
				return fmt.Errorf("WithHost: the peerstore of %s holds no private key for it; give one with WithIdentity", h.ID())
			}
			o.identity = key
		}
		return nil
	}
}

// hostToUse returns the host the node runs on: the WithHost host, wrapped
// so that closing it is left to its owner, or a new one.
func (n *Node) hostToUse() (host.Host, error) {
	h := n.opts.host
	if h == nil {
		return n.newHost()
	}
	if h.ID() != n.id {
		return nil, fmt.Errorf("start node: WithHost host is %s but the node's identity is %s", h.ID(), n.id)
	}
	return borrowedHost{h}, nil
}

// borrowedHost is a host the node uses but does not own: Close is a no-op.
type borrowedHost struct{ host.Host }

// Close leaves the host open for its owner.
func (borrowedHost) Close() error { return nil }
