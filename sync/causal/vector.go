package causal

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
)

// PeerID identifies a node and the origin of events: the raw bytes of a
// libp2p peer ID. This package never interprets them.
type PeerID string

// String returns a short hex form for logs.
func (p PeerID) String() string {
	b := []byte(p)
	if len(b) > 6 {
		b = b[len(b)-6:]
	}
	return hex.EncodeToString(b)
}

// Causality is the outcome of comparing two version vectors or two writes.
type Causality int

const (
	// Equal: both sides have seen exactly the same events.
	Equal Causality = iota
	// Before: the left side has seen a strict subset of the right side's events.
	Before
	// After: the left side has seen a strict superset of the right side's events.
	After
	// Concurrent: each side has seen an event the other has not.
	Concurrent
)

// String names the relation.
func (c Causality) String() string {
	switch c {
	case Equal:
		return "equal"
	case Before:
		return "before"
	case After:
		return "after"
	case Concurrent:
		return "concurrent"
	}
	return "unknown"
}

// Dot identifies one event: its origin and the origin's sequence number.
type Dot struct {
	Origin PeerID
	Seq    uint64
}

// VersionVector maps each origin to a sequence number. A node's version vector
// holds, per origin, the highest sequence number it stores with no gap below
// it; a write's causal context holds, per origin, the highest sequence number
// of that origin's writes to the key that the writer had seen. A missing entry
// means zero. The nil vector is the empty vector for reading; use Clone or
// make before writing.
type VersionVector map[PeerID]uint64

// Get returns the entry for origin (zero when absent).
func (v VersionVector) Get(origin PeerID) uint64 { return v[origin] }

// Covers reports whether v includes the event d.
func (v VersionVector) Covers(d Dot) bool { return d.Seq != 0 && v[d.Origin] >= d.Seq }

// Clone returns an independent copy of v (never nil).
func (v VersionVector) Clone() VersionVector {
	c := make(VersionVector, len(v))
	for o, s := range v {
		c[o] = s
	}
	return c
}

// Raise sets v[origin] to seq if seq is larger. v must not be nil.
func (v VersionVector) Raise(origin PeerID, seq uint64) {
	if seq > v[origin] {
		v[origin] = seq
	}
}

// Merge raises every entry of v to at least the entry of o (pointwise max).
// v must not be nil.
func (v VersionVector) Merge(o VersionVector) {
	for origin, seq := range o {
		v.Raise(origin, seq)
	}
}

// Compare tells how v relates to o: Before when o has seen everything v has
// and more, After for the reverse, Equal or Concurrent.
func (v VersionVector) Compare(o VersionVector) Causality {
	less, greater := false, false
	for origin, s := range v {
		t := o[origin]
		if s < t {
			less = true
		} else if s > t {
			greater = true
		}
	}
	for origin, t := range o {
		if _, ok := v[origin]; !ok && t > 0 {
			less = true
		}
	}
	switch {
	case less && greater:
		return Concurrent
	case less:
		return Before
	case greater:
		return After
	}
	return Equal
}

// Origins returns the origins with a non-zero entry, sorted.
func (v VersionVector) Origins() []PeerID {
	out := make([]PeerID, 0, len(v))
	for o, s := range v {
		if s > 0 {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return out
}

// Equal reports whether v and o hold the same non-zero entries.
func (v VersionVector) Equal(o VersionVector) bool { return v.Compare(o) == Equal }

// Dominates reports whether v covers every entry of o.
func (v VersionVector) Dominates(o VersionVector) bool {
	for origin, s := range o {
		if v[origin] < s {
			return false
		}
	}
	return true
}

// Total returns the number of events the vector covers.
func (v VersionVector) Total() uint64 {
	var n uint64
	for _, s := range v {
		n += s
	}
	return n
}

// Min returns the pointwise minimum of a and b (missing entries are 0).
func Min(a, b VersionVector) VersionVector {
	out := VersionVector{}
	for o, s := range a {
		if t := b[o]; t > 0 {
			out[o] = min(s, t)
		}
	}
	return out
}

// Join returns the pointwise maximum of a and b as a new vector.
func Join(a, b VersionVector) VersionVector {
	out := a.Clone()
	out.Merge(b)
	return out
}

// Digest is an order-independent hash of a version vector, maintained
// incrementally: the XOR of sha256(origin, seq) over the non-zero entries.
// Two nodes with equal digests hold the same events (with overwhelming
// probability), which lets digest sync skip the vector exchange.
type Digest [32]byte

// entryHash is the contribution of one vector entry to a Digest.
func entryHash(origin PeerID, seq uint64) Digest {
	h := sha256.New()
	var b [binary.MaxVarintLen64]byte
	h.Write(binary.AppendUvarint(b[:0], uint64(len(origin))))
	h.Write([]byte(origin))
	h.Write(binary.BigEndian.AppendUint64(b[:0], seq))
	var d Digest
	h.Sum(d[:0])
	return d
}

// xor folds o into d.
func (d *Digest) xor(o Digest) {
	for i := range d {
		d[i] ^= o[i]
	}
}

// Update replaces origin's contribution oldSeq by newSeq in d.
func (d *Digest) Update(origin PeerID, oldSeq, newSeq uint64) {
	if oldSeq == newSeq {
		return
	}
	if oldSeq > 0 {
		d.xor(entryHash(origin, oldSeq))
	}
	if newSeq > 0 {
		d.xor(entryHash(origin, newSeq))
	}
}

// DigestOf computes the digest of v from scratch.
func DigestOf(v VersionVector) Digest {
	var d Digest
	for o, s := range v {
		d.Update(o, 0, s)
	}
	return d
}
