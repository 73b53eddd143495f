package security

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/murmur-p2p/murmur/sync/replica"
)

func newTestSigner(t *testing.T) *Signer {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignerVerifierRoundTrip(t *testing.T) {
	s := newTestSigner(t)
	ev := &replica.Event{Origin: s.ID(), Seq: 1, Op: replica.OpPut, Key: "k", Value: []byte("v")}
	if err := ev.Sign(s); err != nil {
		t.Fatal(err)
	}
	if err := ev.Verify(Verifier{}); err != nil {
		t.Fatalf("valid event rejected: %v", err)
	}
	if s.PeerID().String() == "" || string(s.PeerID()) != string(s.ID()) {
		t.Fatal("peer ID and origin disagree")
	}
}

func TestVerifierRejectsTamperingAndForgery(t *testing.T) {
	s, other := newTestSigner(t), newTestSigner(t)
	ev := &replica.Event{Origin: s.ID(), Seq: 1, Op: replica.OpPut, Key: "k", Value: []byte("v")}
	if err := ev.Sign(s); err != nil {
		t.Fatal(err)
	}
	tampered := *ev
	tampered.Value = []byte("w")
	if err := tampered.Verify(Verifier{}); !errors.Is(err, replica.ErrBadSignature) || !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("tampered value: %v", err)
	}
	forged := *ev
	forged.Origin = other.ID() // signed by s, claims to come from other
	if err := forged.Verify(Verifier{}); !errors.Is(err, replica.ErrBadSignature) {
		t.Fatalf("forged origin: %v", err)
	}
	unsigned := *ev
	unsigned.Signature = nil
	if err := unsigned.Verify(Verifier{}); !errors.Is(err, replica.ErrBadSignature) {
		t.Fatalf("unsigned: %v", err)
	}
	if err := (Verifier{}).Verify(replica.PeerID("not a peer id"), []byte("m"), []byte("s")); err == nil {
		t.Fatal("garbage origin accepted")
	}
}

func TestNewSignerRejectsOtherKeyTypes(t *testing.T) {
	key, _, err := crypto.GenerateSecp256k1Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSigner(key); !errors.Is(err, ErrNotEd25519) {
		t.Fatalf("secp256k1 key: %v", err)
	}
	if _, err := NewSigner(nil); !errors.Is(err, ErrNotEd25519) {
		t.Fatalf("nil key: %v", err)
	}
}
