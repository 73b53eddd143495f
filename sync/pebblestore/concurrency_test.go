package pebblestore

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/replica"
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
	batches := storetest.BatchSeq(rand.New(rand.NewPCG(11, 11)), 60, 8)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				// A key written by a batch implies the batch's event.
				var missing error
				err := s.ScanKeyHashes(replica.KeyHash{}, func(_ replica.KeyHash, ks *replica.KeyState) bool {
					ok, err := s.HasEvent(ks.Versions[0].Event)
					if err == nil && !ok {
						missing = errors.New("key " + ks.Key + " visible before its event")
					}
					return missing == nil
				})
				if err == nil {
					err = missing
				}
				if err == nil {
					_, err = s.VersionVector()
				}
				if err != nil && !errors.Is(err, replica.ErrClosed) {
					errs <- err
					return
				}
			}
		}()
	}
	// Tree readers: inside WithTree the tree always equals one rebuilt
	// from the source, however Apply interleaves.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
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
			if err != nil && !errors.Is(err, replica.ErrClosed) {
				errs <- err
				return
			}
		}
	}()
	for i, b := range batches {
		must(t, s.Apply(b))
		if i == len(batches)/2 {
			// Apply from inside a scan callback does not deadlock.
			var inner error
			must(t, s.ScanKeys("", func(*replica.KeyState) bool {
				inner = s.Apply(&replica.Batch{Meta: map[string][]byte{"x": {1}}})
				return false
			}))
			must(t, inner)
		}
	}
	must(t, s.Close())
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
