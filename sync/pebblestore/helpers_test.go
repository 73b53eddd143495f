package pebblestore

import (
	"fmt"
	"testing"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// writer makes events of one origin and the key states they produce, the
// way the engine would put them in batches.
type writer struct {
	origin replica.PeerID
	seq    uint64
	wall   int64
	keys   map[string]*replica.KeyState
}

func newWriter(origin string) *writer {
	return &writer{origin: replica.PeerID(origin), keys: map[string]*replica.KeyState{}}
}

// put returns a batch that writes key=value (a delete if value is nil).
func (w *writer) put(key string, value []byte) *replica.Batch {
	w.seq++
	w.wall += 1000
	ks := w.keys[key]
	if ks == nil {
		ks = &replica.KeyState{Key: key}
	} else {
		ks = ks.Clone()
	}
	e := &replica.Event{Origin: w.origin, Seq: w.seq, Time: replica.Timestamp{Wall: w.wall}, Op: replica.OpPut, Key: key, Value: value,
		Context: ks.Context.Clone(), Signature: []byte("sig-" + fmt.Sprint(w.seq))}
	if value == nil {
		e.Op = replica.OpDelete
	}
	ks.Apply(e, e.ID())
	w.keys[key] = ks
	return &replica.Batch{
		Events:        []*replica.Event{e},
		Keys:          []*replica.KeyState{ks.Clone()},
		VersionVector: replica.VersionVector{w.origin: w.seq},
		Clock:         e.Time,
	}
}

// merge concatenates batches into one.
func merge(bs ...*replica.Batch) *replica.Batch {
	out := &replica.Batch{VersionVector: replica.VersionVector{}}
	for _, b := range bs {
		out.Events = append(out.Events, b.Events...)
		out.Keys = append(out.Keys, b.Keys...)
		out.VersionVector.Merge(b.VersionVector)
		if out.Clock.Less(b.Clock) {
			out.Clock = b.Clock
		}
	}
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
