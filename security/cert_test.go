package security

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/sync/replica"
)

func testPeer(t *testing.T) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, id
}

func TestCheckWrite(t *testing.T) {
	auth, _ := GenerateAuthorityKey()
	authID, _ := AuthorityID(auth)
	_, self := testPeer(t)
	now := time.Now()
	issue := func(p peer.ID, role Role, prefixes ...string) *SignedCert {
		c, err := IssueCert(auth, "n", p, role, prefixes, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, err := NewAccess("n", []string{authID}, self, issue(self, RoleAdmin))
	if err != nil {
		t.Fatal(err)
	}
	_, w := testPeer(t)
	writer := issue(w, RoleWriter, "app/", "logs/")
	_, r := testPeer(t)
	reader := issue(r, RoleReader)
	_, x := testPeer(t)
	rev, _ := IssueRevocation(auth, "n", x, now, "")
	t0 := now.UnixNano()
	cases := []struct {
		name  string
		c     *SignedCert
		op    replica.Op
		key   string
		value string
		t     int64
		ok    bool
	}{
		{"writer in prefix", writer, replica.OpPut, "app/x", "v", t0, true},
		{"writer second prefix delete", writer, replica.OpDelete, "logs/1", "", t0, true},
		{"writer outside prefixes", writer, replica.OpPut, "ap", "v", t0, false},
		{"writer app topic outside", writer, replica.OpApp, "alerts", "v", t0, false},
		{"writer after expiry", writer, replica.OpPut, "app/x", "v", now.Add(2 * time.Hour).UnixNano(), false},
		{"reader", reader, replica.OpPut, "app/x", "v", t0, false},
		{"admin anywhere", a.Cert(), replica.OpPut, "anything", "v", t0, true},
		{"reserved key", a.Cert(), replica.OpPut, "_murmur/x", "v", t0, false},
		{"revocation", writer, replica.OpPut, RevocationKey(x), rev.Text(), t0, true},
		{"revocation under the wrong key", writer, replica.OpPut, RevocationKey(w), rev.Text(), t0, false},
		{"forged revocation", writer, replica.OpPut, RevocationKey(x), strings.Replace(rev.Text(), "A", "B", 1), t0, false},
		{"delete a revocation", a.Cert(), replica.OpDelete, RevocationKey(x), "", t0, false},
	}
	for _, tc := range cases {
		err := a.CheckWrite(tc.c, tc.op, tc.key, []byte(tc.value), tc.t)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrNotPermitted) {
			t.Errorf("%s: %v does not wrap ErrNotPermitted", tc.name, err)
		}
	}
	// A revocation refuses the subject's events from revoked_at on, not before.
	if _, err := a.AddRevocation(rev.Text()); err != nil {
		t.Fatal(err)
	}
	xc := issue(x, RoleAdmin)
	if err := a.CheckWrite(xc, replica.OpPut, "k", []byte("v"), t0-1); err != nil {
		t.Errorf("event before the revocation refused: %v", err)
	}
	if err := a.CheckWrite(xc, replica.OpPut, "k", []byte("v"), t0); err == nil {
		t.Error("event at the revocation accepted")
	}
	if err := a.admit(x, xc.Binary(), now.Add(time.Second)); !errors.Is(err, ErrNotAdmitted) {
		t.Errorf("revoked peer admitted: %v", err)
	}
}

func TestAdmit(t *testing.T) {
	auth, _ := GenerateAuthorityKey()
	authID, _ := AuthorityID(auth)
	other, _ := GenerateAuthorityKey()
	_, self := testPeer(t)
	_, p := testPeer(t)
	now := time.Now()
	selfCert, _ := IssueCert(auth, "n", self, RoleAdmin, nil, now, time.Hour)
	a, err := NewAccess("n", []string{authID}, self, selfCert)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := IssueCert(auth, "n", p, RoleWriter, nil, now, time.Hour)
	expired, _ := IssueCert(auth, "n", p, RoleWriter, nil, now.Add(-2*time.Hour), time.Hour)
	foreign, _ := IssueCert(other, "n", p, RoleWriter, nil, now, time.Hour)
	otherNet, _ := IssueCert(auth, "m", p, RoleWriter, nil, now, time.Hour)
	tampered := good.Binary()
	tampered[10] ^= 1
	for name, tc := range map[string]struct {
		p    peer.ID
		cred []byte
		ok   bool
	}{
		"valid":                 {p, good.Binary(), true},
		"someone else's":        {self, good.Binary(), false},
		"expired":               {p, expired.Binary(), false},
		"another authority":     {p, foreign.Binary(), false},
		"another network":       {p, otherNet.Binary(), false},
		"tampered":              {p, tampered, false},
		"junk":                  {p, []byte("member, trust me\n"), false},
		"empty":                 {p, nil, false},
		"text form, not binary": {p, []byte(good.Text()), false},
	} {
		err := a.admit(tc.p, tc.cred, now)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", name, err, tc.ok)
		}
	}
	// The text form round-trips; a node refuses a certificate that is not its own.
	back, err := ParseCertText(good.Text())
	if err != nil || !bytes.Equal(back.Binary(), good.Binary()) {
		t.Fatalf("text round trip: %v", err)
	}
	if _, err := NewAccess("n", []string{authID}, self, good); err == nil {
		t.Fatal("NewAccess took another peer's certificate")
	}
}

func TestSwarmKeyRoundTrip(t *testing.T) {
	k, err := GeneratePSK()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeSwarmKey(EncodeSwarmKey(k))
	if err != nil || !bytes.Equal(back, k) {
		t.Fatalf("swarm.key round trip: %v", err)
	}
	if p, err := ParsePSK(strings.TrimSpace(string(EncodeSwarmKey(k)))); err != nil || !bytes.Equal(p, k) {
		t.Fatalf("inline swarm.key text: %v", err)
	}
	for _, bad := range []string{"", "abcd", "/key/swarm/psk/1.0.0/\n/base99/\nxx"} {
		if _, err := ParsePSK(bad); err == nil {
			t.Errorf("ParsePSK(%q) accepted", bad)
		}
	}
	path := t.TempDir() + "/swarm.key"
	if err := WriteSwarmKey(path, k); err != nil {
		t.Fatal(err)
	}
	if err := WriteSwarmKey(path, k); err == nil {
		t.Fatal("an existing key file was replaced")
	}
	if got, err := LoadSwarmKey(path); err != nil || !bytes.Equal(got, k) {
		t.Fatalf("load: %v", err)
	}
}

func FuzzParseCert(f *testing.F) {
	auth, _ := GenerateAuthorityKey()
	k, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	id, _ := peer.IDFromPrivateKey(k)
	c, _ := IssueCert(auth, "n", id, RoleWriter, []string{"a/"}, time.Unix(1e9, 0), time.Hour)
	r, _ := IssueRevocation(auth, "n", id, time.Unix(1e9, 0), "x")
	f.Add(c.Binary())
	f.Add([]byte(r.Text()))
	f.Add([]byte{0, 2, '{', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := ParseCertBinary(b); err == nil {
			if back, err := ParseCertBinary(c.Binary()); err != nil || !bytes.Equal(back.Raw, c.Raw) {
				t.Fatalf("re-encoded certificate does not parse back: %v", err)
			}
		}
		_, _ = ParseRevocationText(string(b))
		_, _ = ParseCertText(string(b))
	})
}

func TestRetiredAuthority(t *testing.T) {
	oldAuth, _ := GenerateAuthorityKey()
	oldID, _ := AuthorityID(oldAuth)
	newAuth, _ := GenerateAuthorityKey()
	newID, _ := AuthorityID(newAuth)
	_, self := testPeer(t)
	_, p := testPeer(t)
	now := time.Now()
	selfCert, _ := IssueCert(newAuth, "n", self, RoleAdmin, nil, now, time.Hour)
	a, err := NewAccess("n", []string{newID}, self, selfCert)
	if err != nil {
		t.Fatal(err)
	}
	retiredAt := now.Add(-time.Minute)
	if err := a.RetireAuthority(oldID, retiredAt); err != nil {
		t.Fatal(err)
	}
	if err := a.RetireAuthority(newID, now); err == nil {
		t.Fatal("an active authority was retired")
	}
	old, _ := IssueCert(oldAuth, "n", p, RoleWriter, nil, now.Add(-time.Hour), 2*time.Hour)
	// History: an event signed under the old certificate before retirement.
	if err := a.CheckWrite(old, replica.OpPut, "k", []byte("v"), retiredAt.Add(-time.Second).UnixNano()); err != nil {
		t.Fatalf("event from before the retirement refused: %v", err)
	}
	if err := a.CheckWrite(old, replica.OpPut, "k", []byte("v"), retiredAt.UnixNano()); err == nil {
		t.Fatal("event from after the retirement accepted")
	}
	if err := a.admit(p, old.Binary(), now); !errors.Is(err, ErrNotAdmitted) {
		t.Fatalf("a retired authority's certificate admitted its peer: %v", err)
	}
}
