package pgstore

import (
	"fmt"
	"math/big"
	"strconv"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/murmur-p2p/murmur/sync/internal/record"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// The bytea columns events.context and keys.state hold the two values that
// do not fit a column of their own, in the encoding the Pebble store uses
// too (sync/internal/record; docs/postgres.md):
//
//	vv    = uvarint(n) n × (uvarint(len) origin, uvarint(seq)), sorted by origin
//	state = uvarint(n) n × version, vv (the key's causal context)
//	version = uvarint(len) origin, uvarint(seq), int64 wall (8, big-endian),
//	          uint32 logical (4, big-endian), op (1), uvarint(len) value,
//	          event ID (32)

// done fails with ErrCorrupt naming what if the value was not read
// completely and well.
func done(r *record.Reader, what string) error {
	if err := r.Done(); err != nil {
		return fmt.Errorf("%w: decode %s: %w", ErrCorrupt, what, err)
	}
	return nil
}

func encodeKeyState(ks *replica.KeyState) []byte { return record.AppendKeyState(nil, ks) }

func decodeKeyState(key string, p []byte) (*replica.KeyState, error) {
	ks, err := record.DecodeKeyState(key, p)
	if err != nil {
		return nil, fmt.Errorf("%w: decode state of key %q: %w", ErrCorrupt, key, err)
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
