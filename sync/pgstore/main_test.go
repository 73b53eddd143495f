package pgstore

import (
	"fmt"
	"os"
	"testing"

	"github.com/murmur-p2p/murmur/sync/pgstore/pgtest"
	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/storetest"
)

// Environment of the child process of TestKillDuringWrites.
const (
	childDSNEnv    = "PGSTORE_TEST_CHILD_DSN"
	childSchemaEnv = "PGSTORE_TEST_CHILD_SCHEMA"
)

// server is the PostgreSQL server of this test binary (pgtest starts one;
// see its doc for what it needs).
var server *pgtest.Server

func TestMain(m *testing.M) {
	storetest.KillChild(func() (replica.Store, error) {
		return Open(Options{DSN: os.Getenv(childDSNEnv), Schema: os.Getenv(childSchemaEnv), MerkleDepth: 8})
	})
	var err error
	if server, err = pgtest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	server.Stop()
	os.Exit(code)
}

// openNew opens a store in a schema of its own.
func openNew(t testing.TB, depth int) *Store {
	t.Helper()
	s, err := Open(Options{DSN: server.DSN(), Schema: server.Schema(), MerkleDepth: depth})
	must(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
