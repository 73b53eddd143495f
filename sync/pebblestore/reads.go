package pebblestore

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// errStop ends a scan early without an error.
var errStop = errors.New("stop")

// Event implements replica.Store.
func (s *Store) Event(id replica.EventID) (*replica.Event, error) {
	done, err := s.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	return s.event(id)
}

func (s *Store) event(id replica.EventID) (*replica.Event, error) {
	p, err := s.getRecord(eventKey(id))
	if err != nil {
		return nil, err
	}
	e, err := decodeEvent(id, p)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, s.dir)
	}
	return e, nil
}

// HasEvent implements replica.Store.
func (s *Store) HasEvent(id replica.EventID) (bool, error) {
	done, err := s.begin()
	if err != nil {
		return false, err
	}
	defer done()
	_, closer, err := s.db.Get(eventKey(id))
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, s.wrapErr("read "+describeKey(eventKey(id)), err)
	}
	return true, closer.Close()
}

// EventAt implements replica.Store.
func (s *Store) EventAt(origin replica.PeerID, seq uint64) (*replica.Event, error) {
	done, err := s.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	p, err := s.getRecord(dotKey(origin, seq))
	if err != nil {
		return nil, err
	}
	id, err := eventIDOf(dotKey(origin, seq), p)
	if err != nil {
		return nil, err
	}
	return s.event(id)
}

func eventIDOf(k, p []byte) (replica.EventID, error) {
	var id replica.EventID
	if len(p) != len(id) {
		return id, fmt.Errorf("%w: %s: %d-byte event ID", ErrCorrupt, describeKey(k), len(p))
	}
	copy(id[:], p)
	return id, nil
}

// ScanEvents implements replica.Store.
func (s *Store) ScanEvents(origin replica.PeerID, from, to uint64, fn func(*replica.Event) bool) error {
	done, err := s.begin()
	if err != nil {
		return err
	}
	defer done()
	hi := append(dotPrefix(origin), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	if to != 0 {
		if to < from {
			return nil
		}
		if to < ^uint64(0) {
			hi = dotKey(origin, to+1)
		}
	}
	err = s.scan(dotKey(origin, from), hi, func(k, p []byte) error {
		id, err := eventIDOf(k, p)
		if err != nil {
			return err
		}
		e, err := s.event(id)
		if err != nil {
			return fmt.Errorf("%s points to a missing or bad event: %w", describeKey(k), err)
		}
		if !fn(e) {
			return errStop
		}
		return nil
	})
	return err
}

// KeyState implements replica.Store.
func (s *Store) KeyState(key string) (*replica.KeyState, error) {
	done, err := s.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	return s.keyState(key)
}

func (s *Store) keyState(key string) (*replica.KeyState, error) {
	p, err := s.getRecord(keyKey(key))
	if err != nil {
		return nil, err
	}
	ks, err := decodeKeyState(key, p)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, s.dir)
	}
	return ks, nil
}

// ScanKeys implements replica.Store.
func (s *Store) ScanKeys(prefix string, fn func(*replica.KeyState) bool) error {
	lo := keyKey(prefix)
	return s.scanKeyStates(lo, prefixEnd(lo), fn)
}

// ScanKeysFrom implements replica.KeyRangeScanner: it calls fn for every key
// >= from in ascending key order until fn returns false, seeking straight to
// from, so a snapshot chunk costs what it reads rather than a scan from the
// first key.
func (s *Store) ScanKeysFrom(from string, fn func(*replica.KeyState) bool) error {
	return s.scanKeyStates(keyKey(from), prefixEnd(keyKey("")), fn)
}

// scanKeyStates decodes the key states stored in [lo, hi) in order.
func (s *Store) scanKeyStates(lo, hi []byte, fn func(*replica.KeyState) bool) error {
	done, err := s.begin()
	if err != nil {
		return err
	}
	defer done()
	return s.scan(lo, hi, func(k, p []byte) error {
		ks, err := decodeKeyState(string(k[1:]), p)
		if err != nil {
			return fmt.Errorf("%w (in %s)", err, s.dir)
		}
		if !fn(ks) {
			return errStop
		}
		return nil
	})
}

// prefixEnd returns the smallest key after every key starting with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// ScanKeyHashes implements replica.Store.
func (s *Store) ScanKeyHashes(from replica.KeyHash, fn func(replica.KeyHash, *replica.KeyState) bool) error {
	done, err := s.begin()
	if err != nil {
		return err
	}
	defer done()
	err = s.scan(hashKey(merkle.KeyHash(from)), []byte{tabHash + 1}, func(k, p []byte) error {
		_, key, err := decodeHashRecord(k[1:], p)
		if err != nil {
			return err
		}
		ks, err := s.keyState(key)
		if err != nil {
			return fmt.Errorf("%s points to a missing or bad key: %w", describeKey(k), err)
		}
		var h replica.KeyHash
		copy(h[:], k[1:])
		if !fn(h, ks) {
			return errStop
		}
		return nil
	})
	return err
}

// VersionVector implements replica.Store.
func (s *Store) VersionVector() (replica.VersionVector, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, fmt.Errorf("pebblestore %s: %w", s.dir, replica.ErrClosed)
	}
	return s.vv.Clone(), nil
}

// Clock implements replica.Store.
func (s *Store) Clock() (replica.Timestamp, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return replica.Timestamp{}, fmt.Errorf("pebblestore %s: %w", s.dir, replica.ErrClosed)
	}
	return s.clock, nil
}

// Meta implements replica.Store.
func (s *Store) Meta(name string) ([]byte, error) {
	done, err := s.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	return s.getRecord(metaKey(name))
}
