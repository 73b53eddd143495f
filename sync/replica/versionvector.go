package replica

import "github.com/murmur-p2p/murmur/sync/causal"

// The causality types live in sync/causal, which holds the rules as pure
// functions; these aliases keep the engine's API in one place.

// PeerID identifies a node and the origin of events. It holds the raw bytes
// of a libp2p peer ID (string(peer.ID)); the engine never interprets them
// except through the Verifier, which recovers the origin's public key.
type PeerID = causal.PeerID

// Causality is the outcome of comparing two version vectors or two writes.
type Causality = causal.Causality

// The four causal relations (see causal.Causality).
const (
	Equal      = causal.Equal
	Before     = causal.Before
	After      = causal.After
	Concurrent = causal.Concurrent
)

// Dot identifies one event: its origin and the origin's sequence number.
type Dot = causal.Dot

// VersionVector maps each origin to a sequence number (see
// causal.VersionVector).
type VersionVector = causal.VersionVector

// Digest is an order-independent, incrementally kept hash of a version
// vector (see causal.Digest).
type Digest = causal.Digest

// DigestOf computes the digest of v from scratch.
func DigestOf(v VersionVector) Digest { return causal.DigestOf(v) }

// minVV returns the pointwise minimum of a and b (missing entries are 0).
func minVV(a, b VersionVector) VersionVector { return causal.Min(a, b) }

// dominates reports whether a covers every entry of b.
func dominates(a, b VersionVector) bool { return a.Dominates(b) }
