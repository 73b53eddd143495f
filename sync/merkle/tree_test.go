package merkle

import (
	"testing"

	"pgregory.net/rapid"
)

// TestIncrementalEqualsRebuild: any sequence of puts and deletes leaves the
// tree equal to one rebuilt from the final entries.
func TestIncrementalEqualsRebuild(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		depth := rapid.IntRange(1, 10).Draw(t, "depth")
		m, err := NewMemState(depth)
		if err != nil {
			t.Fatal(err)
		}
		nops := rapid.IntRange(0, 300).Draw(t, "ops")
		for i := 0; i < nops; i++ {
			key := rapid.Uint64Range(0, 60).Draw(t, "key")
			if rapid.IntRange(0, 3).Draw(t, "op") == 0 {
				m.Delete(kh(key))
			} else {
				m.Put(kh(key), dg(key, rapid.Uint64Range(0, 3).Draw(t, "ver")))
			}
		}
		rebuilt, err := Rebuild(depth, m.Index)
		if err != nil {
			t.Fatal(err)
		}
		if !m.Tree.Equal(rebuilt) {
			t.Fatalf("incremental root %x (count %d) != rebuilt %x (count %d)",
				m.Tree.Root().Hash(), m.Tree.Root().Count, rebuilt.Root().Hash(), rebuilt.Root().Count)
		}
		if got := m.Tree.Root().Count; got != uint64(m.Index.Len()) {
			t.Fatalf("root count %d, index holds %d", got, m.Index.Len())
		}
		// Inner nodes are sums of their children at every level.
		for l := 0; l < depth; l++ {
			for i := range m.Tree.levels[l] {
				if m.Tree.levels[l][i] != m.Tree.levels[l+1][2*i].plus(m.Tree.levels[l+1][2*i+1]) {
					t.Fatalf("node %d/%d is not the sum of its children", l, i)
				}
			}
		}
	})
}

func TestOrderIndependentRoot(t *testing.T) {
	a, _ := NewMemState(8)
	b, _ := NewMemState(8)
	for i := uint64(0); i < 100; i++ {
		a.Put(kh(i), dg(i, 1))
		b.Put(kh(99-i), dg(99-i, 1))
	}
	if a.Tree.Root() != b.Tree.Root() {
		t.Fatal("same entries in a different order give different roots")
	}
	b.Put(kh(5), dg(5, 2))
	if a.Tree.Root() == b.Tree.Root() {
		t.Fatal("a changed digest left the root unchanged")
	}
	b.Put(kh(5), dg(5, 1))
	b.Put(kh(1000), dg(1000, 1))
	b.Delete(kh(1000))
	if a.Tree.Root() != b.Tree.Root() {
		t.Fatal("undoing changes did not restore the root")
	}
}

func TestLoadLeaves(t *testing.T) {
	a, _ := NewMemState(6)
	for i := uint64(0); i < 500; i++ {
		a.Put(kh(i), dg(i, i%3))
	}
	leaves := make([]Node, a.Tree.NumLeaves())
	for i := range leaves {
		b := a.Tree.Leaf(uint64(i)).AppendBinary(nil)
		n, err := DecodeNode(b)
		if err != nil {
			t.Fatal(err)
		}
		leaves[i] = n
	}
	c, _ := NewTree(6)
	if err := c.LoadLeaves(leaves); err != nil {
		t.Fatal(err)
	}
	if !c.Equal(a.Tree) {
		t.Fatal("tree loaded from leaves differs")
	}
	if err := c.LoadLeaves(leaves[:3]); err == nil {
		t.Fatal("loading 3 leaves into a depth-6 tree succeeded")
	}
	if _, err := DecodeNode(make([]byte, 7)); err == nil {
		t.Fatal("decoding a 7-byte node succeeded")
	}
}

func TestNewTreeRejectsDepth(t *testing.T) {
	for _, d := range []int{-1, 0, MaxDepth + 1} {
		if _, err := NewTree(d); err == nil {
			t.Fatalf("depth %d accepted", d)
		}
	}
}
