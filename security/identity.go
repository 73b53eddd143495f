package security

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// IdentityFileName is the name of the identity key file inside a node's data
// directory.
const IdentityFileName = "identity.key"

// identityFileMode is the only permission set accepted for an identity file:
// readable and writable by its owner alone.
const identityFileMode fs.FileMode = 0o600

// ErrInsecureKeyFile is returned when an identity file can be read or written
// by users other than its owner.
var ErrInsecureKeyFile = errors.New("key file is accessible by other users")

// ErrBadKeyFile is returned when an identity file exists but does not hold a
// usable Ed25519 private key: it is empty, truncated, corrupt or of another key
// type.
var ErrBadKeyFile = errors.New("key file does not hold an Ed25519 private key")

// IdentityPath returns the path of the identity file in dataDir.
func IdentityPath(dataDir string) string {
	return filepath.Join(dataDir, IdentityFileName)
}

// LoadOrCreateIdentity returns the Ed25519 private key stored at path. When
// the file does not exist, a new key is generated and written there with mode
// 0600 (creating missing parent directories with mode 0700); created reports
// whether that happened.
//
// An existing file is never replaced: a file that cannot be parsed, holds
// another key type or is readable by others is an error naming the file, so a
// node never silently changes its identity.
func LoadOrCreateIdentity(path string) (key crypto.PrivKey, created bool, err error) {
	key, err = LoadIdentity(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	key, _, err = crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("generate identity key: %w", err)
	}
	if err := writeIdentity(path, key); err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// LoadIdentity reads the Ed25519 private key stored at path. A missing file
// yields an error that wraps fs.ErrNotExist.
func LoadIdentity(path string) (crypto.PrivKey, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load identity %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("load identity %s: not a regular file (%s): %w", path, info.Mode().Type(), ErrBadKeyFile)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("load identity %s: mode %#o, want %#o (run: chmod 600 %s): %w",
			path, perm, identityFileMode, path, ErrInsecureKeyFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load identity %s: %w", path, err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("load identity %s: file is empty: %w", path, ErrBadKeyFile)
	}
	key, err := crypto.UnmarshalPrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("load identity %s: corrupt or truncated key (%d bytes): %v: %w", path, len(data), err, ErrBadKeyFile)
	}
	if key.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("load identity %s: key type %s, want Ed25519: %w", path, key.Type(), ErrBadKeyFile)
	}
	return key, nil
}

// writeIdentity stores key at path atomically: it writes a temporary file in
// the same directory, syncs it and renames it into place, so a crash never
// leaves a half-written identity behind.
func writeIdentity(path string, key crypto.PrivKey) error {
	data, err := crypto.MarshalPrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode identity key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, IdentityFileName+".tmp-*")
	if err != nil {
		return fmt.Errorf("write identity %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(identityFileMode); err != nil {
		tmp.Close()
		return fmt.Errorf("write identity %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write identity %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write identity %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write identity %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write identity %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// PeerIDFromKey returns the libp2p peer ID of a private key.
func PeerIDFromKey(key crypto.PrivKey) (peer.ID, error) {
	id, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("derive peer ID: %w", err)
	}
	return id, nil
}
