package pebblestore

import (
	"fmt"
	"testing"

	"github.com/murmur-p2p/murmur/sync"
)

// writer makes events of one origin and the key states they produce, the
// way the engine would put them in batches.
type writer struct {
	origin sync.PeerID
	seq    uint64
	wall   int64
	keys   map[string]*sync.KeyState
}

func newWriter(origin string) *writer {
	return &writer{origin: sync.PeerID(origin), keys: map[string]*sync.KeyState{}}
}

// put returns a batch that writes key=value (a delete if value is nil).
func (w *writer) put(key string, value []byte) *sync.Batch {
	w.seq++
	w.wall += 1000
	ks := w.keys[key]
	if ks == nil {
		ks = &sync.KeyState{Key: key}
	} else {
		ks = ks.Clone()
	}
	e := &sync.Event{Origin: w.origin, Seq: w.seq, Time: sync.Timestamp{Wall: w.wall}, Op: sync.OpPut, Key: key, Value: value,
		Context: ks.Context.Clone(), Signature: []byte("sig-" + fmt.Sprint(w.seq))}
	if value == nil {
		e.Op = sync.OpDelete
	}
	ks.Apply(e, e.ID())
	w.keys[key] = ks
	return &sync.Batch{
		Events:        []*sync.Event{e},
		Keys:          []*sync.KeyState{ks.Clone()},
		VersionVector: sync.VersionVector{w.origin: w.seq},
		Clock:         e.Time,
	}
}

// merge concatenates batches into one.
func merge(bs ...*sync.Batch) *sync.Batch {
	out := &sync.Batch{VersionVector: sync.VersionVector{}}
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
