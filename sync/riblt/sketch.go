package riblt

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Sketch is the first Len coded symbols of a set, kept up to date as items
// come and go: adding or removing an item touches the O(log Len) symbols it
// maps to, so a store can maintain it beside every write, like the Merkle
// tree, and serve any prefix of it without reading the set.
//
// A Sketch is not safe for concurrent use.
type Sketch struct {
	syms []Symbol
}

// NewSketch returns the sketch of the empty set with n symbols.
func NewSketch(n int) (*Sketch, error) {
	if n <= 0 || n > MaxSymbols {
		return nil, fmt.Errorf("riblt: sketch length %d outside [1, %d]", n, MaxSymbols)
	}
	return &Sketch{syms: make([]Symbol, n)}, nil
}

// Len returns the number of symbols the sketch keeps.
func (s *Sketch) Len() int { return len(s.syms) }

// Add adds it to the set.
func (s *Sketch) Add(it Item) { s.apply(it, 1) }

// Remove removes it from the set. Removing an item that was never added
// leaves a sketch of a set with a negative count, which decodes as if the
// item were in the other set.
func (s *Sketch) Remove(it Item) { s.apply(it, -1) }

// Update replaces old with cur; either may be nil (an insertion or a
// deletion).
func (s *Sketch) Update(old, cur *Item) {
	if old != nil && cur != nil && *old == *cur {
		return
	}
	if old != nil {
		s.Remove(*old)
	}
	if cur != nil {
		s.Add(*cur)
	}
}

// Indices calls fn with the index of every symbol of the sketch that it
// maps to, in increasing order: the symbols Add, Remove or Update of it
// change, which a store persists.
func (s *Sketch) Indices(it Item, fn func(i int)) {
	m := newMapping(Check(it))
	for i := uint64(0); i < uint64(len(s.syms)); i = m.next() {
		fn(int(i))
	}
}

// Symbol returns symbol i (0 <= i < Len).
func (s *Sketch) Symbol(i int) Symbol { return s.syms[i] }

// AppendBinary appends the full-precision encoding of sym (its 12-byte
// Sum, 4-byte Check and 8-byte Count, little-endian) for storage; the wire
// uses AppendSymbols.
func AppendBinary(b []byte, sym Symbol) []byte {
	b = append(b, sym.Sum[:]...)
	b = binary.LittleEndian.AppendUint32(b, sym.Check)
	return binary.LittleEndian.AppendUint64(b, uint64(sym.Count))
}

// DecodeSymbol decodes what AppendBinary wrote.
func DecodeSymbol(b []byte) (Symbol, error) {
	var sym Symbol
	if len(b) != ItemSize+12 {
		return sym, fmt.Errorf("riblt: stored symbol of %d bytes, want %d", len(b), ItemSize+12)
	}
	copy(sym.Sum[:], b)
	sym.Check = binary.LittleEndian.Uint32(b[ItemSize:])
	sym.Count = int64(binary.LittleEndian.Uint64(b[ItemSize+4:]))
	return sym, nil
}

func (s *Sketch) apply(it Item, sign int64) {
	c := Check(it)
	m := newMapping(c)
	for i := uint64(0); i < uint64(len(s.syms)); i = m.next() {
		s.syms[i].add(it, c, sign)
	}
}

// Symbols returns symbols [from, to) of the sketch. The slice is a copy.
func (s *Sketch) Symbols(from, to int) []Symbol {
	from = max(0, min(from, len(s.syms)))
	to = max(from, min(to, len(s.syms)))
	return append([]Symbol(nil), s.syms[from:to]...)
}

// Count returns the number of items in the set (symbol 0 holds them all).
func (s *Sketch) Count() int64 { return s.syms[0].Count }

// Load replaces the sketch's symbols with syms, as persisted by a store.
func (s *Sketch) Load(syms []Symbol) error {
	if len(syms) != len(s.syms) {
		return fmt.Errorf("riblt: load %d symbols into a sketch of %d", len(syms), len(s.syms))
	}
	copy(s.syms, syms)
	return nil
}

// Equal reports whether s and o hold the same symbols.
func (s *Sketch) Equal(o *Sketch) bool {
	if len(s.syms) != len(o.syms) {
		return false
	}
	for i := range s.syms {
		if s.syms[i] != o.syms[i] {
			return false
		}
	}
	return true
}

// MaxSymbols bounds sketches and decoders: 2^20 symbols (about 27 MiB on
// the wire), enough for some 600,000 differences, far past the point where
// a snapshot is cheaper.
const MaxSymbols = 1 << 20

// SymbolsFor returns how many symbols to send first when about d
// differences are expected: the code needs 1.35-1.5 symbols per difference
// on average at d >= 100 and relatively more for tiny d; a margin over the
// mean is cheaper than another round trip.
func SymbolsFor(d int) int {
	if d <= 0 {
		return 3
	}
	n := int(math.Ceil(1.6*float64(d))) + 2
	return min(n, MaxSymbols)
}
