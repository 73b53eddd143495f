package riblt

import (
	"crypto/sha256"
	"encoding/binary"
)

// ItemSize is the size in bytes of one set element.
const ItemSize = 12

// Item is one element of a reconciled set. murmur's anti-entropy puts the
// first 6 bytes of a key's hash and the first 6 bytes of its state digest in
// it, so two nodes hold the same item for a key exactly when they agree on
// its state (up to a 48-bit digest collision). Small items keep symbols
// small: a coded symbol costs 17 bytes on the wire.
type Item [ItemSize]byte

// checkDomain separates item checksums from every other sha256 use.
const checkDomain = "murmur/riblt/item/v1\x00"

// Check returns the checksum of it: the first 4 bytes of a domain-separated
// sha256. A coded symbol is pure (holds exactly one item) when its Check
// equals the checksum of its Sum. A false match (about 2^-32 per test)
// recovers a wrong item, which makes the decode inconsistent or names a key
// that then turns out not to differ: it costs a fallback, never data.
func Check(it Item) uint32 {
	var buf [len(checkDomain) + ItemSize]byte
	n := copy(buf[:], checkDomain)
	copy(buf[n:], it[:])
	h := sha256.Sum256(buf[:])
	return binary.LittleEndian.Uint32(h[:4])
}

// xor sets it to it ^ o.
func (it *Item) xor(o Item) {
	a0 := binary.LittleEndian.Uint64(it[0:]) ^ binary.LittleEndian.Uint64(o[0:])
	a1 := binary.LittleEndian.Uint32(it[8:]) ^ binary.LittleEndian.Uint32(o[8:])
	binary.LittleEndian.PutUint64(it[0:], a0)
	binary.LittleEndian.PutUint32(it[8:], a1)
}

// Symbol is one coded symbol: the XOR of the items mapped to it, the XOR of
// their checksums, and how many there are. Symbols of two sets subtract
// (XOR the sums, subtract the counts) into a symbol of their symmetric
// difference, with items only in the first set counted +1 and items only in
// the second -1.
type Symbol struct {
	// Sum is the XOR of the items.
	Sum Item
	// Check is the XOR of the items' checksums.
	Check uint32
	// Count is the number of items added minus the number removed.
	Count int64
}

// add folds it (with checksum c) into s with the given sign (+1 or -1).
func (s *Symbol) add(it Item, c uint32, sign int64) {
	s.Sum.xor(it)
	s.Check ^= c
	s.Count += sign
}

// Sub returns s - o: a symbol of the symmetric difference.
func (s Symbol) Sub(o Symbol) Symbol {
	s.Sum.xor(o.Sum)
	s.Check ^= o.Check
	s.Count -= o.Count
	return s
}

// IsZero reports whether s holds nothing.
func (s Symbol) IsZero() bool { return s.Count == 0 && s.Check == 0 && s.Sum == Item{} }

// pure reports whether s holds exactly one item, added or removed.
func (s Symbol) pure() bool {
	return (s.Count == 1 || s.Count == -1) && s.Check == Check(s.Sum)
}
