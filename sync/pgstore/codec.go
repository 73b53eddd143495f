package pgstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// The bytea columns events.context and keys.state hold the two values that
// do not fit a column of their own, in this encoding (docs/postgres.md):
//
//	vv    = uvarint(n) n × (uvarint(len) origin, uvarint(seq)), sorted by origin
//	state = uvarint(n) n × version, vv (the key's causal context)
//	version = uvarint(len) origin, uvarint(seq), int64 wall (8, big-endian),
//	          uint32 logical (4, big-endian), op (1), uvarint(len) value,
//	          event ID (32)

var errShort = errors.New("truncated")

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendVV(b []byte, v replica.VersionVector) []byte {
	origins := v.Origins()
	b = binary.AppendUvarint(b, uint64(len(origins)))
	for _, o := range origins {
		b = appendBytes(b, []byte(o))
		b = binary.AppendUvarint(b, v[o])
	}
	return b
}

func encodeKeyState(ks *replica.KeyState) []byte {
	b := binary.AppendUvarint(nil, uint64(len(ks.Versions)))
	for _, v := range ks.Versions {
		b = appendBytes(b, []byte(v.Origin))
		b = binary.AppendUvarint(b, v.Seq)
		b = binary.BigEndian.AppendUint64(b, uint64(v.Time.Wall))
		b = binary.BigEndian.AppendUint32(b, v.Time.Logical)
		b = append(b, byte(v.Op))
		b = appendBytes(b, v.Value)
		b = append(b, v.Event[:]...)
	}
	return appendVV(b, ks.Context)
}

// reader decodes a value, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) fixed(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.err = errShort
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errShort
		return nil
	}
	return slices.Clone(r.fixed(int(n)))
}

func (r *reader) vv() replica.VersionVector {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errShort
		return nil
	}
	v := make(replica.VersionVector, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		o := replica.PeerID(r.bytes())
		v[o] = r.uvarint()
	}
	return v
}

// done fails with ErrCorrupt naming what if the value was not read
// completely and well.
func (r *reader) done(what string) error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("%w: decode %s: %w", ErrCorrupt, what, r.err)
	}
	return nil
}

func decodeKeyState(key string, p []byte) (*replica.KeyState, error) {
	r := &reader{b: p}
	n := r.uvarint()
	if n > uint64(len(p)) {
		return nil, fmt.Errorf("%w: key %q claims %d versions in %d bytes", ErrCorrupt, key, n, len(p))
	}
	ks := &replica.KeyState{Key: key, Versions: make([]replica.Version, n)}
	for i := range ks.Versions {
		v := &ks.Versions[i]
		v.Origin = replica.PeerID(r.bytes())
		v.Seq = r.uvarint()
		if t := r.fixed(12); t != nil {
			v.Time = replica.Timestamp{Wall: int64(binary.BigEndian.Uint64(t)), Logical: binary.BigEndian.Uint32(t[8:])}
		}
		if op := r.fixed(1); op != nil {
			v.Op = replica.Op(op[0])
		}
		v.Value = r.bytes()
		copy(v.Event[:], r.fixed(32))
	}
	ks.Context = r.vv()
	if err := r.done(fmt.Sprintf("state of key %q", key)); err != nil {
		return nil, err
	}
	return ks, nil
}

// numeric converts a sequence number for a numeric(20,0) column.
func numeric(v uint64) pgtype.Numeric {
	return pgtype.Numeric{Int: new(big.Int).SetUint64(v), Valid: true}
}

// seqOf converts a numeric(20,0) column back.
func seqOf(n pgtype.Numeric, what string) (uint64, error) {
	if !n.Valid || n.NaN || n.InfinityModifier != pgtype.Finite || n.Int == nil {
		return 0, fmt.Errorf("%w: %s: sequence number is not a number", ErrCorrupt, what)
	}
	v := new(big.Int).Set(n.Int)
	if n.Exp > 0 {
		v.Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n.Exp)), nil))
	} else if n.Exp < 0 {
		d := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-n.Exp)), nil)
		var m big.Int
		v.QuoRem(v, d, &m)
		if m.Sign() != 0 {
			return 0, fmt.Errorf("%w: %s: sequence number %s is not whole", ErrCorrupt, what, n.Int.String()+"e"+strconv.Itoa(int(n.Exp)))
		}
	}
	if v.Sign() < 0 || !v.IsUint64() {
		return 0, fmt.Errorf("%w: %s: sequence number %s out of range", ErrCorrupt, what, v)
	}
	return v.Uint64(), nil
}
