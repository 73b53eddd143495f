package replica

import "errors"

// Signer signs events for the local node. Implementations must be safe for
// concurrent use: the engine signs a batch of local writes in parallel
// (putAll). security.Signer is the production implementation over libp2p
// keys.
type Signer interface {
	// ID returns the origin the signer signs as.
	ID() PeerID
	// Sign returns a signature over msg.
	Sign(msg []byte) ([]byte, error)
}

// Verifier checks an origin's signature. It must recover or look up the
// origin's public key itself (for Ed25519 libp2p peer IDs the key is embedded
// in the ID) and return a non-nil error for any signature that origin did not
// make.
type Verifier interface {
	Verify(origin PeerID, msg, sig []byte) error
}

// Authorizer is implemented by a Verifier that also decides whether an
// event's origin may write it (closed networks: roles and key prefixes).
// Event.Verify calls Authorize after the signature verified. Its answer
// must depend only on the event and on configuration every node shares, so
// that every node accepts or refuses the same events.
type Authorizer interface {
	Authorize(e *Event) error
}

// ErrUnauthorized marks an event its Authorizer refused.
var ErrUnauthorized = errors.New("unauthorized event")
