package replica

import (
	"bytes"
	"fmt"
	"slices"
	"sync"

	"github.com/murmur-p2p/murmur/sync/merkle"
)

// MemStore is an in-memory Store for tests and simulations. It is safe for
// concurrent use. Apply is "durable" for as long as the MemStore lives, which
// is what a simulated crash/restart needs: the restarted engine gets the same
// MemStore back.
type MemStore struct {
	mu     sync.RWMutex
	closed bool
	events map[EventID]*Event
	dots   map[Dot]EventID
	keys   map[string]*KeyState
	vv     VersionVector
	clock  Timestamp
	meta   map[string][]byte
	// tree is the Merkle tree over keys, updated in Apply.
	tree *merkle.MemState
}

var (
	_ MerkleStore     = (*MemStore)(nil)
	_ KeyRangeScanner = (*MemStore)(nil)
)

// DefaultMemStoreDepth is the Merkle tree depth of NewMemStore: 1,024
// leaves (80 KiB), sized for tests and simulations of up to some ten
// thousand keys.
const DefaultMemStoreDepth = 10

// NewMemStore returns an empty in-memory store whose Merkle tree has
// DefaultMemStoreDepth levels.
func NewMemStore() *MemStore {
	m, err := NewMemStoreDepth(DefaultMemStoreDepth)
	if err != nil {
		panic(err) // the default depth is valid
	}
	return m
}

// NewMemStoreDepth returns an empty in-memory store whose Merkle tree has
// depth levels (merkle_tree_depth, 1..merkle.MaxDepth).
func NewMemStoreDepth(depth int) (*MemStore, error) {
	tree, err := merkle.NewMemState(depth)
	if err != nil {
		return nil, fmt.Errorf("memstore: %w", err)
	}
	return &MemStore{
		events: map[EventID]*Event{},
		dots:   map[Dot]EventID{},
		keys:   map[string]*KeyState{},
		vv:     VersionVector{},
		tree:   tree,
	}, nil
}

// EnableSketch makes the store keep the coded anti-entropy sketch of n
// symbols beside its Merkle tree (merkle.Tree.EnableSketch). Call it on a
// new, empty store.
func (m *MemStore) EnableSketch(n int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.tree.Tree.Root().Count; c > 0 {
		return fmt.Errorf("memstore: enable a sketch on a store of %d keys", c)
	}
	return m.tree.Tree.EnableSketch(n)
}

// MerkleTree implements MerkleStore.
func (m *MemStore) MerkleTree() *merkle.Tree { return m.tree.Tree }

// MerkleSource implements MerkleStore.
func (m *MemStore) MerkleSource() merkle.Source { return m.tree.Index }

// ScanKeysFrom implements KeyRangeScanner.
func (m *MemStore) ScanKeysFrom(from string, fn func(*KeyState) bool) error {
	return m.ScanKeys("", func(ks *KeyState) bool {
		if ks.Key < from {
			return true
		}
		return fn(ks)
	})
}

func (m *MemStore) check() error {
	if m.closed {
		return fmt.Errorf("memstore: %w", ErrClosed)
	}
	return nil
}

// Event implements Store.
func (m *MemStore) Event(id EventID) (*Event, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	e, ok := m.events[id]
	if !ok {
		return nil, fmt.Errorf("event %s: %w", id, ErrNotFound)
	}
	return e, nil
}

// HasEvent implements Store.
func (m *MemStore) HasEvent(id EventID) (bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.check(); err != nil {
		return false, err
	}
	_, ok := m.events[id]
	return ok, nil
}

// EventAt implements Store.
func (m *MemStore) EventAt(origin PeerID, seq uint64) (*Event, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	id, ok := m.dots[Dot{Origin: origin, Seq: seq}]
	if !ok {
		return nil, fmt.Errorf("event %s/%d: %w", origin, seq, ErrNotFound)
	}
	return m.events[id], nil
}

// ScanEvents implements Store. It walks seq numbers one by one, which is
// fine for a log without gaps.
func (m *MemStore) ScanEvents(origin PeerID, from, to uint64, fn func(*Event) bool) error {
	m.mu.RLock()
	if err := m.check(); err != nil {
		m.mu.RUnlock()
		return err
	}
	if from == 0 {
		from = 1
	}
	var out []*Event
	top := m.vv[origin]
	for s := from; (to == 0 || s <= to) && s <= top; s++ {
		if id, ok := m.dots[Dot{Origin: origin, Seq: s}]; ok {
			out = append(out, m.events[id])
		}
	}
	m.mu.RUnlock()
	for _, e := range out {
		if !fn(e) {
			break
		}
	}
	return nil
}

// KeyState implements Store.
func (m *MemStore) KeyState(key string) (*KeyState, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	ks, ok := m.keys[key]
	if !ok {
		return nil, fmt.Errorf("key %q: %w", key, ErrNotFound)
	}
	return ks.Clone(), nil
}

// ScanKeys implements Store.
func (m *MemStore) ScanKeys(prefix string, fn func(*KeyState) bool) error {
	m.mu.RLock()
	if err := m.check(); err != nil {
		m.mu.RUnlock()
		return err
	}
	var out []*KeyState
	for k, ks := range m.keys {
		if hasPrefix(k, prefix) {
			out = append(out, ks.Clone())
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b *KeyState) int { return compareStrings(a.Key, b.Key) })
	for _, ks := range out {
		if !fn(ks) {
			break
		}
	}
	return nil
}

// ScanKeyHashes implements Store. It sorts on every call; the Pebble store
// keeps a hash index instead.
func (m *MemStore) ScanKeyHashes(from KeyHash, fn func(KeyHash, *KeyState) bool) error {
	type entry struct {
		h  KeyHash
		ks *KeyState
	}
	m.mu.RLock()
	if err := m.check(); err != nil {
		m.mu.RUnlock()
		return err
	}
	var out []entry
	for k, ks := range m.keys {
		if h := HashKey(k); bytes.Compare(h[:], from[:]) >= 0 {
			out = append(out, entry{h, ks.Clone()})
		}
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b entry) int { return bytes.Compare(a.h[:], b.h[:]) })
	for _, e := range out {
		if !fn(e.h, e.ks) {
			break
		}
	}
	return nil
}

// VersionVector implements Store.
func (m *MemStore) VersionVector() (VersionVector, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	return m.vv.Clone(), nil
}

// Clock implements Store.
func (m *MemStore) Clock() (Timestamp, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.check(); err != nil {
		return Timestamp{}, err
	}
	return m.clock, nil
}

// Meta implements Store.
func (m *MemStore) Meta(name string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	v, ok := m.meta[name]
	if !ok {
		return nil, fmt.Errorf("meta %q: %w", name, ErrNotFound)
	}
	return slices.Clone(v), nil
}

// Apply implements Store. It validates the whole batch before changing
// anything, so a failed Apply leaves the store untouched.
func (m *MemStore) Apply(b *Batch) error {
	if b == nil {
		return nil
	}
	if err := b.Check(); err != nil {
		return fmt.Errorf("memstore apply: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(); err != nil {
		return err
	}
	for _, id := range b.DeleteEvents {
		if e, ok := m.events[id]; ok {
			delete(m.dots, e.Dot())
			delete(m.events, id)
		}
	}
	for _, k := range b.DeleteKeys {
		if _, ok := m.keys[k]; ok {
			delete(m.keys, k)
			m.tree.Delete(merkle.HashKey(k))
		}
	}
	for _, e := range b.Events {
		id := e.ID()
		m.events[id] = e
		m.dots[e.Dot()] = id
	}
	for _, ks := range b.Keys {
		m.keys[ks.Key] = ks.Clone()
		m.tree.Put(merkle.HashKey(ks.Key), ks.Digest())
	}
	m.vv.Merge(b.VersionVector)
	if m.clock.Less(b.Clock) {
		m.clock = b.Clock
	}
	for k, v := range b.Meta {
		if v == nil {
			delete(m.meta, k)
			continue
		}
		if m.meta == nil {
			m.meta = map[string][]byte{}
		}
		m.meta[k] = slices.Clone(v)
	}
	return nil
}

// Close implements Store.
func (m *MemStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// compareStrings orders strings bytewise.
func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
