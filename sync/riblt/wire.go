package riblt

import (
	"encoding/binary"
	"fmt"
)

// MaxEncodedSymbolSize is the largest encoding of one symbol: the item, the
// checksum, and a zigzag varint count.
const MaxEncodedSymbolSize = ItemSize + 8 + binary.MaxVarintLen64

// AppendSymbols appends the wire encoding of syms to b: for each symbol its
// 16-byte Sum, its Check as 8 bytes little-endian, and its Count as a
// zigzag varint (1 byte for counts within ±63, the common case in a
// difference).
func AppendSymbols(b []byte, syms []Symbol) []byte {
	for _, s := range syms {
		b = append(b, s.Sum[:]...)
		b = binary.LittleEndian.AppendUint64(b, s.Check)
		b = binary.AppendVarint(b, s.Count)
	}
	return b
}

// ParseSymbols decodes symbols encoded by AppendSymbols, at most limit of
// them. Trailing bytes, a truncated symbol or an overlong varint is an error
// naming the symbol.
func ParseSymbols(b []byte, limit int) ([]Symbol, error) {
	// Every symbol takes at least ItemSize+9 bytes, which bounds the
	// allocation by the input.
	out := make([]Symbol, 0, min(limit, len(b)/(ItemSize+9)))
	for len(b) > 0 {
		if len(out) == limit {
			return nil, fmt.Errorf("riblt: more than %d symbols", limit)
		}
		if len(b) < ItemSize+9 {
			return nil, fmt.Errorf("riblt: symbol %d truncated (%d bytes left)", len(out), len(b))
		}
		var s Symbol
		copy(s.Sum[:], b)
		s.Check = binary.LittleEndian.Uint64(b[ItemSize:])
		c, k := binary.Varint(b[ItemSize+8:])
		if k <= 0 {
			return nil, fmt.Errorf("riblt: symbol %d: bad count varint", len(out))
		}
		s.Count = c
		out = append(out, s)
		b = b[ItemSize+8+k:]
	}
	return out, nil
}
