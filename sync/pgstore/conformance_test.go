package pgstore

import (
	"testing"

	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/storetest"
)

// TestConformancePostgres runs the conformance suite every replica.Store
// passes (sync/storetest) against a Store on a real PostgreSQL server.
func TestConformancePostgres(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) replica.Store { return openNew(t, 8) },
		Reopen: func(t *testing.T, s replica.Store) replica.Store {
			schema := s.(*Store).Schema()
			must(t, s.Close())
			s, err := Open(Options{DSN: server.DSN(), Schema: schema, MerkleDepth: 8})
			must(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	})
}
