package pebblelog

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/murmur-p2p/murmur/sync/order"
)

// TestSaveMatchesMemory saves random Ready sequences to Pebble and to the
// in-memory reference, reopening the Pebble log now and then, and checks
// that both always hold the same state.
func TestSaveMatchesMemory(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	r := rand.New(rand.NewPCG(1, 2))
	var mem order.Persisted
	last := uint64(0)
	for step := range 300 {
		var rd order.Ready
		switch r.IntN(10) {
		case 0:
			last += uint64(r.IntN(20))
			rd.Snapshot = raftpb.Snapshot{Data: []byte{byte(step)}, Metadata: raftpb.SnapshotMetadata{Index: last, Term: 2}}
		case 1:
			if last > 3 {
				rd.LocalSnapshot = raftpb.Snapshot{Data: []byte{1, byte(step)}, Metadata: raftpb.SnapshotMetadata{Index: last, Term: 2}}
				rd.CompactTo = last - 3
			}
		default:
			from := max(1, last+1-uint64(r.IntN(3)))
			for i := range r.IntN(4) {
				rd.Entries = append(rd.Entries, raftpb.Entry{Index: from + uint64(i), Term: uint64(step), Data: []byte{byte(i)}})
			}
			if len(rd.Entries) > 0 {
				last = rd.Entries[len(rd.Entries)-1].Index
			}
			rd.HardState = raftpb.HardState{Term: uint64(step), Vote: 1, Commit: last / 2}
		}
		mem.Save(rd)
		if err := l.Save(rd); err != nil {
			t.Fatal(err)
		}
		if r.IntN(20) == 0 {
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if l, err = Open(dir); err != nil {
				t.Fatal(err)
			}
		}
		got, err := l.Load()
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Entries) == 0 {
			got.Entries = nil
		}
		want := mem.Clone()
		if len(want.Entries) == 0 {
			want.Entries = nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: pebble %+v\nmemory %+v", step, got, want)
		}
	}
}
