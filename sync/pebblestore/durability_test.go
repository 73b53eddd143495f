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
)

// batchSeq makes n batches of 1..maxEvents events each, every event writing
// a key of its own, so a batch's presence can be checked key by key.
func batchSeq(rng *rand.Rand, n, maxEvents int) []*replica.Batch {
	ws := []*writer{newWriter("origin-a"), newWriter("origin-b"), newWriter("origin-c")}
	out := make([]*replica.Batch, n)
	for i := range out {
		var parts []*replica.Batch
		for j := 0; j < 1+rng.IntN(maxEvents); j++ {
			w := ws[rng.IntN(len(ws))]
			parts = append(parts, w.put(fmt.Sprintf("key-%d-%d", i, j), []byte(strings.Repeat("v", rng.IntN(200)))))
		}
		out[i] = merge(parts...)
	}
	return out
}

// present reports whether all of batch b is in s (true), none of it
// (false), or fails the test if only part of it is.
func present(t *testing.T, s *Store, i int, b *replica.Batch) bool {
	t.Helper()
	found := 0
	for _, e := range b.Events {
		got, err := s.Event(e.ID())
		switch {
		case err == nil:
			if got.ID() != e.ID() {
				t.Fatalf("batch %d: event %s/%d read back differently", i, e.Origin, e.Seq)
			}
			found++
		case !errors.Is(err, replica.ErrNotFound):
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	for _, ks := range b.Keys {
		got, err := s.KeyState(ks.Key)
		switch {
		case err == nil:
			if !got.Equal(ks) {
				t.Fatalf("batch %d: key %q read back differently", i, ks.Key)
			}
			found++
		case !errors.Is(err, replica.ErrNotFound):
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	if found != 0 && found != len(b.Events)+len(b.Keys) {
		t.Fatalf("batch %d is torn: %d of %d parts present", i, found, len(b.Events)+len(b.Keys))
	}
	return found != 0
}

// checkPrefix checks that s holds exactly a prefix of batches of at least
// acked batches, with the matching version vector and a consistent tree.
func checkPrefix(t *testing.T, s *Store, batches []*replica.Batch, acked int) int {
	t.Helper()
	n := 0
	for n < len(batches) && present(t, s, n, batches[n]) {
		n++
	}
	for i := n; i < len(batches); i++ {
		if present(t, s, i, batches[i]) {
			t.Fatalf("batch %d present after missing batch %d", i, n)
		}
	}
	if n < acked {
		t.Fatalf("only %d batches survived, %d were acknowledged", n, acked)
	}
	want := replica.VersionVector{}
	for _, b := range batches[:n] {
		want.Merge(b.VersionVector)
	}
	vv, err := s.VersionVector()
	must(t, err)
	if !vv.Equal(want) {
		t.Fatalf("version vector %v after %d batches, want %v", vv, n, want)
	}
	must(t, s.Verify())
	return n
}

func TestReopenKeepsEverythingAndTheTree(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{MerkleDepth: 10})
	must(t, err)
	batches := batchSeq(rand.New(rand.NewPCG(1, 2)), 50, 20)
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
			batches := batchSeq(rng, 40, 16)
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
