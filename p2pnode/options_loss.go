package p2pnode

import "github.com/libp2p/go-libp2p/core/peer"

// WithReceiveLoss injects message loss for tests and benchmarks: every
// replication message received from a peer is dropped, as if lost on the
// link, when drop(from) returns true. It applies equally to engine messages
// on murmur's protocols (dropped after decoding, before the engine sees
// them) and, with dissemination: gossipsub, to event messages on the topic
// (ignored by the topic validator: neither delivered nor forwarded, and not
// marked seen, so a later copy from another peer is still accepted). drop
// is called concurrently and must be safe for that.
func WithReceiveLoss(drop func(from peer.ID) bool) Option {
	return func(o *options) error { o.recvLoss = drop; return nil }
}
