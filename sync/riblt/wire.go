package riblt

import (
	"encoding/binary"
	"fmt"
)

// EncodedSymbolSize is the size of one symbol on the wire: the item, the
// checksum, and the count modulo 256.
const EncodedSymbolSize = ItemSize + 4 + 1

// AppendSymbols appends the wire encoding of syms to b: for each symbol its
// 12-byte Sum, its Check as 4 bytes little-endian and its Count modulo 256
// as one byte. A receiver only needs the count of the difference of two
// symbols, which is small where it matters (a pure symbol's is ±1), so
// counts travel as residues and the Decoder works modulo 256; a set's size
// travels once, beside the symbols, where an estimate needs it.
func AppendSymbols(b []byte, syms []Symbol) []byte {
	for _, s := range syms {
		b = append(b, s.Sum[:]...)
		b = binary.LittleEndian.AppendUint32(b, s.Check)
		b = append(b, byte(s.Count))
	}
	return b
}

// ParseSymbols decodes symbols encoded by AppendSymbols, at most limit of
// them; each Count is the residue in [-128, 127]. A length that is not a
// whole number of symbols is an error.
func ParseSymbols(b []byte, limit int) ([]Symbol, error) {
	if len(b)%EncodedSymbolSize != 0 {
		return nil, fmt.Errorf("riblt: %d bytes are not a whole number of %d-byte symbols", len(b), EncodedSymbolSize)
	}
	n := len(b) / EncodedSymbolSize
	if n > limit {
		return nil, fmt.Errorf("riblt: %d symbols, more than %d", n, limit)
	}
	out := make([]Symbol, n)
	for i := range out {
		p := b[i*EncodedSymbolSize:]
		copy(out[i].Sum[:], p)
		out[i].Check = binary.LittleEndian.Uint32(p[ItemSize:])
		out[i].Count = int64(int8(p[ItemSize+4]))
	}
	return out, nil
}
