package pebblestore

import (
	"testing"

	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/storetest"
)

// TestConformancePebble runs the conformance suite every replica.Store
// passes (sync/storetest) against this package's Store.
func TestConformancePebble(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) replica.Store {
			s, err := Open(t.TempDir(), Options{MerkleDepth: 8})
			must(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		Reopen: func(t *testing.T, s replica.Store) replica.Store {
			dir := s.(*Store).Dir()
			must(t, s.Close())
			s, err := Open(dir, Options{MerkleDepth: 8})
			must(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	})
}
