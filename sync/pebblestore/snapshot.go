package pebblestore

import (
	"github.com/murmur-p2p/murmur/sync"
	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/snapshot"
)

// SnapshotSource returns the store's key/value state as a snapshot.Source:
// items in KeyHash order whose values are EncodeKeyState encodings. Use
// MerkleTree().Root().Count as the snapshot's key total.
func (s *Store) SnapshotSource() snapshot.Source { return snapSource{s} }

type snapSource struct{ s *Store }

// Scan implements snapshot.Source.
func (src snapSource) Scan(from snapshot.KeyHash, fn func(snapshot.Item) bool) error {
	s := src.s
	done, err := s.begin()
	if err != nil {
		return err
	}
	defer done()
	return s.scan(hashKey(merkle.KeyHash(from)), []byte{tabHash + 1}, func(k, p []byte) error {
		_, key, err := decodeHashRecord(k[1:], p)
		if err != nil {
			return err
		}
		v, err := s.getRecord(keyKey(key))
		if err != nil {
			return err
		}
		it := snapshot.Item{Key: key, Value: v}
		copy(it.KeyHash[:], k[1:])
		if !fn(it) {
			return errStop
		}
		return nil
	})
}

// EncodeKeyState encodes a key's state as the store keeps it (without the
// key), the value format of snapshot items.
func EncodeKeyState(ks *sync.KeyState) []byte { return encodeKeyState(ks) }

// DecodeKeyState decodes a value made by EncodeKeyState for key. Bad input
// gives an error wrapping ErrCorrupt that names the key.
func DecodeKeyState(key string, b []byte) (*sync.KeyState, error) { return decodeKeyState(key, b) }
