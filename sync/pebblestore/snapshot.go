package pebblestore

import (
	"github.com/murmur-p2p/murmur/sync"
	"github.com/murmur-p2p/murmur/sync/snapshot"
)

// SnapshotSource returns the store's key/value state as a snapshot.Source:
// items in key order whose values are EncodeKeyState encodings, read
// sequentially from the key table. Use MerkleTree().Root().Count as the
// snapshot's key total.
func (s *Store) SnapshotSource() snapshot.Source { return snapSource{s} }

type snapSource struct{ s *Store }

// Scan implements snapshot.Source.
func (src snapSource) Scan(from string, fn func(snapshot.Item) bool) error {
	s := src.s
	done, err := s.begin()
	if err != nil {
		return err
	}
	defer done()
	return s.scan(keyKey(from), []byte{tabKey + 1}, func(k, p []byte) error {
		if !fn(snapshot.Item{Key: string(k[1:]), Value: append([]byte(nil), p...)}) {
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
