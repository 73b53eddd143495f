package replica

import (
	"crypto/ed25519"
	"errors"
)

// testSigner signs with a raw Ed25519 key; its PeerID is the public key.
type testSigner struct{ priv ed25519.PrivateKey }

func newTestSigner(seed byte) *testSigner {
	var s [32]byte
	s[0] = seed
	s[1] = 0x5a
	return newTestSignerFromSeed(s)
}

func newTestSignerFromSeed(s [32]byte) *testSigner {
	return &testSigner{priv: ed25519.NewKeyFromSeed(s[:])}
}

func (t *testSigner) ID() PeerID { return PeerID(t.priv.Public().(ed25519.PublicKey)) }

func (t *testSigner) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(t.priv, msg), nil }

// testVerifier verifies testSigner signatures.
type testVerifier struct{}

func (testVerifier) Verify(origin PeerID, msg, sig []byte) error {
	if len(origin) != ed25519.PublicKeySize {
		return errors.New("origin is not an ed25519 public key")
	}
	if !ed25519.Verify(ed25519.PublicKey(origin), msg, sig) {
		return errors.New("signature does not verify")
	}
	return nil
}

// signedEvent builds and signs an event.
func signedEvent(s *testSigner, seq uint64, op Op, key, value string, ctx VersionVector) *Event {
	e := &Event{Origin: s.ID(), Seq: seq, Time: Timestamp{Wall: int64(seq) * 1000}, Op: op, Key: key, Context: ctx}
	if value != "" {
		e.Value = []byte(value)
	}
	if err := e.Sign(s); err != nil {
		panic(err)
	}
	return e
}
