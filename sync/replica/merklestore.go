package replica

import "github.com/murmur-p2p/murmur/sync/merkle"

// MerkleStore is implemented by stores that keep a Merkle tree over their
// key/value state, updated inside Apply: the leaf entry of each key is
// (HashKey(key), KeyState.Digest()). The engine runs anti-entropy only over
// a MerkleStore (MemStore and pebblestore.Store are). The tree and source
// are read by the engine between Applies, never concurrently with one.
type MerkleStore interface {
	Store
	// MerkleTree returns the tree over the persisted key states.
	MerkleTree() *merkle.Tree
	// MerkleSource lists the tree's entries in KeyHash order.
	MerkleSource() merkle.Source
}

// KeyRangeScanner is implemented by stores that can scan keys from a start
// key; snapshots use it to resume after a cursor without reading the keys
// before it. Stores without it are scanned from the first key.
type KeyRangeScanner interface {
	// ScanKeysFrom calls fn for every key >= from, in ascending key order,
	// until fn returns false.
	ScanKeysFrom(from string, fn func(*KeyState) bool) error
}

// scanKeysFrom scans the keys >= from of s, using KeyRangeScanner when s
// implements it.
func scanKeysFrom(s Store, from string, fn func(*KeyState) bool) error {
	if r, ok := s.(KeyRangeScanner); ok {
		return r.ScanKeysFrom(from, fn)
	}
	return s.ScanKeys("", func(ks *KeyState) bool {
		if ks.Key < from {
			return true
		}
		return fn(ks)
	})
}
