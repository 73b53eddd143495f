package riblt

import "math"

// mapping yields the indices of the coded symbols an item belongs to, in
// increasing order, from a generator seeded by the item's checksum, so both
// sides of a reconciliation derive the same indices from the item alone.
//
// Every item is in symbol 0. Past that, an item in symbol j is next in
// symbol j+g, with the gap g drawn so that the item is in symbol i with
// probability close to 2/(i+2): dense at the start, where few differences
// decode, and sparse further out, where many do. That density is what makes
// the code rateless (Yang, Gilad and Alizadeh, "Practical Rateless Set
// Reconciliation", SIGCOMM 2024): any prefix of the symbol stream is a good
// code for some number of differences, so a sender only sends more symbols
// until the receiver decodes.
//
// The gap follows from asking that the item skip symbols j+1..j+g-1 with
// probability prod (1 - 2/(k+2)) = (j+1)(j+2)/((j+g)(j+g+1)), which a uniform
// u in (0,1] matches for g ≈ (j+1.5)(1/sqrt(u) - 1).
type mapping struct {
	state uint64 // splitmix64 state
	index uint64 // current symbol index
}

// newMapping starts the index sequence of an item with checksum c at 0.
func newMapping(c uint32) mapping { return mapping{state: uint64(c)} }

// next advances to the item's next symbol index and returns it. It returns
// math.MaxUint64 once the indices leave the representable range.
func (m *mapping) next() uint64 {
	if m.index == math.MaxUint64 {
		return m.index
	}
	m.state += 0x9e3779b97f4a7c15
	z := m.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	u := (float64(z>>11) + 1) / (1 << 53) // (0, 1]
	g := math.Ceil((float64(m.index) + 1.5) * (1/math.Sqrt(u) - 1))
	if g < 1 {
		g = 1
	}
	if g >= float64(math.MaxUint64-m.index) {
		m.index = math.MaxUint64
		return m.index
	}
	m.index += uint64(g)
	return m.index
}
