package pebblestore

import (
	"fmt"
	"os"
	"testing"

	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/storetest"
)

// childDirEnv names the store directory of the child process of
// TestKillDuringWrites.
const childDirEnv = "PEBBLESTORE_TEST_CHILD_DIR"

func TestMain(m *testing.M) {
	storetest.KillChild(func() (replica.Store, error) {
		return Open(os.Getenv(childDirEnv), Options{MerkleDepth: 8})
	})
	os.Exit(m.Run())
}

// TestKillDuringWrites runs this test binary as a child that writes synced
// batches, kills it with SIGKILL at a random point (storetest.KillTest),
// reopens its store and finds every batch the child acknowledged intact,
// with a Merkle tree equal to one rebuilt from the state.
func TestKillDuringWrites(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			dir := t.TempDir()
			storetest.KillTest(t, seed, []string{childDirEnv + "=" + dir}, func(t *testing.T) replica.Store {
				s, err := Open(dir, Options{MerkleDepth: 8})
				must(t, err)
				return s
			})
		})
	}
}
