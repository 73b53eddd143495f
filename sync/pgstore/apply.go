package pgstore

import (
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/murmur-p2p/murmur/sync/internal/record"
	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// Apply implements replica.Store: every part of b, the Merkle leaves it
// changes included, goes to the server as one pipelined batch, which it
// runs as one transaction. When Apply returns nil the transaction has
// committed; on error nothing of it is visible, in the tables or in the
// tree. Within b, deletions go first and the last write of a key or of an
// (origin, seq) wins.
func (s *Store) Apply(b *replica.Batch) error {
	if b.Empty() {
		return nil
	}
	if err := b.Check(); err != nil {
		return fmt.Errorf("pgstore apply: %w", err)
	}
	s.treeMu.Lock()
	defer s.treeMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("pgstore %s: %w", s.opts.Schema, replica.ErrClosed)
	}
	j := merkle.NewJournal(s.tree)
	pb, err := s.build(b, j)
	if err != nil {
		j.Undo()
		return fmt.Errorf("pgstore apply in %s: %w", s.opts.Schema, err)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.pool.SendBatch(ctx, pb).Close(); err != nil {
		j.Undo()
		return fmt.Errorf("pgstore apply in %s: %w", s.opts.Schema, err)
	}
	s.batches++
	s.vv.Merge(b.VersionVector)
	if s.clock.Less(b.Clock) {
		s.clock = b.Clock
	}
	return nil
}

// build queues the statements of b and applies its key changes to the
// tree, recording them in j.
func (s *Store) build(b *replica.Batch, j *merkle.Journal) (*pgx.Batch, error) {
	pb := &pgx.Batch{}
	if len(b.DeleteEvents) > 0 {
		ids := make([][]byte, len(b.DeleteEvents))
		for i := range b.DeleteEvents {
			ids[i] = b.DeleteEvents[i][:]
		}
		pb.Queue(s.q.delEventSeqs, ids)
		pb.Queue(s.q.delEvents, ids)
	}
	if len(b.Events) > 0 {
		s.queueEvents(pb, b.Events)
	}
	if err := s.queueKeys(pb, b, j); err != nil {
		return nil, err
	}
	if len(b.VersionVector) > 0 {
		var origins [][]byte
		var seqs []pgtype.Numeric
		for o, seq := range b.VersionVector {
			if seq > s.vv[o] {
				origins = append(origins, []byte(o))
				seqs = append(seqs, numeric(seq))
			}
		}
		if len(origins) > 0 {
			pb.Queue(s.q.putVV, origins, seqs)
		}
	}
	clock := s.clock
	if clock.Less(b.Clock) {
		clock = b.Clock
	}
	pb.Queue(s.q.putStore, clock.Wall, int64(clock.Logical))
	if len(b.Meta) > 0 {
		var dels, names, values [][]byte
		for name, v := range b.Meta {
			if v == nil {
				dels = append(dels, []byte(name))
			} else {
				names, values = append(names, []byte(name)), append(values, v)
			}
		}
		if len(dels) > 0 {
			pb.Queue(s.q.delMeta, dels)
		}
		if len(names) > 0 {
			pb.Queue(s.q.putMeta, names, values)
		}
	}
	return pb, nil
}

// queueEvents inserts events (one row per ID) and points each (origin,
// seq) at the last event of the batch that has it.
func (s *Store) queueEvents(pb *pgx.Batch, events []*replica.Event) {
	n := len(events)
	var (
		ids, origins, keys, values, ctxs, sigs = make([][]byte, 0, n), make([][]byte, 0, n), make([][]byte, 0, n), make([][]byte, 0, n), make([][]byte, 0, n), make([][]byte, 0, n)
		seqs                                   = make([]pgtype.Numeric, 0, n)
		walls, logicals                        = make([]int64, 0, n), make([]int64, 0, n)
		opsCol                                 = make([]int16, 0, n)
	)
	seen := make(map[replica.EventID]bool, n)
	dots := make(map[replica.Dot]int, n) // dot -> index into the dot columns
	var dotOrigins, dotIDs [][]byte
	var dotSeqs []pgtype.Numeric
	for _, e := range events {
		id := e.ID()
		if i, ok := dots[e.Dot()]; ok {
			dotIDs[i] = id[:]
		} else {
			dots[e.Dot()] = len(dotIDs)
			dotOrigins, dotSeqs, dotIDs = append(dotOrigins, []byte(e.Origin)), append(dotSeqs, numeric(e.Seq)), append(dotIDs, id[:])
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		value := e.Value
		if value == nil {
			value = []byte{}
		}
		ids, origins, seqs = append(ids, id[:]), append(origins, []byte(e.Origin)), append(seqs, numeric(e.Seq))
		walls, logicals, opsCol = append(walls, e.Time.Wall), append(logicals, int64(e.Time.Logical)), append(opsCol, int16(e.Op))
		keys, values = append(keys, []byte(e.Key)), append(values, value)
		ctxs, sigs = append(ctxs, record.AppendVV(nil, e.Context)), append(sigs, nonNil(e.Signature))
	}
	pb.Queue(s.q.putEvents, ids, origins, seqs, walls, logicals, opsCol, keys, values, ctxs, sigs)
	pb.Queue(s.q.putEventSeqs, dotOrigins, dotSeqs, dotIDs)
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// queueKeys deletes and writes the keys of b, updates the tree and writes
// the leaves it changed.
func (s *Store) queueKeys(pb *pgx.Batch, b *replica.Batch, j *merkle.Journal) error {
	if len(b.Keys) == 0 && len(b.DeleteKeys) == 0 {
		return nil
	}
	// The final state of every key b touches: nil for deleted.
	final := make(map[string]*replica.KeyState, len(b.Keys)+len(b.DeleteKeys))
	var order []string
	for _, k := range b.DeleteKeys {
		if _, ok := final[k]; !ok {
			order = append(order, k)
		}
		final[k] = nil
	}
	for _, ks := range b.Keys {
		if _, ok := final[ks.Key]; !ok {
			order = append(order, ks.Key)
		}
		final[ks.Key] = ks
	}
	cur, err := s.storedDigests(order)
	if err != nil {
		return err
	}
	var dels [][]byte
	var (
		keys, hashes, digests, states, values [][]byte
		deleted                               []bool
		siblings                              []int32
		walls                                 []int64
	)
	for _, k := range order {
		h := merkle.HashKey(k)
		old := cur[h]
		ks := final[k]
		var nd *merkle.Digest
		if ks == nil {
			if old == nil {
				continue
			}
			dels = append(dels, []byte(k))
		} else {
			d := merkle.Digest(ks.Digest())
			nd = &d
			var value []byte
			var wall int64
			if w, ok := ks.Winner(); ok {
				wall = w.Time.Wall
				if !ks.Deleted() {
					value = nonNil(w.Value)
				}
			}
			keys, hashes, digests = append(keys, []byte(k)), append(hashes, h[:]), append(digests, d[:])
			states, values = append(states, encodeKeyState(ks)), append(values, value)
			deleted, siblings, walls = append(deleted, ks.Deleted()), append(siblings, int32(len(ks.Versions))), append(walls, wall)
		}
		j.Update(h, old, nd)
	}
	if len(dels) > 0 {
		pb.Queue(s.q.delKeys, dels)
	}
	if len(keys) > 0 {
		pb.Queue(s.q.putKeys, keys, hashes, digests, states, values, deleted, siblings, walls)
	}
	if leaves := j.Leaves(); len(leaves) > 0 {
		idx := make([]int32, 0, len(leaves))
		nodes := make([][]byte, 0, len(leaves))
		for _, i := range leaves {
			idx = append(idx, int32(i))
			nodes = append(nodes, s.tree.Leaf(i).AppendBinary(nil))
		}
		pb.Queue(s.q.putLeaves, idx, nodes)
	}
	return nil
}

// storedDigests returns the stored digest of each key (nil for keys not
// stored), in one query; keys whose Merkle leaf is empty are not asked for.
func (s *Store) storedDigests(keys []string) (map[merkle.KeyHash]*merkle.Digest, error) {
	out := make(map[merkle.KeyHash]*merkle.Digest, len(keys))
	var want [][]byte
	for _, k := range keys {
		h := merkle.HashKey(k)
		out[h] = nil
		if s.tree.Leaf(s.tree.LeafIndex(h)).Count > 0 {
			want = append(want, h[:])
		}
	}
	if len(want) == 0 {
		return out, nil
	}
	err := s.query(s.q.digests, []any{want}, func(rows pgx.Rows) error {
		var kh, d []byte
		if err := rows.Scan(&kh, &d); err != nil {
			return err
		}
		var h merkle.KeyHash
		var dg merkle.Digest
		if len(kh) != len(h) || len(d) != len(dg) {
			return fmt.Errorf("%w: keys row with a %d-byte key_hash and %d-byte digest", ErrCorrupt, len(kh), len(d))
		}
		copy(h[:], kh)
		copy(dg[:], d)
		out[h] = &dg
		return nil
	})
	return out, err
}
