package merkle

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// KeyHash is the sha256 of a key. It places the key in the tree: its first
// bits select the leaf. It has the same layout as sync.KeyHash.
type KeyHash [32]byte

// HashKey returns the KeyHash of key.
func HashKey(key string) KeyHash { return sha256.Sum256([]byte(key)) }

// Prefix64 returns the first 8 bytes of h as a big-endian integer, the part
// of the hash that orders and places the key.
func (h KeyHash) Prefix64() uint64 { return binary.BigEndian.Uint64(h[:8]) }

// String returns the first 8 bytes in hex.
func (h KeyHash) String() string { return hex.EncodeToString(h[:8]) }

// Digest is a digest of one key's replicated state, computed by the caller
// (for example over the state's version IDs and causal context). Two nodes
// agree on a key exactly when they hold equal digests for it.
type Digest [32]byte

// Entry is one key as the tree sees it.
type Entry struct {
	// KeyHash places the key.
	KeyHash KeyHash
	// Digest identifies the key's state.
	Digest Digest
}

// entryDomain separates entry hashes from every other sha256 use.
const entryDomain = "murmur/merkle/entry/v1\x00"

// Sum is the lane-wise sum, mod 2^64 per lane, of entry hashes. Addition is
// commutative and invertible, so the sum over a set does not depend on the
// order of insertions and removals.
type Sum [4]uint64

// entrySum returns the entry hash of e as a Sum.
func entrySum(e Entry) Sum {
	var buf [len(entryDomain) + 64]byte
	n := copy(buf[:], entryDomain)
	n += copy(buf[n:], e.KeyHash[:])
	copy(buf[n:], e.Digest[:])
	h := sha256.Sum256(buf[:])
	return Sum{
		binary.LittleEndian.Uint64(h[0:]),
		binary.LittleEndian.Uint64(h[8:]),
		binary.LittleEndian.Uint64(h[16:]),
		binary.LittleEndian.Uint64(h[24:]),
	}
}

// add returns s + o lane-wise.
func (s Sum) add(o Sum) Sum {
	return Sum{s[0] + o[0], s[1] + o[1], s[2] + o[2], s[3] + o[3]}
}

// sub returns s - o lane-wise.
func (s Sum) sub(o Sum) Sum {
	return Sum{s[0] - o[0], s[1] - o[1], s[2] - o[2], s[3] - o[3]}
}

// Node is the value of one tree node: how many entries lie under it and the
// sum of their entry hashes. The zero Node is an empty subtree.
type Node struct {
	// Count is the number of entries under the node.
	Count uint64
	// Sum is the sum of their entry hashes.
	Sum Sum
}

// NodeSize is the size of Node's binary encoding.
const NodeSize = 40

// add returns n with entry hash s added.
func (n Node) add(s Sum) Node { return Node{n.Count + 1, n.Sum.add(s)} }

// remove returns n with entry hash s removed.
func (n Node) remove(s Sum) Node { return Node{n.Count - 1, n.Sum.sub(s)} }

// plus returns the node covering the entries of n and o.
func (n Node) plus(o Node) Node { return Node{n.Count + o.Count, n.Sum.add(o.Sum)} }

// Hash returns the node's 32-byte hash: its sum in little-endian lanes.
// Together with Count it identifies the entry set with overwhelming
// probability for honestly produced entries.
func (n Node) Hash() [32]byte {
	var h [32]byte
	for i, l := range n.Sum {
		binary.LittleEndian.PutUint64(h[i*8:], l)
	}
	return h
}

// short returns the 8-byte hash the protocol sends for inner nodes.
func (n Node) short() uint64 { return n.Sum[0] }

// AppendBinary appends the NodeSize-byte encoding of n to b.
func (n Node) AppendBinary(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, n.Count)
	for _, l := range n.Sum {
		b = binary.BigEndian.AppendUint64(b, l)
	}
	return b
}

// DecodeNode decodes a node written by AppendBinary.
func DecodeNode(b []byte) (Node, error) {
	if len(b) != NodeSize {
		return Node{}, fmt.Errorf("merkle: node encoding of %d bytes, want %d", len(b), NodeSize)
	}
	var n Node
	n.Count = binary.BigEndian.Uint64(b)
	for i := range n.Sum {
		n.Sum[i] = binary.BigEndian.Uint64(b[8+8*i:])
	}
	return n, nil
}
