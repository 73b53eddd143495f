package security

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/libp2p/go-libp2p/core/pnet"
	"golang.org/x/crypto/argon2"
)

// SwarmKeyFileName is the conventional name of a private network's key file
// in a data directory (kubo's name for it).
const SwarmKeyFileName = "swarm.key"

// PSKSize is the size of a private network key: go-libp2p's pnet uses a
// 256-bit XSalsa20 key.
const PSKSize = 32

// Argon2id parameters of PSKFromPassphrase, version 1. They are part of the
// network's definition: every node must derive with the same ones, so they
// never change; a new set would be a new version with its own salt prefix.
// 64 MiB and 3 passes follow RFC 9106's second recommended option (for
// memory-constrained settings), which takes well under a second once per
// start.
const (
	PassphraseKDF       = "argon2id"
	PassphraseTime      = 3
	PassphraseMemoryKiB = 64 * 1024
	PassphraseThreads   = 4
	// PassphraseSaltPrefix is followed by the network name: the same
	// passphrase gives different keys to different networks.
	PassphraseSaltPrefix = "murmur/psk/v1/"
)

// ErrBadSwarmKey is returned for a swarm key that cannot be decoded.
var ErrBadSwarmKey = errors.New("invalid swarm key")

// GeneratePSK returns a new random private network key.
func GeneratePSK() (pnet.PSK, error) {
	k := make([]byte, PSKSize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate private network key: %w", err)
	}
	return k, nil
}

// PSKFromPassphrase derives a private network key from a passphrase with
// Argon2id (the Passphrase* parameters), salted with the network name. An
// empty passphrase is an error: it would give every network of that name
// the same, public key.
func PSKFromPassphrase(passphrase, network string) (pnet.PSK, error) {
	if passphrase == "" {
		return nil, errors.New("derive private network key: empty passphrase")
	}
	salt := []byte(PassphraseSaltPrefix + network)
	return argon2.IDKey([]byte(passphrase), salt, PassphraseTime, PassphraseMemoryKiB, PassphraseThreads, PSKSize), nil
}

// EncodeSwarmKey returns psk in kubo's swarm.key format (version 1, base16).
func EncodeSwarmKey(psk pnet.PSK) []byte {
	return []byte("/key/swarm/psk/1.0.0/\n/base16/\n" + hex.EncodeToString(psk) + "\n")
}

// DecodeSwarmKey parses a key in kubo's swarm.key format (base16, base64 or
// bin encodings).
func DecodeSwarmKey(data []byte) (pnet.PSK, error) {
	psk, err := pnet.DecodeV1PSK(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w (want the three lines /key/swarm/psk/1.0.0/, /base16/ and 64 hex digits)", ErrBadSwarmKey, err)
	}
	return psk, nil
}

// ParsePSK parses a key given inline in a config: either the 64 hex digits
// alone or a whole swarm.key text.
func ParsePSK(s string) (pnet.PSK, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "/key/") {
		return DecodeSwarmKey([]byte(s + "\n"))
	}
	k, err := hex.DecodeString(s)
	if err != nil || len(k) != PSKSize {
		return nil, fmt.Errorf("%w: want %d hex digits or a swarm.key text", ErrBadSwarmKey, 2*PSKSize)
	}
	return k, nil
}

// LoadSwarmKey reads a swarm.key file. Like identity files, it must not be
// readable by other users.
func LoadSwarmKey(path string) (pnet.PSK, error) {
	if err := checkPrivateFile(path); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read swarm key %s: %w", path, err)
	}
	psk, err := DecodeSwarmKey(data)
	if err != nil {
		return nil, fmt.Errorf("swarm key %s: %w", path, err)
	}
	return psk, nil
}

// WriteSwarmKey writes psk to path in swarm.key format with mode 0600. An
// existing file is never replaced.
func WriteSwarmKey(path string, psk pnet.PSK) error {
	return WritePrivateFile(path, EncodeSwarmKey(psk))
}

// WritePrivateFile creates path with mode 0600 and writes data; it fails if
// the file exists, so a key is never silently replaced.
func WritePrivateFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, identityFileMode)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// checkPrivateFile fails if path is readable or writable by group or others.
func checkPrivateFile(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s: %w (mode %s; run chmod 600 %s)", path, ErrInsecureKeyFile, info.Mode().Perm(), path)
	}
	return nil
}

// ReadPrivateFile reads a secret file (a token, a key) after checking that
// other users cannot read it.
func ReadPrivateFile(path string) ([]byte, error) {
	if err := checkPrivateFile(path); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// IsNotExist reports whether err says a file does not exist.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
