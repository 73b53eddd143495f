// Package pebblelog keeps an ordering node's Raft state on disk with
// Pebble: the hard state, the last snapshot and the log entries after it,
// so that a restarted node keeps the global order and its vote. It
// implements exactly what order.Persisted.Save does in memory.
package pebblelog

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	logging "github.com/ipfs/go-log/v2"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/murmur-p2p/murmur/sync/order"
)

var log = logging.Logger("murmur/pebblelog")

// Keys: one for the hard state, one for the snapshot, and the entries by
// "e" + 8-byte big-endian index, so that they sort by index.
var (
	keyHardState = []byte("hs")
	keySnapshot  = []byte("snap")
	entryPrefix  = byte('e')
)

func entryKey(i uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{entryPrefix}, i)
}

// Log is the on-disk Raft state of one node.
type Log struct {
	dir string
	db  *pebble.DB
}

// Open opens (creating if needed) the log in dir.
func Open(dir string) (*Log, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: log, FormatMajorVersion: pebble.FormatNewest})
	if err != nil {
		return nil, fmt.Errorf("pebblelog: open %s: %w", dir, err)
	}
	return &Log{dir: dir, db: db}, nil
}

// Load reads the persisted state (zero for a new log).
func (l *Log) Load() (order.Persisted, error) {
	var p order.Persisted
	if err := l.get(keyHardState, p.HardState.Unmarshal); err != nil {
		return p, err
	}
	if err := l.get(keySnapshot, p.Snapshot.Unmarshal); err != nil {
		return p, err
	}
	it, err := l.db.NewIter(&pebble.IterOptions{LowerBound: entryKey(0), UpperBound: []byte{entryPrefix + 1}})
	if err != nil {
		return p, fmt.Errorf("pebblelog: %s: read entries: %w", l.dir, err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		var e raftpb.Entry
		if err := e.Unmarshal(it.Value()); err != nil {
			return p, fmt.Errorf("pebblelog: %s: entry %x: %w", l.dir, it.Key(), err)
		}
		if n := len(p.Entries); n > 0 && e.Index != p.Entries[n-1].Index+1 {
			return p, fmt.Errorf("pebblelog: %s: entry %d follows entry %d", l.dir, e.Index, p.Entries[n-1].Index)
		}
		p.Entries = append(p.Entries, e)
	}
	if err := it.Error(); err != nil {
		return p, fmt.Errorf("pebblelog: %s: read entries: %w", l.dir, err)
	}
	return p, nil
}

func (l *Log) get(key []byte, into func([]byte) error) error {
	v, closer, err := l.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pebblelog: %s: read %s: %w", l.dir, key, err)
	}
	defer closer.Close()
	if err := into(v); err != nil {
		return fmt.Errorf("pebblelog: %s: decode %s: %w", l.dir, key, err)
	}
	return nil
}

// Save makes the durable part of rd durable in one synced batch, with the
// semantics of order.Persisted.Save.
func (l *Log) Save(rd order.Ready) error {
	b := l.db.NewBatch()
	defer b.Close()
	put := func(key []byte, m interface{ Marshal() ([]byte, error) }) error {
		v, err := m.Marshal()
		if err != nil {
			return fmt.Errorf("pebblelog: encode %s: %w", key, err)
		}
		return b.Set(key, v, nil)
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := put(keySnapshot, &rd.Snapshot); err != nil {
			return err
		}
		if err := b.DeleteRange(entryKey(0), []byte{entryPrefix + 1}, nil); err != nil {
			return err
		}
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		if err := put(keyHardState, &rd.HardState); err != nil {
			return err
		}
	}
	if len(rd.Entries) > 0 {
		if err := b.DeleteRange(entryKey(rd.Entries[0].Index), []byte{entryPrefix + 1}, nil); err != nil {
			return err
		}
		for i := range rd.Entries {
			if err := put(entryKey(rd.Entries[i].Index), &rd.Entries[i]); err != nil {
				return err
			}
		}
	}
	if !raft.IsEmptySnap(rd.LocalSnapshot) {
		if err := put(keySnapshot, &rd.LocalSnapshot); err != nil {
			return err
		}
	}
	if rd.CompactTo > 0 {
		if err := b.DeleteRange(entryKey(0), entryKey(rd.CompactTo+1), nil); err != nil {
			return err
		}
	}
	if b.Empty() {
		return nil
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("pebblelog: %s: commit: %w", l.dir, err)
	}
	return nil
}

// Close flushes and closes the log.
func (l *Log) Close() error {
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("pebblelog: close %s: %w", l.dir, err)
	}
	return nil
}
