package merkle

// MemState is a Tree and a MemIndex kept in step: an in-memory key/value
// state as anti-entropy sees it, for in-memory stores, simulations and
// tests.
type MemState struct {
	// Tree is the hash tree over Index.
	Tree *Tree
	// Index lists the entries.
	Index *MemIndex
}

// NewMemState returns an empty state whose tree has depth levels.
func NewMemState(depth int) (*MemState, error) {
	t, err := NewTree(depth)
	if err != nil {
		return nil, err
	}
	return &MemState{Tree: t, Index: NewMemIndex()}, nil
}

// Put sets the digest of the key with hash h.
func (m *MemState) Put(h KeyHash, d Digest) {
	old := m.Index.Put(h, d)
	m.Tree.Update(h, old, &d)
}

// Delete removes the key with hash h.
func (m *MemState) Delete(h KeyHash) {
	if old := m.Index.Delete(h); old != nil {
		m.Tree.Remove(h, *old)
	}
}
