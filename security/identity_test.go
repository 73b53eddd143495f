package security

import (
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
)

func TestLoadOrCreateIdentityPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", IdentityFileName)
	k1, created, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatal("first call did not report a new key")
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %#o, want 0600", info.Mode().Perm())
	}
	k2, created, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Fatal("second call created a new key")
	}
	if !k1.Equals(k2) {
		t.Fatal("reloaded key differs from the created one")
	}
	id1, _ := PeerIDFromKey(k1)
	id2, _ := PeerIDFromKey(k2)
	if id1 != id2 {
		t.Fatalf("peer ID changed: %s != %s", id1, id2)
	}
}

func TestLoadIdentityErrors(t *testing.T) {
	good, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	goodBytes, _ := crypto.MarshalPrivateKey(good)
	rsa, _, err := crypto.GenerateECDSAKeyPair(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherType, _ := crypto.MarshalPrivateKey(rsa)

	cases := []struct {
		name    string
		data    []byte
		mode    fs.FileMode
		wantErr error
		wantMsg string
	}{
		{"empty", nil, 0o600, ErrBadKeyFile, "file is empty"},
		{"truncated", goodBytes[:len(goodBytes)/2], 0o600, ErrBadKeyFile, "corrupt or truncated key"},
		{"garbage", []byte("this is not a key at all"), 0o600, ErrBadKeyFile, "corrupt or truncated key"},
		{"wrong type", otherType, 0o600, ErrBadKeyFile, "key type ECDSA, want Ed25519"},
		{"group readable", goodBytes, 0o640, ErrInsecureKeyFile, "mode 0640, want 0600"},
		{"world readable", goodBytes, 0o644, ErrInsecureKeyFile, "mode 0644, want 0600"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), IdentityFileName)
			if err := os.WriteFile(path, tc.data, tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil { // umask-proof
				t.Fatal(err)
			}
			_, _, err := LoadOrCreateIdentity(path)
			if err == nil {
				t.Fatal("expected an error")
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %q does not wrap %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("error %q should name %s and say %q", err, path, tc.wantMsg)
			}
			// The bad file must be left untouched, never replaced by a new identity.
			after, _ := os.ReadFile(path)
			if string(after) != string(tc.data) {
				t.Fatal("bad key file was modified")
			}
		})
	}
}

func TestLoadIdentityNotRegular(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, IdentityFileName)
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadOrCreateIdentity(path)
	if !errors.Is(err, ErrBadKeyFile) || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("got %v", err)
	}
}
