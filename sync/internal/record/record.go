// Package record is the binary encoding murmur's stores share for what does
// not fit a column or key of its own: key states (versions and causal
// context), version vectors and timestamps. The Pebble store keeps whole
// records in it and the PostgreSQL store its bytea columns, so a state reads
// back the same from either; docs/postgres.md and sync/pebblestore document
// the layout:
//
//	vv      = uvarint(n) n × (uvarint(len) origin, uvarint(seq)), sorted by origin
//	state   = uvarint(n) n × version, vv (the key's causal context)
//	version = uvarint(len) origin, uvarint(seq), int64 wall (8, big-endian),
//	          uint32 logical (4, big-endian), op (1), uvarint(len) value,
//	          event ID (32)
//
// Decoding never trusts a length: every count is checked against the bytes
// left before anything is allocated for it.
package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// ErrShort reports a value that ends before its encoding does.
var ErrShort = errors.New("truncated")

// AppendBytes appends v with a uvarint length.
func AppendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// AppendTime appends t as 8 bytes of wall time and 4 of logical counter,
// big-endian.
func AppendTime(b []byte, t replica.Timestamp) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(t.Wall))
	return binary.BigEndian.AppendUint32(b, t.Logical)
}

// AppendVV appends a version vector sorted by origin, so equal vectors
// encode equally.
func AppendVV(b []byte, v replica.VersionVector) []byte {
	origins := v.Origins()
	b = binary.AppendUvarint(b, uint64(len(origins)))
	for _, o := range origins {
		b = AppendBytes(b, []byte(o))
		b = binary.AppendUvarint(b, v[o])
	}
	return b
}

// AppendKeyState appends a key's state: its versions and causal context
// (the key itself is stored beside it, not in it).
func AppendKeyState(b []byte, ks *replica.KeyState) []byte {
	n := 1 + 1 + len(ks.Context)*(1+binary.MaxVarintLen64)
	for _, v := range ks.Versions {
		n += 2*binary.MaxVarintLen64 + len(v.Origin) + 12 + 1 + binary.MaxVarintLen64 + len(v.Value) + len(v.Event)
	}
	for o := range ks.Context {
		n += len(o)
	}
	b = slices.Grow(b, n)
	b = binary.AppendUvarint(b, uint64(len(ks.Versions)))
	for _, v := range ks.Versions {
		b = AppendBytes(b, []byte(v.Origin))
		b = binary.AppendUvarint(b, v.Seq)
		b = AppendTime(b, v.Time)
		b = append(b, byte(v.Op))
		b = AppendBytes(b, v.Value)
		b = append(b, v.Event[:]...)
	}
	return AppendVV(b, ks.Context)
}

// DecodeKeyState decodes what AppendKeyState wrote for key.
func DecodeKeyState(key string, p []byte) (*replica.KeyState, error) {
	r := &Reader{B: p}
	n := r.Uvarint()
	if n > uint64(len(p)) {
		return nil, fmt.Errorf("%d versions claimed in %d bytes", n, len(p))
	}
	ks := &replica.KeyState{Key: key, Versions: make([]replica.Version, n)}
	for i := range ks.Versions {
		v := &ks.Versions[i]
		v.Origin = replica.PeerID(r.Bytes())
		v.Seq = r.Uvarint()
		v.Time = r.Time()
		if op := r.Fixed(1); op != nil {
			v.Op = replica.Op(op[0])
		}
		v.Value = r.Bytes()
		copy(v.Event[:], r.Fixed(32))
	}
	ks.Context = r.VV()
	if err := r.Done(); err != nil {
		return nil, err
	}
	return ks, nil
}

// Reader decodes a value field by field, remembering the first error: a
// caller reads every field, then checks Done once.
type Reader struct {
	// B is what is left to read.
	B   []byte
	err error
}

// Uvarint reads a uvarint.
func (r *Reader) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.B)
	if n <= 0 {
		r.err = ErrShort
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Fixed reads n bytes, aliasing the input; nil after an error.
func (r *Reader) Fixed(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.B) < n {
		r.err = ErrShort
		return nil
	}
	v := r.B[:n]
	r.B = r.B[n:]
	return v
}

// Bytes reads a length-prefixed byte string into a copy of its own.
func (r *Reader) Bytes() []byte {
	n := r.Uvarint()
	if n > uint64(len(r.B)) {
		r.err = ErrShort
		return nil
	}
	return slices.Clone(r.Fixed(int(n)))
}

// U64 reads 8 bytes big-endian.
func (r *Reader) U64() uint64 {
	if b := r.Fixed(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// U32 reads 4 bytes big-endian.
func (r *Reader) U32() uint32 {
	if b := r.Fixed(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

// Time reads what AppendTime wrote.
func (r *Reader) Time() replica.Timestamp {
	return replica.Timestamp{Wall: int64(r.U64()), Logical: r.U32()}
}

// VV reads what AppendVV wrote.
func (r *Reader) VV() replica.VersionVector {
	n := r.Uvarint()
	if n > uint64(len(r.B)) {
		r.err = ErrShort
		return nil
	}
	v := make(replica.VersionVector, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		o := replica.PeerID(r.Bytes())
		v[o] = r.Uvarint()
	}
	return v
}

// Done returns the first error, or an error for bytes left unread.
func (r *Reader) Done() error {
	if r.err == nil && len(r.B) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.B))
	}
	return r.err
}
