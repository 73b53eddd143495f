package pebblestore

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/murmur-p2p/murmur/sync/storetest"
)

// TestSketchPersistsAndVerifies: the coded sketch a store keeps survives a
// reopen symbol for symbol, equals one rebuilt from the state, is rebuilt
// once when the configured length changes, and a damaged symbol on disk is
// caught by Verify.
func TestSketchPersistsAndVerifies(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{SketchSymbols: 128})
	must(t, err)
	w := storetest.NewWriter("origin-a")
	for i := range 300 {
		must(t, s.Apply(w.Put(fmt.Sprintf("k/%d", i%200), []byte{byte(i)})))
	}
	want := s.MerkleTree().Sketch().Symbols(0, 128)
	if got := s.MerkleTree().Sketch().Count(); got != 200 {
		t.Fatalf("sketch counts %d entries, want 200", got)
	}
	must(t, s.Verify())
	must(t, s.Close())

	s, err = Open(dir, Options{SketchSymbols: 128})
	must(t, err)
	for i, sym := range s.MerkleTree().Sketch().Symbols(0, 128) {
		if sym != want[i] {
			t.Fatalf("symbol %d changed across the reopen", i)
		}
	}
	must(t, s.Verify())
	must(t, s.Close())

	s, err = Open(dir, Options{SketchSymbols: 64})
	must(t, err)
	if n := s.MerkleTree().Sketch().Len(); n != 64 {
		t.Fatalf("sketch of %d symbols after reopening with 64", n)
	}
	must(t, s.Verify())
	// Damage one symbol record behind the store's back.
	must(t, s.db.Set(symKey(0), seal(symKey(0), make([]byte, 24)), pebble.Sync))
	if err := s.Verify(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Verify after damaging symbol 0: %v", err)
	}
	must(t, s.Close())

	s, err = Open(dir, Options{SketchSymbols: -1})
	must(t, err)
	defer s.Close()
	if s.MerkleTree().Sketch() != nil {
		t.Fatal("a sketch with SketchSymbols < 0")
	}
}
