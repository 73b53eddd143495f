package merkle

import "slices"

// Journal applies key updates to a Tree and remembers them, so that a store
// can undo them when its commit fails and persist exactly the leaves and
// sketch symbols they changed.
type Journal struct {
	tree *Tree
	ops  []journalOp
}

type journalOp struct {
	h        KeyHash
	old, cur *Digest
}

// NewJournal returns an empty journal of updates to t.
func NewJournal(t *Tree) *Journal { return &Journal{tree: t} }

// Update applies t.Update(h, old, cur) and records it.
func (j *Journal) Update(h KeyHash, old, cur *Digest) {
	j.tree.Update(h, old, cur)
	j.ops = append(j.ops, journalOp{h, old, cur})
}

// Undo reverts the recorded updates, newest first, and forgets them.
func (j *Journal) Undo() {
	for i := len(j.ops) - 1; i >= 0; i-- {
		op := j.ops[i]
		j.tree.Update(op.h, op.cur, op.old)
	}
	j.ops = nil
}

// Leaves returns the indexes of the leaves the recorded updates changed,
// ascending.
func (j *Journal) Leaves() []uint64 {
	seen := make(map[uint64]bool, len(j.ops))
	out := make([]uint64, 0, len(j.ops))
	for _, op := range j.ops {
		if i := j.tree.LeafIndex(op.h); !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// Symbols returns the indexes of the tree's sketch symbols the recorded
// updates changed, ascending; none when the tree keeps no sketch.
func (j *Journal) Symbols() []int {
	sk := j.tree.Sketch()
	if sk == nil {
		return nil
	}
	seen := map[int]bool{}
	for _, op := range j.ops {
		for _, d := range []*Digest{op.old, op.cur} {
			if d != nil {
				sk.Indices(ItemOf(op.h, *d), func(i int) { seen[i] = true })
			}
		}
	}
	out := make([]int, 0, len(seen))
	for i := range seen {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}
