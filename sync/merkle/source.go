package merkle

import (
	"bytes"
	"slices"
)

// Source lists the entries of a key/value state in KeyHash order. A store
// implements it over an index of its keys by hash; MemIndex is an
// in-memory one. The tree reads it only for nodes below its leaves and for
// Rebuild.
type Source interface {
	// Scan calls fn for every entry whose KeyHash is >= from, in ascending
	// KeyHash order, until fn returns false.
	Scan(from KeyHash, fn func(Entry) bool) error
}

// memBucketBits is how many leading hash bits pick a MemIndex bucket.
const memBucketBits = 12

// MemIndex is an in-memory Source: entries in 4096 buckets by leading
// KeyHash bits, each kept sorted, so Put and Delete cost about
// log(n/4096) plus a copy of n/4096 entries. The zero value is not usable;
// call NewMemIndex.
type MemIndex struct {
	buckets [][]Entry
	n       int
}

// NewMemIndex returns an empty index.
func NewMemIndex() *MemIndex {
	return &MemIndex{buckets: make([][]Entry, 1<<memBucketBits)}
}

func bucketOf(h KeyHash) int { return int(h.Prefix64() >> (64 - memBucketBits)) }

func cmpEntry(e Entry, h KeyHash) int { return bytes.Compare(e.KeyHash[:], h[:]) }

// Put sets h's digest to d and returns the previous digest, if any.
func (m *MemIndex) Put(h KeyHash, d Digest) (old *Digest) {
	b := bucketOf(h)
	i, found := slices.BinarySearchFunc(m.buckets[b], h, cmpEntry)
	if found {
		prev := m.buckets[b][i].Digest
		m.buckets[b][i].Digest = d
		return &prev
	}
	m.buckets[b] = slices.Insert(m.buckets[b], i, Entry{h, d})
	m.n++
	return nil
}

// Delete removes h and returns its digest, if it was present.
func (m *MemIndex) Delete(h KeyHash) (old *Digest) {
	b := bucketOf(h)
	i, found := slices.BinarySearchFunc(m.buckets[b], h, cmpEntry)
	if !found {
		return nil
	}
	prev := m.buckets[b][i].Digest
	m.buckets[b] = slices.Delete(m.buckets[b], i, i+1)
	m.n--
	return &prev
}

// Get returns h's digest.
func (m *MemIndex) Get(h KeyHash) (Digest, bool) {
	b := bucketOf(h)
	i, found := slices.BinarySearchFunc(m.buckets[b], h, cmpEntry)
	if !found {
		return Digest{}, false
	}
	return m.buckets[b][i].Digest, true
}

// Len returns the number of entries.
func (m *MemIndex) Len() int { return m.n }

// Scan implements Source.
func (m *MemIndex) Scan(from KeyHash, fn func(Entry) bool) error {
	b := bucketOf(from)
	i, _ := slices.BinarySearchFunc(m.buckets[b], from, cmpEntry)
	for ; b < len(m.buckets); b++ {
		for _, e := range m.buckets[b][i:] {
			if !fn(e) {
				return nil
			}
		}
		i = 0
	}
	return nil
}
