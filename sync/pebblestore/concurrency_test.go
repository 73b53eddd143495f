package pebblestore

import (
	"errors"
	"testing"

	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/storetest"
)

// TestConcurrentReadsDuringApply reads from several goroutines while
// batches are applied and the store is finally closed: a key a batch
// wrote is never visible without the batch's event, and reads end with
// ErrClosed once the store is closed, and tree readers (WithTree, Verify)
// see the tree consistent with the state (run with -race).
func TestConcurrentReadsDuringApply(t *testing.T) {
	s, err := Open(t.TempDir(), Options{MerkleDepth: 8})
	must(t, err)
	// Tree readers: inside WithTree the tree always equals one rebuilt
	// from the source, however Apply interleaves.
	storetest.ConcurrentReads(t, s, 60, func() error {
		err := s.WithTree(func(tr *merkle.Tree, src merkle.Source) error {
			rebuilt, err := merkle.Rebuild(tr.Depth(), src)
			if err == nil && !rebuilt.Equal(tr) {
				err = errors.New("tree differs from its source inside WithTree")
			}
			return err
		})
		if err == nil {
			err = s.Verify()
		}
		return err
	})
}
