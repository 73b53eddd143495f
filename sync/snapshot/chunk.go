package snapshot

import (
	"encoding/binary"
	"fmt"
)

const (
	wireVersion = 1

	flagStarted = 1
	flagLast    = 2
)

// MarshalBinary encodes c: a version byte, a flags byte, the
// uvarint-prefixed cursor key if started, the progress as four uvarints
// (keys done, keys total, bytes done, bytes total), a uvarint item count and
// per item its uvarint-prefixed key and value.
func (c *Chunk) MarshalBinary() ([]byte, error) {
	n := 2 + binary.MaxVarintLen64 + len(c.From.After) + 5*binary.MaxVarintLen64
	for _, it := range c.Items {
		n += it.size()
	}
	b := make([]byte, 0, n)
	var flags byte
	if c.From.Started {
		flags |= flagStarted
	}
	if c.Last {
		flags |= flagLast
	}
	b = append(b, wireVersion, flags)
	if c.From.Started {
		b = binary.AppendUvarint(b, uint64(len(c.From.After)))
		b = append(b, c.From.After...)
	}
	p := c.Progress
	for _, v := range []uint64{p.KeysDone, p.KeysTotal, p.BytesDone, p.BytesTotal} {
		b = binary.AppendUvarint(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Items)))
	for _, it := range c.Items {
		b = binary.AppendUvarint(b, uint64(len(it.Key)))
		b = append(b, it.Key...)
		b = binary.AppendUvarint(b, uint64(len(it.Value)))
		b = append(b, it.Value...)
	}
	return b, nil
}

// UnmarshalBinary decodes a chunk, enforcing cfg's limits before
// allocating: at most MaxChunkItems items of at most MaxItemBytes each.
func (c *Chunk) UnmarshalBinary(b []byte, cfg Config) error {
	cfg = cfg.withDefaults()
	*c = Chunk{}
	if len(b) < 2 {
		return fmt.Errorf("%w: %d bytes", ErrInvalidChunk, len(b))
	}
	if b[0] != wireVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrInvalidChunk, b[0], wireVersion)
	}
	flags := b[1]
	if flags&^(flagStarted|flagLast) != 0 {
		return fmt.Errorf("%w: unknown flags %#x", ErrInvalidChunk, flags)
	}
	c.Last = flags&flagLast != 0
	b = b[2:]
	if flags&flagStarted != 0 {
		after, rest, err := field(b, cfg.MaxItemBytes, -1, "cursor")
		if err != nil {
			return err
		}
		c.From = Cursor{Started: true, After: string(after)}
		b = rest
	}
	var vals [5]uint64
	for i := range vals {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return fmt.Errorf("%w: header field %d truncated", ErrInvalidChunk, i)
		}
		vals[i], b = v, b[k:]
	}
	c.Progress = Progress{KeysDone: vals[0], KeysTotal: vals[1], BytesDone: vals[2], BytesTotal: vals[3]}
	n := vals[4]
	if n > uint64(cfg.MaxChunkItems) {
		return fmt.Errorf("%w: %d items, limit %d", ErrChunkTooLarge, n, cfg.MaxChunkItems)
	}
	if n > uint64(len(b))/2 {
		return fmt.Errorf("%w: %d items in %d bytes", ErrInvalidChunk, n, len(b))
	}
	c.Items = make([]Item, n)
	for i := range c.Items {
		key, rest, err := field(b, cfg.MaxItemBytes, i, "key")
		if err != nil {
			return err
		}
		val, rest, err := field(rest, cfg.MaxItemBytes-len(key), i, "value")
		if err != nil {
			return err
		}
		b = rest
		c.Items[i] = Item{Key: string(key), Value: append([]byte(nil), val...)}
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrInvalidChunk, len(b))
	}
	return nil
}

// field reads a uvarint-prefixed field of at most limit bytes: the given
// part of item number item (or of the header if item < 0).
func field(b []byte, limit, item int, what string) ([]byte, []byte, error) {
	if item >= 0 {
		what = fmt.Sprintf("item %d %s", item, what)
	}
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, nil, fmt.Errorf("%w: %s length truncated", ErrInvalidChunk, what)
	}
	if n > uint64(limit) {
		return nil, nil, fmt.Errorf("%w: %s of %d bytes, limit %d", ErrChunkTooLarge, what, n, limit)
	}
	b = b[k:]
	if uint64(len(b)) < n {
		return nil, nil, fmt.Errorf("%w: %s truncated", ErrInvalidChunk, what)
	}
	return b[:n], b[n:], nil
}

// uvarintLen is the encoded size of v as a uvarint.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
