package security

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Role is what a member certificate lets its holder do.
type Role string

// The roles, each including the one before: a reader receives the network's
// data and writes nothing; a writer also writes keys (and publishes topics)
// under its certificate's prefixes; an admin writes every key.
const (
	RoleReader Role = "reader"
	RoleWriter Role = "writer"
	RoleAdmin  Role = "admin"
)

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleReader, RoleWriter, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("invalid role %q: want reader, writer or admin", s)
}

// Limits on certificates: one travels with every event in a closed network,
// inside the event's signature field (protocol.MaxSignatureSize, 1024
// bytes, bounds all of it).
const (
	// MaxCertSize bounds an encoded certificate (JSON body and signature).
	MaxCertSize = 800
	// MaxCertPrefixes bounds the key prefixes of one certificate.
	MaxCertPrefixes = 8
)

// Encoding prefixes and signing domains. A signature over one kind of
// document can never be taken for a signature over another.
const (
	certTextPrefix       = "murmur-cert-v1:"
	revocationTextPrefix = "murmur-revocation-v1:"
	certDomain           = "murmur/cert/v1\x00"
	revocationDomain     = "murmur/revocation/v1\x00"
)

// Errors of certificate checks. Every refusal wraps ErrNotAdmitted (a peer
// without a valid certificate) or ErrNotPermitted (a member acting beyond
// its role).
var (
	ErrNotAdmitted  = errors.New("not admitted to the network")
	ErrNotPermitted = errors.New("not permitted")
	ErrBadCert      = errors.New("invalid certificate")
)

// Certificate is a member certificate: the network authority's statement
// that Peer belongs to Network with Role (for writers, under Prefixes) from
// Issued until Expires.
type Certificate struct {
	Version   int      `json:"v"`
	Network   string   `json:"network"`
	Peer      string   `json:"peer"`
	Authority string   `json:"authority"`
	Role      Role     `json:"role"`
	Prefixes  []string `json:"prefixes,omitempty"`
	Issued    int64    `json:"issued"`  // Unix seconds
	Expires   int64    `json:"expires"` // Unix seconds
}

// SignedCert is a certificate with the authority's signature. Raw is the
// exact JSON that was signed; it is what travels and is verified.
type SignedCert struct {
	Certificate
	Raw       []byte
	Signature []byte
}

// Revocation is the authority's statement that Peer's membership ends at
// RevokedAt: events its certificate would allow are refused from then on,
// and its connections are closed.
type Revocation struct {
	Version   int    `json:"v"`
	Network   string `json:"network"`
	Peer      string `json:"peer"`
	Authority string `json:"authority"`
	RevokedAt int64  `json:"revoked_at"` // Unix nanoseconds
	Reason    string `json:"reason,omitempty"`
}

// SignedRevocation is a revocation with the authority's signature over Raw.
type SignedRevocation struct {
	Revocation
	Raw       []byte
	Signature []byte
}

// GenerateAuthorityKey returns a new Ed25519 network authority key.
func GenerateAuthorityKey() (crypto.PrivKey, error) {
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate network authority key: %w", err)
	}
	return k, nil
}

// AuthorityID names an authority key in configs and certificates: the
// libp2p peer ID of the key, which embeds its public key.
func AuthorityID(key crypto.PrivKey) (string, error) {
	id, err := PeerIDFromKey(key)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// IssueCert signs a certificate for p with the authority key.
func IssueCert(authority crypto.PrivKey, network string, p peer.ID, role Role, prefixes []string, issued time.Time, validFor time.Duration) (*SignedCert, error) {
	auth, err := AuthorityID(authority)
	if err != nil {
		return nil, err
	}
	if validFor <= 0 {
		return nil, fmt.Errorf("issue certificate: validity %s must be positive", validFor)
	}
	c := Certificate{Version: 1, Network: network, Peer: p.String(), Authority: auth, Role: role,
		Prefixes: prefixes, Issued: issued.Unix(), Expires: issued.Add(validFor).Unix()}
	if err := c.check(); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode certificate: %w", err)
	}
	sig, err := authority.Sign(append([]byte(certDomain), raw...))
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	sc := &SignedCert{Certificate: c, Raw: raw, Signature: sig}
	if len(sc.Binary()) > MaxCertSize {
		return nil, fmt.Errorf("issue certificate: %d bytes encoded, limit %d (fewer or shorter prefixes)", len(sc.Binary()), MaxCertSize)
	}
	return sc, nil
}

// check validates the fields of a certificate, whoever signed it.
func (c Certificate) check() error {
	if c.Version != 1 {
		return fmt.Errorf("%w: version %d, want 1", ErrBadCert, c.Version)
	}
	if _, err := peer.Decode(c.Peer); err != nil {
		return fmt.Errorf("%w: peer %q: %w", ErrBadCert, c.Peer, err)
	}
	if _, err := ParseRole(string(c.Role)); err != nil {
		return fmt.Errorf("%w: %w", ErrBadCert, err)
	}
	if len(c.Prefixes) > MaxCertPrefixes {
		return fmt.Errorf("%w: %d prefixes, limit %d", ErrBadCert, len(c.Prefixes), MaxCertPrefixes)
	}
	for _, p := range c.Prefixes {
		if p == "" {
			return fmt.Errorf("%w: empty prefix (leave prefixes out to allow every key)", ErrBadCert)
		}
	}
	if c.Expires <= c.Issued {
		return fmt.Errorf("%w: expires (%d) is not after issued (%d)", ErrBadCert, c.Expires, c.Issued)
	}
	return nil
}

// Binary is the compact encoding that travels with events: a 2-byte
// big-endian length of Raw, Raw, then the signature.
func (c *SignedCert) Binary() []byte {
	b := make([]byte, 0, 2+len(c.Raw)+len(c.Signature))
	b = append(b, byte(len(c.Raw)>>8), byte(len(c.Raw)))
	b = append(b, c.Raw...)
	return append(b, c.Signature...)
}

// Text is the printable encoding written to files and passed around by
// operators: murmur-cert-v1: followed by the base64url of Binary.
func (c *SignedCert) Text() string {
	return certTextPrefix + base64.RawURLEncoding.EncodeToString(c.Binary()) + "\n"
}

// ParseCertText decodes a certificate in Text form. It does not verify it.
func ParseCertText(s string) (*SignedCert, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), certTextPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: does not start with %q", ErrBadCert, certTextPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCert, err)
	}
	return ParseCertBinary(b)
}

// ParseCertBinary decodes a certificate in Binary form. It does not verify
// it.
func ParseCertBinary(b []byte) (*SignedCert, error) {
	if len(b) > MaxCertSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBadCert, len(b), MaxCertSize)
	}
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadCert, len(b))
	}
	n := int(b[0])<<8 | int(b[1])
	if 2+n > len(b) {
		return nil, fmt.Errorf("%w: body of %d bytes in %d", ErrBadCert, n, len(b))
	}
	raw, sig := b[2:2+n], b[2+n:]
	var c Certificate
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCert, err)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &SignedCert{Certificate: c, Raw: slices.Clone(raw), Signature: slices.Clone(sig)}, nil
}

// verifyAuthority checks sig over domain+raw against authority, which must
// be one of the trusted authority IDs.
func verifyAuthority(trusted []string, authority, domain string, raw, sig []byte) error {
	if !slices.Contains(trusted, authority) {
		return fmt.Errorf("signed by %s, which is not one of this network's authorities (network_authorities)", authority)
	}
	id, err := peer.Decode(authority)
	if err != nil {
		return fmt.Errorf("authority %q: %w", authority, err)
	}
	pub, err := id.ExtractPublicKey()
	if err != nil {
		return fmt.Errorf("public key of authority %s: %w", authority, err)
	}
	ok, err := pub.Verify(append([]byte(domain), raw...), sig)
	if err != nil || !ok {
		return fmt.Errorf("authority %s: %w", authority, ErrInvalidSignature)
	}
	return nil
}

// IssueRevocation signs a revocation of p's membership from at on.
func IssueRevocation(authority crypto.PrivKey, network string, p peer.ID, at time.Time, reason string) (*SignedRevocation, error) {
	auth, err := AuthorityID(authority)
	if err != nil {
		return nil, err
	}
	r := Revocation{Version: 1, Network: network, Peer: p.String(), Authority: auth, RevokedAt: at.UnixNano(), Reason: reason}
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode revocation: %w", err)
	}
	sig, err := authority.Sign(append([]byte(revocationDomain), raw...))
	if err != nil {
		return nil, fmt.Errorf("sign revocation: %w", err)
	}
	return &SignedRevocation{Revocation: r, Raw: raw, Signature: sig}, nil
}

// Text is the revocation's printable encoding, which is also the value of
// its key in the replicated state (RevocationKey).
func (r *SignedRevocation) Text() string {
	b := make([]byte, 0, 2+len(r.Raw)+len(r.Signature))
	b = append(b, byte(len(r.Raw)>>8), byte(len(r.Raw)))
	b = append(b, r.Raw...)
	b = append(b, r.Signature...)
	return revocationTextPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// ParseRevocationText decodes a revocation. It does not verify it.
func ParseRevocationText(s string) (*SignedRevocation, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), revocationTextPrefix)
	if !ok {
		return nil, fmt.Errorf("invalid revocation: does not start with %q", revocationTextPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(b) < 2 || len(b) > MaxCertSize {
		return nil, fmt.Errorf("invalid revocation: bad encoding")
	}
	n := int(b[0])<<8 | int(b[1])
	if 2+n > len(b) {
		return nil, fmt.Errorf("invalid revocation: body of %d bytes in %d", n, len(b))
	}
	var r Revocation
	dec := json.NewDecoder(bytes.NewReader(b[2 : 2+n]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("invalid revocation: %w", err)
	}
	if r.Version != 1 {
		return nil, fmt.Errorf("invalid revocation: version %d, want 1", r.Version)
	}
	if _, err := peer.Decode(r.Peer); err != nil {
		return nil, fmt.Errorf("invalid revocation: peer %q: %w", r.Peer, err)
	}
	return &SignedRevocation{Revocation: r, Raw: slices.Clone(b[2 : 2+n]), Signature: slices.Clone(b[2+n:])}, nil
}

// ReservedPrefix starts the keys murmur itself writes in a closed network's
// replicated state. Applications cannot write under it.
const ReservedPrefix = "_murmur/"

// RevocationPrefix starts the keys of replicated revocations:
// RevocationPrefix + peer ID.
const RevocationPrefix = ReservedPrefix + "revoked/"

// RevocationKey is the replicated key of a revocation of p.
func RevocationKey(p peer.ID) string { return RevocationPrefix + p.String() }
