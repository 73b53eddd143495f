package pebblestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/murmur-p2p/murmur/sync/internal/record"
	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/riblt"
)

// Apply implements replica.Store: every part of b, the Merkle leaves it
// changes included, goes into one Pebble batch committed with pebble.Sync.
// When Apply returns nil the batch is on disk; on error nothing of it is
// visible, in the database or in the tree.
func (s *Store) Apply(b *replica.Batch) error {
	if b.Empty() {
		return nil
	}
	if err := b.Check(); err != nil {
		return fmt.Errorf("pebblestore apply: %w", err)
	}
	s.treeMu.Lock()
	defer s.treeMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("pebblestore %s: %w", s.dir, replica.ErrClosed)
	}
	// A full disk is refused here, before Pebble meets it.
	if err := s.health.writable(); err != nil {
		return fmt.Errorf("pebblestore apply: %w", err)
	}
	pb := s.db.NewBatch()
	defer pb.Close()
	j := merkle.NewJournal(s.tree)
	if err := s.build(pb, b, j); err != nil {
		j.Undo()
		return fmt.Errorf("pebblestore apply in %s: %w", s.dir, err)
	}
	set(pb, storeKey(storeApplied), binary.AppendUvarint(nil, s.applied+1))
	if err := pb.Commit(pebble.Sync); err != nil {
		j.Undo()
		return s.wrapErr("commit batch", err)
	}
	// Pebble reports a failed WAL write or sync through its logger's Fatalf
	// and then returns nil: the batch is not durable, so it is refused.
	if s.health.fatal.Load() != nil {
		j.Undo()
		return fmt.Errorf("pebblestore apply: commit batch: %w", s.health.writable())
	}
	s.applied++
	if err := s.wm.set(s.applied); err != nil {
		// The batch is durable; only the loss check is weakened.
		log.Warnf("pebblestore %s: write %s: %v", s.dir, watermarkFile, err)
	}
	s.vv.Merge(b.VersionVector)
	if s.clock.Less(b.Clock) {
		s.clock = b.Clock
	}
	return nil
}

// set adds a sealed record to pb.
func set(pb *pebble.Batch, key, payload []byte) {
	_ = pb.Set(key, seal(key, payload), nil) // errors only on a closed batch
}

// build fills pb with the writes of b and applies its key changes to the
// tree, recording them in j.
func (s *Store) build(pb *pebble.Batch, b *replica.Batch, j *merkle.Journal) error {
	for _, id := range b.DeleteEvents {
		e, err := s.event(id)
		if errors.Is(err, replica.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		_ = pb.Delete(eventKey(id), nil)
		_ = pb.Delete(dotKey(e.Origin, e.Seq), nil)
	}
	for _, e := range b.Events {
		id := e.ID()
		set(pb, eventKey(id), encodeEvent(e))
		set(pb, dotKey(e.Origin, e.Seq), id[:])
	}

	// Key changes: the digest each key has so far in this batch, starting
	// from the stored ones.
	cur, err := s.storedDigests(b)
	if err != nil {
		return err
	}
	digestOf := func(h merkle.KeyHash) (*merkle.Digest, error) { return cur[h], nil }
	change := func(key string, ks *replica.KeyState) error {
		h := merkle.HashKey(key)
		old, err := digestOf(h)
		if err != nil {
			return err
		}
		var nd *merkle.Digest
		if ks != nil {
			d := Digest(ks)
			nd = &d
			set(pb, keyKey(key), encodeKeyState(ks))
			set(pb, hashKey(h), hashRecord(d, key))
		} else {
			if old == nil {
				return nil
			}
			_ = pb.Delete(keyKey(key), nil)
			_ = pb.Delete(hashKey(h), nil)
		}
		j.Update(h, old, nd)
		cur[h] = nd
		return nil
	}
	for _, k := range b.DeleteKeys {
		if err := change(k, nil); err != nil {
			return err
		}
	}
	for _, ks := range b.Keys {
		if err := change(ks.Key, ks); err != nil {
			return err
		}
	}
	for _, i := range j.Leaves() {
		set(pb, leafKey(i), s.tree.Leaf(i).AppendBinary(nil))
	}
	for _, i := range j.Symbols() {
		set(pb, symKey(i), riblt.AppendBinary(nil, s.tree.Sketch().Symbol(i)))
	}

	for o, seq := range b.VersionVector {
		if seq > s.vv[o] {
			set(pb, vvKey(o), binary.AppendUvarint(nil, seq))
		}
	}
	if s.clock.Less(b.Clock) {
		set(pb, storeKey(storeClock), record.AppendTime(nil, b.Clock))
	}
	for name, v := range b.Meta {
		if v == nil {
			_ = pb.Delete(metaKey(name), nil)
		} else {
			set(pb, metaKey(name), v)
		}
	}
	return nil
}

// storedDigests returns the stored digest of every key b deletes or writes
// (nil for keys not stored). It looks them up in KeyHash order with one
// iterator, which for large batches (snapshot chunks) costs a fraction of
// one point lookup per key; keys whose Merkle leaf is empty are not looked
// up at all.
func (s *Store) storedDigests(b *replica.Batch) (map[merkle.KeyHash]*merkle.Digest, error) {
	out := make(map[merkle.KeyHash]*merkle.Digest, len(b.Keys)+len(b.DeleteKeys))
	var want []merkle.KeyHash
	add := func(key string) {
		h := merkle.HashKey(key)
		if _, ok := out[h]; ok {
			return
		}
		out[h] = nil
		if s.tree.Leaf(s.tree.LeafIndex(h)).Count > 0 {
			want = append(want, h)
		}
	}
	for _, k := range b.DeleteKeys {
		add(k)
	}
	for _, ks := range b.Keys {
		add(ks.Key)
	}
	if len(want) == 0 {
		return out, nil
	}
	slices.SortFunc(want, func(x, y merkle.KeyHash) int { return bytes.Compare(x[:], y[:]) })
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: hashKey(want[0]), UpperBound: []byte{tabHash + 1}})
	if err != nil {
		return nil, s.wrapErr("iterate", err)
	}
	defer it.Close()
	for _, h := range want {
		k := hashKey(h)
		if !it.SeekGE(k) || !bytes.Equal(it.Key(), k) {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, s.wrapErr("read "+describeKey(k), err)
		}
		p, err := unseal(k, v)
		if err != nil {
			return nil, fmt.Errorf("%w (in %s)", err, s.dir)
		}
		d, _, err := decodeHashRecord(h[:], p)
		if err != nil {
			return nil, err
		}
		out[h] = &d
	}
	return out, s.wrapErr("iterate", it.Error())
}
