package pebblestore

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/storetest"
)

// checkPrefix checks that s holds exactly a prefix of batches of at least
// acked batches (storetest.CheckPrefix) and passes Verify.
func checkPrefix(t *testing.T, s *Store, batches []*replica.Batch, acked int) int {
	t.Helper()
	n := storetest.CheckPrefix(t, s, batches, acked)
	must(t, s.Verify())
	return n
}

func TestReopenKeepsEverythingAndTheTree(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{MerkleDepth: 10})
	must(t, err)
	batches := storetest.BatchSeq(rand.New(rand.NewPCG(1, 2)), 50, 20)
	mem, _ := merkle.NewMemState(10)
	for _, b := range batches {
		must(t, s.Apply(b))
		for _, ks := range b.Keys {
			mem.Put(merkle.HashKey(ks.Key), Digest(ks))
		}
	}
	root := s.MerkleTree().Root()
	if root != mem.Tree.Root() {
		t.Fatal("store tree differs from a tree over the same digests")
	}
	must(t, s.Apply(&replica.Batch{Meta: map[string][]byte{"name": []byte("x")}}))
	must(t, s.Close())

	s, err = Open(dir, Options{MerkleDepth: 10})
	must(t, err)
	checkPrefix(t, s, batches, len(batches))
	if s.MerkleTree().Root() != root {
		t.Fatal("tree root changed across reopen")
	}
	if v, err := s.Meta("name"); err != nil || string(v) != "x" {
		t.Fatalf("meta after reopen: %q %v", v, err)
	}
	must(t, s.Close())

	// Another depth rebuilds the tree once, from the key-hash index.
	s, err = Open(dir, Options{MerkleDepth: 6})
	must(t, err)
	if s.MerkleTree().Depth() != 6 || s.MerkleTree().Root() != root {
		t.Fatal("tree rebuilt at depth 6 has another root")
	}
	must(t, s.Verify())
	must(t, s.Close())
}

func TestSecondOpenFailsWithLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	must(t, err)
	_, err = Open(dir, Options{})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second open: %v", err)
	}
	must(t, s.Close())
	s, err = Open(dir, Options{})
	must(t, err) // the lock went with Close
	must(t, s.Close())
}

// TestCrashAtRandomPoints crashes a store that is never closed (nothing
// flushed but what Apply synced) at random moments of a batch sequence,
// possibly in the middle of an Apply, keeping a random share of the
// unsynced writes, and finds every acknowledged batch intact and no torn
// one.
func TestCrashAtRandomPoints(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			fs := vfs.NewCrashableMem()
			s, err := Open("/db", Options{FS: fs, MerkleDepth: 8})
			must(t, err)
			batches := storetest.BatchSeq(rng, 40, 16)
			var acked atomic.Int64
			var werr error
			var wg sync.WaitGroup
			stop, finished := make(chan struct{}), make(chan struct{})
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer close(finished)
				for _, b := range batches {
					select {
					case <-stop:
						return
					default:
					}
					if werr = s.Apply(b); werr != nil {
						return
					}
					acked.Add(1)
				}
			}()
			target := int64(rng.IntN(len(batches)))
			deadline := time.Now().Add(time.Minute)
		poll:
			for acked.Load() < target { // the writer acknowledges batches as it goes
				select {
				case <-finished:
					break poll
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("writer stuck at %d of %d batches", acked.Load(), target)
				}
				runtime.Gosched()
			}
			before := int(acked.Load())
			clone := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rand.New(rand.NewPCG(seed, 8))})
			close(stop)
			wg.Wait()
			must(t, werr)
			// The crashed store is abandoned without Close, as a killed process.
			r, err := Open("/db", Options{FS: clone, MerkleDepth: 8})
			must(t, err)
			defer r.Close()
			checkPrefix(t, r, batches, before)
		})
	}
}
