package storetest

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// Writer makes the events of one origin and the key states they produce,
// the way the engine puts them in batches. Its events carry a fake
// signature: stores never verify signatures.
type Writer struct {
	origin replica.PeerID
	seq    uint64
	wall   int64
	keys   map[string]*replica.KeyState
}

// NewWriter returns a Writer for origin, starting at sequence number 1.
func NewWriter(origin string) *Writer {
	return &Writer{origin: replica.PeerID(origin), keys: map[string]*replica.KeyState{}}
}

// Put returns a batch that writes key=value (a delete if value is nil): the
// event, the key's new state (its context covers the writer's earlier
// writes of key), the version vector entry and the clock.
func (w *Writer) Put(key string, value []byte) *replica.Batch {
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

// Merge concatenates batches into one.
func Merge(bs ...*replica.Batch) *replica.Batch {
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

// BatchSeq makes n batches of 1..maxEvents events each from three origins,
// every event writing a key of its own, so a batch's presence can be
// checked key by key. The same rng seed gives the same batches.
func BatchSeq(rng *rand.Rand, n, maxEvents int) []*replica.Batch {
	ws := []*Writer{NewWriter("origin-a"), NewWriter("origin-b"), NewWriter("origin-c")}
	out := make([]*replica.Batch, n)
	for i := range out {
		var parts []*replica.Batch
		for j := 0; j < 1+rng.IntN(maxEvents); j++ {
			w := ws[rng.IntN(len(ws))]
			parts = append(parts, w.Put(fmt.Sprintf("key-%d-%d", i, j), []byte(strings.Repeat("v", rng.IntN(200)))))
		}
		out[i] = Merge(parts...)
	}
	return out
}
