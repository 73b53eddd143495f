package security

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// ed25519SigSize is the size of an Ed25519 signature: an event's own
// signature, which a closed network's event signature field starts with.
const ed25519SigSize = 64

// Access is a closed network's membership and permission rules: the
// trusted authority keys, this node's certificate and the revocations
// known. It admits peers (member protocol), signs this node's events with
// its certificate attached, and verifies and authorizes received events.
//
// Two kinds of checks, with different clocks:
//   - Admitting a peer (a connection) uses the local clock: an expired or
//     revoked certificate gets the peer disconnected.
//   - Authorizing an event uses only the event: its certificate (carried in
//     its signature field), its key, op and timestamp, so every node gives
//     the same answer whenever and from whomever it receives it. A
//     revocation refuses its subject's events timestamped at or after
//     RevokedAt; until a node holds the revocation it cannot know, so
//     revocations replicate like writes and the revoked peer is
//     disconnected everywhere at once.
//
// Methods are safe for concurrent use.
type Access struct {
	network     string
	authorities []string
	// retired maps retired authorities to the time (Unix ns) before which
	// events under their certificates stay valid; they admit no one.
	retired map[string]int64
	self    peer.ID
	cert    *SignedCert
	certBin []byte

	mu      sync.Mutex
	revoked map[peer.ID]*SignedRevocation
	seen    *simplelru.LRU[[32]byte, *SignedCert] // verified certificates by hash
	// onRevoke is called (outside mu) with each newly revoked peer.
	onRevoke func(peer.ID)

	refusedEvents atomic.Uint64
	refusedPeers  atomic.Uint64
}

// NewAccess builds the rules of network for the node self, which presents
// cert (its own member certificate, signed by one of authorities).
func NewAccess(network string, authorities []string, self peer.ID, cert *SignedCert) (*Access, error) {
	if len(authorities) == 0 {
		return nil, fmt.Errorf("network_authorities: empty (a closed network needs at least one authority)")
	}
	for i, a := range authorities {
		if _, err := peer.Decode(a); err != nil {
			return nil, fmt.Errorf("network_authorities[%d]: invalid authority ID %q: %w", i, a, err)
		}
	}
	seen, err := simplelru.NewLRU[[32]byte, *SignedCert](1024, nil)
	if err != nil {
		return nil, err
	}
	a := &Access{network: network, authorities: slices.Clone(authorities), self: self,
		retired: make(map[string]int64), revoked: make(map[peer.ID]*SignedRevocation), seen: seen}
	if cert == nil {
		return nil, fmt.Errorf("member_cert_file: no certificate for this node (%s); ask the network's operator for one: murmur network admit %s", self, self)
	}
	if err := a.verifyCert(cert); err != nil {
		return nil, fmt.Errorf("member_cert_file: %w", err)
	}
	if cert.Peer != self.String() {
		return nil, fmt.Errorf("member_cert_file: the certificate is for %s, not this node (%s)", cert.Peer, self)
	}
	a.cert, a.certBin = cert, cert.Binary()
	return a, nil
}

// RetireAuthority keeps certificates of a former authority (one rotated
// out of network_authorities) valid for the events their holders signed
// before until, so the network's history still replicates to new nodes;
// they admit no peer and allow no later write. Call it before use.
func (a *Access) RetireAuthority(id string, until time.Time) error {
	if _, err := peer.Decode(id); err != nil {
		return fmt.Errorf("retired authority %q: %w", id, err)
	}
	if slices.Contains(a.authorities, id) {
		return fmt.Errorf("retired authority %s is also in network_authorities", id)
	}
	a.retired[id] = until.UnixNano()
	return nil
}

// trusted lists every authority whose signatures verify: the active ones
// and the retired ones.
func (a *Access) trusted() []string {
	out := slices.Clone(a.authorities)
	for id := range a.retired {
		out = append(out, id)
	}
	return out
}

// Cert returns this node's certificate.
func (a *Access) Cert() *SignedCert { return a.cert }

// Credential is what this node presents on the member protocol: its
// certificate, Binary-encoded.
func (a *Access) Credential() []byte { return a.certBin }

// OnRevoke sets a function called with each peer whose revocation becomes
// known (to close its connections). Set it before use.
func (a *Access) OnRevoke(fn func(peer.ID)) { a.onRevoke = fn }

// RefusedEvents counts events refused by Authorize; RefusedPeers counts
// peers refused admission.
func (a *Access) RefusedEvents() uint64 { return a.refusedEvents.Load() }

// RefusedPeers counts peers whose credentials Admit refused.
func (a *Access) RefusedPeers() uint64 { return a.refusedPeers.Load() }

// verifyCert checks c's authority signature and network.
func (a *Access) verifyCert(c *SignedCert) error {
	if c.Network != a.network {
		return fmt.Errorf("%w: %w: issued for network %q, not %q", ErrNotAdmitted, ErrBadCert, c.Network, a.network)
	}
	if err := verifyAuthority(a.trusted(), c.Authority, certDomain, c.Raw, c.Signature); err != nil {
		return fmt.Errorf("%w: %w: %w", ErrNotAdmitted, ErrBadCert, err)
	}
	return nil
}

// certFromBinary parses and verifies a Binary certificate, remembering the
// verified ones (they arrive with every event).
func (a *Access) certFromBinary(b []byte) (*SignedCert, error) {
	h := sha256.Sum256(b)
	a.mu.Lock()
	c, ok := a.seen.Get(h)
	a.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err := ParseCertBinary(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotAdmitted, err)
	}
	if err := a.verifyCert(c); err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.seen.Add(h, c)
	a.mu.Unlock()
	return c, nil
}

// Admit checks the credential p presented on the member protocol against
// the local clock: a certificate of this network, for p, signed by a
// trusted authority, in force now and not revoked.
func (a *Access) Admit(p peer.ID, cred []byte) error {
	err := a.admit(p, cred, time.Now())
	if err != nil {
		a.refusedPeers.Add(1)
	}
	return err
}

func (a *Access) admit(p peer.ID, cred []byte, now time.Time) error {
	c, err := a.certFromBinary(cred)
	if err != nil {
		return err
	}
	if c.Peer != p.String() {
		return fmt.Errorf("%w: presented the certificate of %s", ErrNotAdmitted, c.Peer)
	}
	return a.inForce(c, now)
}

// inForce checks c's authority, validity period and revocation at now.
func (a *Access) inForce(c *SignedCert, now time.Time) error {
	if !slices.Contains(a.authorities, c.Authority) {
		return fmt.Errorf("%w: certificate of %s is signed by retired authority %s", ErrNotAdmitted, c.Peer, c.Authority)
	}
	if now.Unix() >= c.Expires {
		return fmt.Errorf("%w: certificate of %s expired at %s", ErrNotAdmitted, c.Peer, time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	}
	if now.Unix() < c.Issued-int64(maxCertSkew/time.Second) {
		return fmt.Errorf("%w: certificate of %s is not valid before %s", ErrNotAdmitted, c.Peer, time.Unix(c.Issued, 0).UTC().Format(time.RFC3339))
	}
	if p, err := peer.Decode(c.Peer); err == nil {
		a.mu.Lock()
		r := a.revoked[p]
		a.mu.Unlock()
		if r != nil && now.UnixNano() >= r.RevokedAt {
			return fmt.Errorf("%w: %s was revoked at %s", ErrNotAdmitted, c.Peer, time.Unix(0, r.RevokedAt).UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// maxCertSkew is how far ahead of the local clock a certificate's issue
// time may be: the authority's clock and ours may disagree a little.
const maxCertSkew = 5 * time.Minute

// StillAdmitted reports whether a peer admitted with cred before is still
// admitted now (its certificate has not expired, nor been revoked).
func (a *Access) StillAdmitted(p peer.ID, cred []byte) bool {
	return a.admit(p, cred, time.Now()) == nil
}

// AddRevocation verifies a revocation (in Text form) and, if it is new,
// records it and reports its subject to OnRevoke.
func (a *Access) AddRevocation(text string) (peer.ID, error) {
	r, err := a.verifyRevocation(text)
	if err != nil {
		return "", err
	}
	p, _ := peer.Decode(r.Peer) // checked by ParseRevocationText
	a.mu.Lock()
	old := a.revoked[p]
	if old == nil || r.RevokedAt < old.RevokedAt {
		a.revoked[p] = r
	}
	a.mu.Unlock()
	if old == nil && a.onRevoke != nil {
		a.onRevoke(p)
	}
	return p, nil
}

func (a *Access) verifyRevocation(text string) (*SignedRevocation, error) {
	r, err := ParseRevocationText(text)
	if err != nil {
		return nil, err
	}
	if r.Network != a.network {
		return nil, fmt.Errorf("revocation for network %q, not %q", r.Network, a.network)
	}
	if err := verifyAuthority(a.authorities, r.Authority, revocationDomain, r.Raw, r.Signature); err != nil {
		return nil, fmt.Errorf("revocation of %s: %w", r.Peer, err)
	}
	return r, nil
}

// Revoked lists the peers with a known revocation.
func (a *Access) Revoked() []peer.ID {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]peer.ID, 0, len(a.revoked))
	for p := range a.revoked {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// CheckWrite decides whether the holder of cert may write key with op and
// value at time t (Unix nanoseconds). It is deterministic: the same inputs
// give the same answer on every node that holds the same revocations.
func (a *Access) CheckWrite(c *SignedCert, op replica.Op, key string, value []byte, t int64) error {
	if until, ok := a.retired[c.Authority]; ok && t >= until {
		return fmt.Errorf("%w: %s writes at %s under a certificate of authority %s, retired at %s", ErrNotPermitted, c.Peer,
			time.Unix(0, t).UTC().Format(time.RFC3339), c.Authority, time.Unix(0, until).UTC().Format(time.RFC3339))
	}
	if t >= c.Expires*int64(time.Second) {
		return fmt.Errorf("%w: %s writes at %s with a certificate that expired at %s", ErrNotPermitted, c.Peer,
			time.Unix(0, t).UTC().Format(time.RFC3339), time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	}
	if p, err := peer.Decode(c.Peer); err == nil {
		a.mu.Lock()
		r := a.revoked[p]
		a.mu.Unlock()
		if r != nil && t >= r.RevokedAt {
			return fmt.Errorf("%w: %s was revoked at %s", ErrNotPermitted, c.Peer, time.Unix(0, r.RevokedAt).UTC().Format(time.RFC3339))
		}
	}
	if c.Role == RoleReader {
		return fmt.Errorf("%w: %s is a reader and may not write %q", ErrNotPermitted, c.Peer, key)
	}
	if strings.HasPrefix(key, ReservedPrefix) {
		// Revocations are self-authenticating: any writer may carry one.
		if strings.HasPrefix(key, RevocationPrefix) && op == replica.OpPut {
			r, err := a.verifyRevocation(string(value))
			if err != nil {
				return fmt.Errorf("%w: %q: %w", ErrNotPermitted, key, err)
			}
			if key != RevocationPrefix+r.Peer {
				return fmt.Errorf("%w: %q holds the revocation of %s", ErrNotPermitted, key, r.Peer)
			}
			return nil
		}
		return fmt.Errorf("%w: %q is reserved for murmur (%s)", ErrNotPermitted, key, ReservedPrefix)
	}
	if c.Role == RoleAdmin || len(c.Prefixes) == 0 {
		return nil
	}
	for _, p := range c.Prefixes {
		if strings.HasPrefix(key, p) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s may write only under %s, not %q", ErrNotPermitted, c.Peer, strings.Join(c.Prefixes, ", "), key)
}

// CheckOwnWrite is CheckWrite for this node's next write (403 at the API
// before anything is signed).
func (a *Access) CheckOwnWrite(op replica.Op, key string, value []byte) error {
	if err := a.inForce(a.cert, time.Now()); err != nil {
		return fmt.Errorf("%w: this node: %w", ErrNotPermitted, err)
	}
	return a.CheckWrite(a.cert, op, key, value, time.Now().UnixNano())
}

// Signer returns a replica.Signer that signs as s and attaches this node's
// certificate after the signature, so every event carries the proof that
// its origin may write it.
func (a *Access) Signer(s *Signer) replica.Signer { return certSigner{s, a.certBin} }

type certSigner struct {
	*Signer
	cert []byte
}

func (c certSigner) Sign(msg []byte) ([]byte, error) {
	sig, err := c.Signer.Sign(msg)
	if err != nil {
		return nil, err
	}
	if len(sig) != ed25519SigSize {
		return nil, fmt.Errorf("sign: %d-byte signature, want %d", len(sig), ed25519SigSize)
	}
	return append(sig, c.cert...), nil
}

// Verifier returns the replica.Verifier of a closed network: it checks the
// origin's signature (the first 64 bytes of the signature field) and the
// certificate after it, and, as a replica.Authorizer, whether the
// certificate lets the origin write the event.
func (a *Access) Verifier() replica.Verifier { return accessVerifier{a} }

type accessVerifier struct{ a *Access }

func (v accessVerifier) Verify(origin replica.PeerID, msg, sig []byte) error {
	if len(sig) <= ed25519SigSize {
		return fmt.Errorf("%w: event of %s carries no member certificate", ErrNotAdmitted, peer.ID(origin))
	}
	if err := (Verifier{}).Verify(origin, msg, sig[:ed25519SigSize]); err != nil {
		return err
	}
	c, err := v.a.certFromBinary(sig[ed25519SigSize:])
	if err != nil {
		return err
	}
	if c.Peer != peer.ID(origin).String() {
		return fmt.Errorf("%w: event of %s carries the certificate of %s", ErrNotAdmitted, peer.ID(origin), c.Peer)
	}
	return nil
}

// Authorize implements replica.Authorizer: it runs after Verify succeeded.
func (v accessVerifier) Authorize(e *replica.Event) error {
	c, err := v.a.certFromBinary(e.Signature[ed25519SigSize:])
	if err == nil {
		err = v.a.CheckWrite(c, e.Op, e.Key, e.Value, e.Time.Wall)
	}
	if err != nil {
		v.a.refusedEvents.Add(1)
	}
	return err
}
