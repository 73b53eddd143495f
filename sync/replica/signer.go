package replica

// Signer signs events for the local node. Implementations must be safe to
// call from the engine's goroutine; security.Ed25519Signer is the production
// implementation over libp2p keys.
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
