package merkle

import (
	"fmt"

	"github.com/murmur-p2p/murmur/sync/riblt"
)

// Tree is the in-memory part of the hash tree: the nodes of levels
// 0..Depth. It is not safe for concurrent use; the store that owns it
// serialises writes and sessions.
type Tree struct {
	depth  int
	levels [][]Node      // levels[l] has 2^l nodes
	sketch *riblt.Sketch // the coded fast path's symbols, if enabled
}

// NewTree returns an empty tree with depth levels below the root.
func NewTree(depth int) (*Tree, error) {
	if depth < 1 || depth > MaxDepth {
		return nil, fmt.Errorf("%w: merkle_tree_depth %d not in 1..%d", ErrInvalidConfig, depth, MaxDepth)
	}
	t := &Tree{depth: depth, levels: make([][]Node, depth+1)}
	for l := range t.levels {
		t.levels[l] = make([]Node, 1<<l)
	}
	return t, nil
}

// Depth returns the number of levels below the root.
func (t *Tree) Depth() int { return t.depth }

// Root returns the root node: the count and sum of every entry.
func (t *Tree) Root() Node { return t.levels[0][0] }

// Add adds the entry (h, d). The caller adds each key once: a key's old
// entry must be removed before its new one is added.
func (t *Tree) Add(h KeyHash, d Digest) {
	t.apply(h, entrySum(Entry{h, d}), true)
	if t.sketch != nil {
		t.sketch.Add(ItemOf(h, d))
	}
}

// Remove removes the entry (h, d) that an earlier Add added.
func (t *Tree) Remove(h KeyHash, d Digest) {
	t.apply(h, entrySum(Entry{h, d}), false)
	if t.sketch != nil {
		t.sketch.Remove(ItemOf(h, d))
	}
}

// EnableSketch makes the tree keep the first n symbols of a rateless IBLT
// over its entries beside the hash nodes (the coded fast path; see
// CodedRequest): about 2 ln n + 1 symbol updates per write, 28 bytes of
// memory per symbol. Call it on an empty tree, or load the symbols with
// Sketch().Load; n = DefaultSketchSymbols suits most stores.
func (t *Tree) EnableSketch(n int) error {
	sk, err := riblt.NewSketch(n)
	if err != nil {
		return fmt.Errorf("merkle: %w", err)
	}
	t.sketch = sk
	return nil
}

// Sketch returns the tree's sketch, or nil when it keeps none.
func (t *Tree) Sketch() *riblt.Sketch { return t.sketch }

// DefaultSketchSymbols is the sketch length stores enable: 4,096 symbols
// (112 KiB in memory, about 25 updates per write) decode up to about 2,800
// differing keys; past that a snapshot or the Merkle descent is the better
// tool anyway.
const DefaultSketchSymbols = 4096

// Update replaces key h's entry: old is its previous digest (nil if the key
// was absent) and cur its new one (nil if the key is now absent).
func (t *Tree) Update(h KeyHash, old, cur *Digest) {
	if old != nil {
		t.Remove(h, *old)
	}
	if cur != nil {
		t.Add(h, *cur)
	}
}

// apply adds or removes an entry hash along the path of h.
func (t *Tree) apply(h KeyHash, s Sum, add bool) {
	idx := t.LeafIndex(h)
	for l := t.depth; l >= 0; l-- {
		n := &t.levels[l][idx>>(t.depth-l)]
		if add {
			*n = n.add(s)
		} else {
			*n = n.remove(s)
		}
	}
}

// LeafIndex returns the index of the leaf that holds h.
func (t *Tree) LeafIndex(h KeyHash) uint64 { return h.Prefix64() >> (64 - t.depth) }

// Leaf returns leaf i. It panics if i >= 2^Depth.
func (t *Tree) Leaf(i uint64) Node { return t.levels[t.depth][i] }

// NumLeaves returns 2^Depth.
func (t *Tree) NumLeaves() uint64 { return uint64(len(t.levels[t.depth])) }

// Node returns the node covering r, which must be at a level <= Depth.
func (t *Tree) Node(r Range) Node { return t.levels[r.Level][r.Prefix] }

// LoadLeaves replaces the whole tree with the given leaves (as persisted
// from Leaf) and recomputes the inner nodes, in O(2^Depth).
func (t *Tree) LoadLeaves(leaves []Node) error {
	if uint64(len(leaves)) != t.NumLeaves() {
		return fmt.Errorf("merkle: load %d leaves into a tree of depth %d (%d leaves)", len(leaves), t.depth, t.NumLeaves())
	}
	copy(t.levels[t.depth], leaves)
	for l := t.depth - 1; l >= 0; l-- {
		for i := range t.levels[l] {
			t.levels[l][i] = t.levels[l+1][2*i].plus(t.levels[l+1][2*i+1])
		}
	}
	return nil
}

// Rebuild returns a tree of the given depth over every entry of src.
// Stores use it to check a persisted tree or to rebuild a lost one; writes
// never need it.
func Rebuild(depth int, src Source) (*Tree, error) {
	t, err := NewTree(depth)
	if err != nil {
		return nil, err
	}
	leaves := t.levels[depth]
	if err := src.Scan(KeyHash{}, func(e Entry) bool {
		i := t.LeafIndex(e.KeyHash)
		leaves[i] = leaves[i].add(entrySum(e))
		return true
	}); err != nil {
		return nil, fmt.Errorf("merkle: rebuild: %w", err)
	}
	return t, t.LoadLeaves(leaves)
}

// Equal reports whether t and o have the same depth and nodes.
func (t *Tree) Equal(o *Tree) bool {
	if t.depth != o.depth {
		return false
	}
	for i := range t.levels[t.depth] {
		if t.levels[t.depth][i] != o.levels[t.depth][i] {
			return false
		}
	}
	return t.Root() == o.Root()
}

// children returns the 2^k descendants of r at level r.Level+k, reading the
// tree where they are in it and src otherwise.
func (t *Tree) children(src Source, r Range, k int) ([]Node, error) {
	out := make([]Node, 1<<k)
	lvl := int(r.Level) + k
	if lvl <= t.depth {
		base := r.Prefix << uint(k)
		copy(out, t.levels[lvl][base:base+uint64(len(out))])
		return out, nil
	}
	var err error
	if int(r.Level) < t.depth {
		// Scan only the non-empty leaves under r: empty leaves add nothing.
		lo := r.Prefix << uint(t.depth-int(r.Level))
		hi := lo + 1<<uint(t.depth-int(r.Level))
		for i := lo; i < hi && err == nil; i++ {
			if t.levels[t.depth][i].Count > 0 {
				err = sumInto(src, Range{Level: uint8(t.depth), Prefix: i}, lvl, out, r)
			}
		}
	} else if t.levels[t.depth][r.ancestor(t.depth).Prefix].Count > 0 {
		err = sumInto(src, r, lvl, out, r)
	}
	return out, err
}

// sumInto scans the entries of scan from src and adds each to out at its
// index among base's descendants at level lvl.
func sumInto(src Source, scan Range, lvl int, out []Node, base Range) error {
	k := uint(lvl - int(base.Level))
	var bad error
	err := src.Scan(scan.First(), func(e Entry) bool {
		if !scan.Contains(e.KeyHash) {
			return false
		}
		c := RangeOf(e.KeyHash, lvl)
		j := c.Prefix - base.Prefix<<k
		if j >= uint64(len(out)) {
			bad = fmt.Errorf("merkle: source returned key hash %s outside %s", e.KeyHash, scan)
			return false
		}
		out[j] = out[j].add(entrySum(e))
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return fmt.Errorf("merkle: scan %s: %w", scan, err)
	}
	return nil
}
