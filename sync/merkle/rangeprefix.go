package merkle

import (
	"encoding/binary"
	"fmt"
)

// MaxLevel is the deepest node level: a node at level 64 covers the keys
// whose KeyHash starts with one particular 64-bit prefix.
const MaxLevel = 64

// Range is one tree node seen as the KeyHash range it covers: every key
// whose KeyHash starts with the Level bits of Prefix. Level 0 is the root
// (every key).
type Range struct {
	// Level is the node's depth, 0..MaxLevel.
	Level uint8
	// Prefix holds the node's Level leading KeyHash bits in its low bits.
	Prefix uint64
}

// RangeOf returns the node at level that covers h.
func RangeOf(h KeyHash, level int) Range {
	if level == 0 {
		return Range{}
	}
	return Range{Level: uint8(level), Prefix: h.Prefix64() >> (64 - level)}
}

// Contains reports whether h lies in r.
func (r Range) Contains(h KeyHash) bool {
	if r.Level == 0 {
		return true
	}
	return h.Prefix64()>>(64-uint(r.Level)) == r.Prefix
}

// First returns the smallest KeyHash in r, where a scan of r starts.
func (r Range) First() KeyHash {
	var h KeyHash
	if r.Level > 0 {
		binary.BigEndian.PutUint64(h[:8], r.Prefix<<(64-uint(r.Level)))
	}
	return h
}

// child returns r's descendant k levels down with index j among them.
func (r Range) child(k int, j uint64) Range {
	return Range{Level: r.Level + uint8(k), Prefix: r.Prefix<<uint(k) | j}
}

// ancestor returns r's ancestor at level l <= r.Level.
func (r Range) ancestor(l int) Range {
	return Range{Level: uint8(l), Prefix: r.Prefix >> (uint(r.Level) - uint(l))}
}

// String formats r as level/prefix.
func (r Range) String() string { return fmt.Sprintf("%d/%x", r.Level, r.Prefix) }
