package pebblestore

import (
	"errors"
	"fmt"

	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/riblt"
)

// Verify reads every record of the store and checks it: record checksums
// and encodings, Pebble's block checksums on the way, that every event
// index entry points to its event, that the key table and the key-hash
// index agree, and that the Merkle tree in memory and on disk equals one
// rebuilt from the state. It returns the first problem found, wrapping
// ErrCorrupt. It reads the whole store: run it on demand, not per open.
func (s *Store) Verify() error {
	s.treeMu.RLock() // no Apply while the tree is compared
	defer s.treeMu.RUnlock()
	done, err := s.begin()
	if err != nil {
		return err
	}
	defer done()

	if err := s.scan([]byte{tabEvent}, []byte{tabEvent + 1}, func(k, p []byte) error {
		var id replica.EventID
		if len(k) != 1+len(id) {
			return fmt.Errorf("%w: %s: bad key length", ErrCorrupt, describeKey(k))
		}
		copy(id[:], k[1:])
		_, err := decodeEvent(id, p)
		return err
	}); err != nil {
		return err
	}
	if err := s.scan([]byte{tabDot}, []byte{tabDot + 1}, func(k, p []byte) error {
		id, err := eventIDOf(k, p)
		if err != nil {
			return err
		}
		if _, err := s.getRecord(eventKey(id)); err != nil {
			return fmt.Errorf("%w: %s points to event %s: %w", ErrCorrupt, describeKey(k), id, err)
		}
		return nil
	}); err != nil {
		return err
	}
	keys := 0
	if err := s.scan([]byte{tabKey}, []byte{tabKey + 1}, func(k, p []byte) error {
		keys++
		ks, err := decodeKeyState(string(k[1:]), p)
		if err != nil {
			return err
		}
		hp, err := s.getRecord(hashKey(merkle.HashKey(ks.Key)))
		if err != nil {
			return fmt.Errorf("%w: %s has no key-hash index entry: %w", ErrCorrupt, describeKey(k), err)
		}
		d, key, err := decodeHashRecord(k, hp)
		if err != nil {
			return err
		}
		if key != ks.Key || d != Digest(ks) {
			return fmt.Errorf("%w: key-hash index entry of %s disagrees with the key's state", ErrCorrupt, describeKey(k))
		}
		return nil
	}); err != nil {
		return err
	}
	rebuilt, err := merkle.Rebuild(s.tree.Depth(), hashSource{s})
	if err != nil {
		return err
	}
	if got := rebuilt.Root().Count; got != uint64(keys) {
		return fmt.Errorf("%w: key-hash index holds %d entries, key table %d", ErrCorrupt, got, keys)
	}
	for i := uint64(0); i < rebuilt.NumLeaves(); i++ {
		want := rebuilt.Leaf(i)
		if s.tree.Leaf(i) != want {
			return fmt.Errorf("%w: merkle leaf %d in memory differs from the state", ErrCorrupt, i)
		}
		p, err := s.getRecord(leafKey(i))
		var onDisk merkle.Node
		if err == nil {
			onDisk, err = merkle.DecodeNode(p)
		} else if errors.Is(err, replica.ErrNotFound) && want.Count == 0 {
			err = nil // never written
		}
		if err != nil {
			return fmt.Errorf("%w: merkle leaf %d: %w", ErrCorrupt, i, err)
		}
		if onDisk != want {
			return fmt.Errorf("%w: merkle leaf %d on disk differs from the state", ErrCorrupt, i)
		}
	}
	return s.verifySketch()
}

// verifySketch rebuilds the coded sketch from the key-hash index and
// compares it with the one in memory and the symbols on disk.
func (s *Store) verifySketch() error {
	sk := s.tree.Sketch()
	if sk == nil {
		return nil
	}
	fresh, err := riblt.NewSketch(sk.Len())
	if err != nil {
		return err
	}
	if err := (hashSource{s}).Scan(merkle.KeyHash{}, func(e merkle.Entry) bool {
		fresh.Add(merkle.ItemOf(e.KeyHash, e.Digest))
		return true
	}); err != nil {
		return err
	}
	for i := range fresh.Len() {
		want := fresh.Symbol(i)
		if sk.Symbol(i) != want {
			return fmt.Errorf("%w: sketch symbol %d in memory differs from the state", ErrCorrupt, i)
		}
		p, err := s.getRecord(symKey(i))
		var onDisk riblt.Symbol
		if err == nil {
			onDisk, err = riblt.DecodeSymbol(p)
		} else if errors.Is(err, replica.ErrNotFound) && want.IsZero() {
			err = nil // never written
		}
		if err != nil {
			return fmt.Errorf("%w: sketch symbol %d: %w", ErrCorrupt, i, err)
		}
		if onDisk != want {
			return fmt.Errorf("%w: sketch symbol %d on disk differs from the state", ErrCorrupt, i)
		}
	}
	return nil
}
