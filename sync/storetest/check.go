package storetest

import (
	"errors"
	"testing"

	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/riblt"
)

// Present reports whether all of batch b (batch number i, for messages) is
// in s (true) or none of it (false), and fails the test if only part of it
// is: a torn batch.
func Present(t testing.TB, s replica.Store, i int, b *replica.Batch) bool {
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

// CheckPrefix checks that s holds exactly a prefix of batches, at least
// the first acked of them, with the matching version vector, and (for a
// replica.MerkleStore) a Merkle tree equal to one rebuilt from its source.
// It returns the length of the prefix.
func CheckPrefix(t testing.TB, s replica.Store, batches []*replica.Batch, acked int) int {
	t.Helper()
	n := 0
	for n < len(batches) && Present(t, s, n, batches[n]) {
		n++
	}
	for i := n; i < len(batches); i++ {
		if Present(t, s, i, batches[i]) {
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
	CheckTree(t, s)
	return n
}

// CheckTree fails the test if s is a replica.MerkleStore whose tree (or
// coded sketch) differs from one rebuilt from its source, or whose source
// lists other keys than the store.
func CheckTree(t testing.TB, s replica.Store) {
	t.Helper()
	ms, ok := s.(replica.MerkleStore)
	if !ok {
		return
	}
	tr := ms.MerkleTree()
	rebuilt, err := merkle.Rebuild(tr.Depth(), ms.MerkleSource())
	must(t, err)
	if !rebuilt.Equal(tr) {
		t.Fatal("merkle tree differs from one rebuilt from the store's source")
	}
	if sk := tr.Sketch(); sk != nil {
		fresh, err := riblt.NewSketch(sk.Len())
		must(t, err)
		must(t, ms.MerkleSource().Scan(merkle.KeyHash{}, func(e merkle.Entry) bool {
			fresh.Add(merkle.ItemOf(e.KeyHash, e.Digest))
			return true
		}))
		if !fresh.Equal(sk) {
			t.Fatal("coded sketch differs from one built from the store's source")
		}
	}
	n := 0
	must(t, ms.MerkleSource().Scan(merkle.KeyHash{}, func(e merkle.Entry) bool {
		n++
		return true
	}))
	keys := 0
	var bad error
	must(t, s.ScanKeyHashes(replica.KeyHash{}, func(h replica.KeyHash, ks *replica.KeyState) bool {
		keys++
		if h != replica.HashKey(ks.Key) {
			bad = errors.New("ScanKeyHashes gave key " + ks.Key + " under another hash")
		}
		return bad == nil
	}))
	must(t, bad)
	if n != keys {
		t.Fatalf("merkle source lists %d entries, the store %d keys", n, keys)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
