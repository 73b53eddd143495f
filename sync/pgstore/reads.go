package pgstore

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/murmur-p2p/murmur/sync/internal/record"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// scanEvent reads one row of eventCols and checks that the event's content
// hash is its stored ID.
func scanEvent(row pgx.Row) (*replica.Event, error) {
	var (
		id, origin, key, value, ctx, sig []byte
		seq                              pgtype.Numeric
		wall, logical                    int64
		op                               int16
	)
	if err := row.Scan(&id, &origin, &seq, &wall, &logical, &op, &key, &value, &ctx, &sig); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("events row %x", id)
	s, err := seqOf(seq, what)
	if err != nil {
		return nil, err
	}
	if logical < 0 || logical > 1<<32-1 || op < 0 || op > 255 {
		return nil, fmt.Errorf("%w: %s: logical time %d or op %d out of range", ErrCorrupt, what, logical, op)
	}
	r := &record.Reader{B: ctx}
	e := &replica.Event{Origin: replica.PeerID(origin), Seq: s, Time: replica.Timestamp{Wall: wall, Logical: uint32(logical)},
		Op: replica.Op(op), Key: string(key), Value: value, Context: r.VV(), Signature: sig}
	if err := done(r, what+" context"); err != nil {
		return nil, err
	}
	if got := e.ID(); string(got[:]) != string(id) {
		return nil, fmt.Errorf("%w: %s has content hash %s", ErrCorrupt, what, got)
	}
	return e, nil
}

// one runs a single-row query; no row gives an error wrapping
// replica.ErrNotFound that names what.
func (s *Store) one(what string, scan func(pgx.Row) error, sql string, args ...any) error {
	done, err := s.begin()
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := s.ctx()
	defer cancel()
	err = scan(s.pool.QueryRow(ctx, sql, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, replica.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("pgstore %s: read %s: %w", s.opts.Schema, what, err)
	}
	return nil
}

// Event implements replica.Store.
func (s *Store) Event(id replica.EventID) (*replica.Event, error) {
	var e *replica.Event
	err := s.one("event "+id.String(), func(r pgx.Row) (err error) { e, err = scanEvent(r); return err }, s.q.event, id[:])
	return e, err
}

// HasEvent implements replica.Store.
func (s *Store) HasEvent(id replica.EventID) (bool, error) {
	var ok bool
	err := s.one("event "+id.String(), func(r pgx.Row) error { return r.Scan(&ok) }, s.q.hasEvent, id[:])
	return ok, err
}

// EventAt implements replica.Store.
func (s *Store) EventAt(origin replica.PeerID, seq uint64) (*replica.Event, error) {
	var e *replica.Event
	err := s.one(fmt.Sprintf("event %s/%d", origin, seq), func(r pgx.Row) (err error) { e, err = scanEvent(r); return err },
		s.q.eventAt, []byte(origin), numeric(seq))
	return e, err
}

// ScanEvents implements replica.Store. It reads a page of events per query
// and holds no connection while fn runs.
func (s *Store) ScanEvents(origin replica.PeerID, from, to uint64, fn func(*replica.Event) bool) error {
	done, err := s.begin()
	if err != nil {
		return err
	}
	defer done()
	if to == 0 {
		to = ^uint64(0)
	}
	pg := newPager(pageSize)
	for from <= to {
		var page []*replica.Event
		limit := pg.next()
		err := s.query(s.q.scanEvents, []any{[]byte(origin), numeric(from), numeric(to), limit}, func(rows pgx.Rows) error {
			e, err := scanEvent(rows)
			page = append(page, e)
			return err
		})
		if err != nil {
			return err
		}
		for _, e := range page {
			if !fn(e) {
				return nil
			}
		}
		if len(page) < limit || page[len(page)-1].Seq == ^uint64(0) {
			return nil
		}
		from = page[len(page)-1].Seq + 1
	}
	return nil
}

// KeyState implements replica.Store.
func (s *Store) KeyState(key string) (*replica.KeyState, error) {
	var ks *replica.KeyState
	err := s.one(fmt.Sprintf("key %q", key), func(r pgx.Row) (err error) { ks, err = scanKeyState(r); return err },
		s.q.keyState, []byte(key))
	return ks, err
}

func scanKeyState(row pgx.Row) (*replica.KeyState, error) {
	var key, state []byte
	if err := row.Scan(&key, &state); err != nil {
		return nil, err
	}
	return decodeKeyState(string(key), state)
}

// ScanKeys implements replica.Store.
func (s *Store) ScanKeys(prefix string, fn func(*replica.KeyState) bool) error {
	end, bounded := prefixEnd(prefix)
	return s.scanKeys(prefix, end, bounded, fn)
}

// ScanKeysFrom implements replica.KeyRangeScanner.
func (s *Store) ScanKeysFrom(from string, fn func(*replica.KeyState) bool) error {
	return s.scanKeys(from, "", false, fn)
}

// scanKeys calls fn for the keys in [from, end) (no upper bound unless
// bounded) in key order, a page at a time.
func (s *Store) scanKeys(from, end string, bounded bool, fn func(*replica.KeyState) bool) error {
	done, err := s.begin()
	if err != nil {
		return err
	}
	defer done()
	pg := newPager(pageSize)
	for {
		limit := pg.next()
		sql, args := s.q.scanKeys, []any{[]byte(from), limit}
		if bounded {
			sql, args = s.q.scanKeysTo, []any{[]byte(from), []byte(end), limit}
		}
		page, err := s.keyPage(sql, args)
		if err != nil {
			return err
		}
		for _, ks := range page {
			if !fn(ks) {
				return nil
			}
		}
		if len(page) < limit {
			return nil
		}
		from = page[len(page)-1].Key + "\x00" // the smallest key after it
	}
}

func (s *Store) keyPage(sql string, args []any) ([]*replica.KeyState, error) {
	var page []*replica.KeyState
	err := s.query(sql, args, func(rows pgx.Rows) error {
		ks, err := scanKeyState(rows)
		page = append(page, ks)
		return err
	})
	return page, err
}

// prefixEnd returns the smallest key after every key starting with p, and
// false if there is none (p is empty or all 0xff).
func prefixEnd(p string) (string, bool) {
	end := []byte(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return string(end[:i+1]), true
		}
	}
	return "", false
}

// ScanKeyHashes implements replica.Store.
func (s *Store) ScanKeyHashes(from replica.KeyHash, fn func(replica.KeyHash, *replica.KeyState) bool) error {
	done, err := s.begin()
	if err != nil {
		return err
	}
	defer done()
	cur, pg := [32]byte(from), newPager(pageSize)
	for {
		limit := pg.next()
		page, err := s.keyPage(s.q.scanKeyHashes, []any{cur[:], limit})
		if err != nil {
			return err
		}
		for _, ks := range page {
			if !fn(replica.HashKey(ks.Key), ks) {
				return nil
			}
		}
		if len(page) < limit {
			return nil
		}
		var ok bool
		if cur, ok = nextHash(replica.HashKey(page[len(page)-1].Key)); !ok {
			return nil
		}
	}
}

// VersionVector implements replica.Store.
func (s *Store) VersionVector() (replica.VersionVector, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, fmt.Errorf("pgstore %s: %w", s.opts.Schema, replica.ErrClosed)
	}
	return s.vv.Clone(), nil
}

// Clock implements replica.Store.
func (s *Store) Clock() (replica.Timestamp, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return replica.Timestamp{}, fmt.Errorf("pgstore %s: %w", s.opts.Schema, replica.ErrClosed)
	}
	return s.clock, nil
}

// Meta implements replica.Store.
func (s *Store) Meta(name string) ([]byte, error) {
	var v []byte
	err := s.one(fmt.Sprintf("meta %q", name), func(r pgx.Row) error { return r.Scan(&v) }, s.q.meta, []byte(name))
	if v == nil && err == nil {
		v = []byte{}
	}
	return v, err
}
