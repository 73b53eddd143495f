package merkle

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/murmur-p2p/murmur/sync/riblt"
)

// The coded fast path. A tree with a sketch (Tree.EnableSketch) keeps the
// first symbols of a rateless IBLT over its entries, each entry coded as an
// Item of its key hash and digest (ItemOf). An initiator whose tree has one
// sends a few symbols beside its Start request; a responder with a sketch
// subtracts its own symbols and peels. If that recovers the whole
// difference, the response names the differing keys by 32-bit key-hash
// prefix and the session ends after one round trip; if not, the responder
// asks for more symbols (sized from the two set sizes, and growing
// eightfold while batches are small, twofold after), and once the
// sketch would run out it answers the Start request the Merkle way. A
// small difference thus costs its symbols (about 1.4 per differing key, 17
// bytes each) and a few bytes per key; a large one costs one wasted round
// trip's few symbols on top of the Merkle descent.
//
// CodedRequest and CodedResponse travel beside Request and Response (their
// own fields on the wire) rather than inside them, so a node that does not
// know the coded path ignores them and answers the Merkle request: the
// initiator then simply continues the Merkle way.

// CodedRequest carries sketch symbols from the initiator.
type CodedRequest struct {
	// Count is the initiator's number of entries (with From 0 only): the
	// responder sizes its next ask from the difference of the two counts.
	Count uint64
	// From is the index of the first symbol.
	From int
	// Symbols are the initiator's symbols From, From+1, ...; none means the
	// initiator's sketch is exhausted and the session falls back.
	Symbols []riblt.Symbol
	// Probes are the initiator's symbols ProbeIndex .. ProbeIndex+
	// ProbeCount-1, sent once, with the second batch: far out in the
	// stream each holds a difference item with probability about
	// 2/ProbeIndex, so how many of them differ estimates the size of the
	// difference when the entry counts say nothing (keys changed, not
	// added).
	Probes []riblt.Symbol
}

// ProbeIndex and ProbeCount place the estimation probes: eight symbols
// from index 2048 tell about 100 differences from about 2,000 (a probe
// differs with probability 1 - exp(-d/1025)), which is the range where the
// choice between the next batch and the Merkle path matters.
const (
	ProbeIndex = 2048
	ProbeCount = 8
)

// estimateFromProbes returns the number of differing entries that zero of
// ProbeCount probes agreeing best explains: d = -1025 ln((zero+1/2)/(n+1)).
func estimateFromProbes(zero int) int {
	return int(math.Ceil(-float64(ProbeIndex+2) / 2 * math.Log((float64(zero)+0.5)/float64(ProbeCount+1))))
}

// CodedStatus is the responder's verdict on the symbols it has.
type CodedStatus uint8

const (
	// CodedDecoded: the difference is recovered; Prefixes names it and the
	// session is over.
	CodedDecoded CodedStatus = 1
	// CodedMore: send Want more symbols.
	CodedMore CodedStatus = 2
	// CodedFallback: the coded path gave up; the response carries the
	// Merkle answer to the Start request.
	CodedFallback CodedStatus = 3
)

// CodedResponse is the responder's answer to a CodedRequest.
type CodedResponse struct {
	Status CodedStatus
	// Want is how many more symbols to send (with CodedMore).
	Want int
	// Prefixes are the first 32 bits of the key hashes of every differing
	// entry on either side, ascending and distinct (with CodedDecoded).
	// Each names the level-32 Range both sides exchange their entries in.
	Prefixes []uint32
}

// ItemOf codes the entry (h, d) as a sketch item: the first 6 bytes of each.
func ItemOf(h KeyHash, d Digest) riblt.Item {
	var it riblt.Item
	copy(it[:6], h[:6])
	copy(it[6:], d[:6])
	return it
}

// prefixOf returns the 32-bit key-hash prefix an item carries.
func prefixOf(it riblt.Item) uint32 { return binary.BigEndian.Uint32(it[:4]) }

// prefixRanges turns decoded prefixes into level-32 ranges.
func prefixRanges(ps []uint32) []Range {
	out := make([]Range, len(ps))
	for i, p := range ps {
		out[i] = Range{Level: 32, Prefix: uint64(p)}
	}
	return out
}

const codedVersion = 1

// MarshalBinary encodes c: a version byte, uvarint Count, From and the
// number of symbols, the symbols as riblt.AppendSymbols writes them, then
// the probes (none, or ProbeCount) the same way.
func (c *CodedRequest) MarshalBinary() ([]byte, error) {
	if len(c.Probes) != 0 && len(c.Probes) != ProbeCount {
		return nil, fmt.Errorf("%w: %d coded probes", ErrInvalidMessage, len(c.Probes))
	}
	b := make([]byte, 0, c.Size())
	b = append(b, codedVersion)
	b = binary.AppendUvarint(b, c.Count)
	b = binary.AppendUvarint(b, uint64(c.From))
	b = binary.AppendUvarint(b, uint64(len(c.Symbols)))
	b = riblt.AppendSymbols(b, c.Symbols)
	return riblt.AppendSymbols(b, c.Probes), nil
}

// Size returns the length of c's encoding.
func (c *CodedRequest) Size() int {
	return 1 + uvarintLen(c.Count) + uvarintLen(uint64(c.From)) + uvarintLen(uint64(len(c.Symbols))) +
		(len(c.Symbols)+len(c.Probes))*riblt.EncodedSymbolSize
}

// UnmarshalBinary decodes a coded request of at most maxSymbols symbols.
func (c *CodedRequest) UnmarshalBinary(b []byte, maxSymbols int) error {
	*c = CodedRequest{}
	if len(b) < 1 || b[0] != codedVersion {
		return fmt.Errorf("%w: coded request version", ErrInvalidMessage)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return fmt.Errorf("%w: coded request count truncated", ErrInvalidMessage)
	}
	c.Count, b = n, b[k:]
	from, k := binary.Uvarint(b)
	if k <= 0 || from > riblt.MaxSymbols {
		return fmt.Errorf("%w: coded request first symbol index", ErrInvalidMessage)
	}
	c.From, b = int(from), b[k:]
	n, b, err := readCount(b, "coded symbols", maxSymbols)
	if err != nil {
		return err
	}
	if uint64(len(b)) < n*riblt.EncodedSymbolSize {
		return fmt.Errorf("%w: coded request: %d bytes for %d symbols", ErrInvalidMessage, len(b), n)
	}
	at := int(n) * riblt.EncodedSymbolSize
	if c.Symbols, err = riblt.ParseSymbols(b[:at], int(n)); err != nil {
		return fmt.Errorf("%w: coded request: %w", ErrInvalidMessage, err)
	}
	if rest := b[at:]; len(rest) > 0 {
		if len(rest) != ProbeCount*riblt.EncodedSymbolSize {
			return fmt.Errorf("%w: coded request: %d bytes of probes", ErrInvalidMessage, len(rest))
		}
		if c.Probes, err = riblt.ParseSymbols(rest, ProbeCount); err != nil {
			return fmt.Errorf("%w: coded request: %w", ErrInvalidMessage, err)
		}
	}
	return nil
}

// MarshalBinary encodes c: a version byte, the status byte, then with
// CodedMore a uvarint Want, with CodedDecoded a uvarint count and 4 bytes
// per prefix, big-endian.
func (c *CodedResponse) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, c.Size())
	b = append(b, codedVersion, byte(c.Status))
	switch c.Status {
	case CodedMore:
		b = binary.AppendUvarint(b, uint64(c.Want))
	case CodedDecoded:
		b = binary.AppendUvarint(b, uint64(len(c.Prefixes)))
		for _, p := range c.Prefixes {
			b = binary.BigEndian.AppendUint32(b, p)
		}
	}
	return b, nil
}

// Size returns the length of c's encoding.
func (c *CodedResponse) Size() int {
	switch c.Status {
	case CodedMore:
		return 2 + uvarintLen(uint64(c.Want))
	case CodedDecoded:
		return 2 + uvarintLen(uint64(len(c.Prefixes))) + 4*len(c.Prefixes)
	}
	return 2
}

// UnmarshalBinary decodes a coded response of at most maxPrefixes
// prefixes; prefixes must ascend strictly.
func (c *CodedResponse) UnmarshalBinary(b []byte, maxPrefixes int) error {
	*c = CodedResponse{}
	if len(b) < 2 || b[0] != codedVersion {
		return fmt.Errorf("%w: coded response version", ErrInvalidMessage)
	}
	c.Status, b = CodedStatus(b[1]), b[2:]
	switch c.Status {
	case CodedMore:
		w, k := binary.Uvarint(b)
		if k <= 0 || w == 0 || w > riblt.MaxSymbols {
			return fmt.Errorf("%w: coded response wants %d symbols", ErrInvalidMessage, w)
		}
		c.Want, b = int(w), b[k:]
	case CodedDecoded:
		n, rest, err := readCount(b, "coded prefixes", maxPrefixes)
		if err != nil {
			return err
		}
		if uint64(len(rest)) != 4*n {
			return fmt.Errorf("%w: %d bytes for %d coded prefixes", ErrInvalidMessage, len(rest), n)
		}
		c.Prefixes = make([]uint32, n)
		for i := range c.Prefixes {
			c.Prefixes[i] = binary.BigEndian.Uint32(rest[4*i:])
			if i > 0 && c.Prefixes[i] <= c.Prefixes[i-1] {
				return fmt.Errorf("%w: coded prefixes out of order", ErrInvalidMessage)
			}
		}
		b = nil
	case CodedFallback:
	default:
		return fmt.Errorf("%w: coded response status %d", ErrInvalidMessage, c.Status)
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes in coded response", ErrInvalidMessage, len(b))
	}
	return nil
}

// codedResponder is the responder's side of the coded path.
type codedResponder struct {
	dec   riblt.Decoder
	count uint64 // the initiator's entry count
	est   int    // the probes' estimate of the difference, 0 before them
}

// feed adds the initiator's symbols and decides: decoded, more, or fall
// back (nil).
func (c *codedResponder) feed(t *Tree, req *CodedRequest) (*CodedResponse, error) {
	sk := t.sketch
	if req.From != c.dec.Symbols() {
		return nil, fmt.Errorf("%w: coded symbols from %d, expected %d", ErrInvalidMessage, req.From, c.dec.Symbols())
	}
	if len(req.Symbols) == 0 || req.From+len(req.Symbols) > sk.Len() {
		return &CodedResponse{Status: CodedFallback}, nil
	}
	if len(req.Probes) > 0 && c.est == 0 && sk.Len() >= ProbeIndex+ProbeCount {
		mine := sk.Symbols(ProbeIndex, ProbeIndex+ProbeCount)
		zero := 0
		for i, p := range req.Probes {
			d := p.Sub(mine[i])
			if int8(d.Count) == 0 && d.Check == 0 && d.Sum == (riblt.Item{}) {
				zero++
			}
		}
		c.est = max(estimateFromProbes(zero), 1)
	}
	if err := c.dec.Add(req.Symbols, sk.Symbols(req.From, req.From+len(req.Symbols))); err != nil {
		// The initiator's tree may have changed under the session, or it
		// lies; either way the Merkle path still finds the truth.
		return &CodedResponse{Status: CodedFallback}, nil
	}
	if c.dec.Decoded() {
		var ps []uint32
		for _, it := range c.dec.Remote() {
			ps = append(ps, prefixOf(it))
		}
		for _, it := range c.dec.Local() {
			ps = append(ps, prefixOf(it))
		}
		slices.Sort(ps)
		return &CodedResponse{Status: CodedDecoded, Prefixes: slices.Compact(ps)}, nil
	}
	have := c.dec.Symbols()
	delta := int64(c.count) - sk.Count()
	if delta < 0 {
		delta = -delta
	}
	need := riblt.SymbolsFor(int(min(max(delta, int64(c.est)), riblt.MaxSymbols)))
	if need > sk.Len() {
		return &CodedResponse{Status: CodedFallback}, nil // too many differences for the sketch
	}
	// Below the size estimate, ask for it; past it, grow eightfold while
	// the batches are small (round trips cost more than symbols) and
	// twofold after (an overshoot then costs more than a round trip).
	grow := 2
	if have < 64 {
		grow = 8
	}
	want := max(need, grow*have) - have
	if have+want > sk.Len() {
		want = sk.Len() - have
	}
	if want <= 0 {
		return &CodedResponse{Status: CodedFallback}, nil
	}
	return &CodedResponse{Status: CodedMore, Want: want}, nil
}
