package security

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// ErrNotEd25519 is returned for keys or peer IDs that are not Ed25519: only
// Ed25519 peer IDs embed their public key, which verification relies on.
var ErrNotEd25519 = errors.New("not an Ed25519 key")

// ErrInvalidSignature is returned when a signature does not verify.
var ErrInvalidSignature = errors.New("invalid signature")

// Signer signs events with a node's Ed25519 libp2p key. It implements
// sync.Signer; its ID is the raw peer ID derived from the key.
type Signer struct {
	key crypto.PrivKey
	id  replica.PeerID
}

var _ replica.Signer = (*Signer)(nil)

// NewSigner returns a Signer for an Ed25519 private key.
func NewSigner(key crypto.PrivKey) (*Signer, error) {
	if key == nil || key.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("new signer: %w", ErrNotEd25519)
	}
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("new signer: derive peer ID: %w", err)
	}
	return &Signer{key: key, id: replica.PeerID(id)}, nil
}

// ID returns the signer's peer ID as a sync origin.
func (s *Signer) ID() replica.PeerID { return s.id }

// PeerID returns the signer's libp2p peer ID.
func (s *Signer) PeerID() peer.ID { return peer.ID(s.id) }

// Sign returns the Ed25519 signature of msg.
func (s *Signer) Sign(msg []byte) ([]byte, error) {
	sig, err := s.key.Sign(msg)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return sig, nil
}

// Verifier verifies events against the public key embedded in their
// origin's Ed25519 peer ID. It implements sync.Verifier and is stateless,
// so the zero value is ready and safe for concurrent use.
type Verifier struct{}

var _ replica.Verifier = Verifier{}

// Verify checks that sig is origin's signature over msg.
func (Verifier) Verify(origin replica.PeerID, msg, sig []byte) error {
	pub, err := peer.ID(origin).ExtractPublicKey()
	if err != nil {
		return fmt.Errorf("public key of origin %s: %w", peer.ID(origin), err)
	}
	if pub.Type() != crypto.Ed25519 {
		return fmt.Errorf("origin %s: %w", peer.ID(origin), ErrNotEd25519)
	}
	ok, err := pub.Verify(msg, sig)
	if err != nil {
		return fmt.Errorf("verify signature of %s: %w", peer.ID(origin), err)
	}
	if !ok {
		return fmt.Errorf("origin %s: %w", peer.ID(origin), ErrInvalidSignature)
	}
	return nil
}
