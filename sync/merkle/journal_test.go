package merkle

import (
	"fmt"
	"slices"
	"testing"

	"github.com/murmur-p2p/murmur/sync/riblt"
)

// A journal's updates reach the tree, Undo takes them back to the very
// root and sketch, and Leaves and Symbols name exactly what changed.
func TestJournalUndoLeavesSymbols(t *testing.T) {
	tree, err := NewTree(6)
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.EnableSketch(64); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		h := HashKey(fmt.Sprint("base", i))
		tree.Update(h, nil, &Digest{byte(i)})
	}
	root := tree.Root()
	before := make([]riblt.Symbol, 64)
	for i := range before {
		before[i] = tree.Sketch().Symbol(i)
	}
	j := NewJournal(tree)
	var wantLeaves []uint64
	for i := range 5 {
		h := HashKey(fmt.Sprint("base", i))
		j.Update(h, &Digest{byte(i)}, &Digest{byte(100 + i)})
		if li := tree.LeafIndex(h); !slices.Contains(wantLeaves, li) {
			wantLeaves = append(wantLeaves, li)
		}
	}
	h := HashKey("new")
	j.Update(h, nil, &Digest{7})
	if li := tree.LeafIndex(h); !slices.Contains(wantLeaves, li) {
		wantLeaves = append(wantLeaves, li)
	}
	slices.Sort(wantLeaves)
	if tree.Root() == root {
		t.Fatal("the journal's updates did not reach the tree")
	}
	if got := j.Leaves(); !slices.Equal(got, wantLeaves) {
		t.Fatalf("leaves %v, want %v", got, wantLeaves)
	}
	changed := map[int]bool{}
	for i := range before {
		if tree.Sketch().Symbol(i) != before[i] {
			changed[i] = true
		}
	}
	syms := j.Symbols()
	for i := range changed {
		if !slices.Contains(syms, i) {
			t.Fatalf("symbol %d changed but is not in %v", i, syms)
		}
	}
	j.Undo()
	if tree.Root() != root {
		t.Fatal("Undo did not restore the root")
	}
	for i := range before {
		if tree.Sketch().Symbol(i) != before[i] {
			t.Fatalf("Undo did not restore sketch symbol %d", i)
		}
	}
	if len(j.Leaves()) != 0 {
		t.Fatal("Undo left updates recorded")
	}
}
