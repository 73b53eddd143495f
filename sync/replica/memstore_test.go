package replica

import (
	"bytes"
	"errors"
	"testing"
)

func TestMemStoreApplyAndRead(t *testing.T) {
	s := newTestSigner(1)
	m := NewMemStore()
	e1 := signedEvent(s, 1, OpPut, "a/1", "x", nil)
	e2 := signedEvent(s, 2, OpPut, "b/1", "y", nil)
	ks1 := &KeyState{Key: "a/1"}
	ks1.Apply(e1, e1.ID())
	ks2 := &KeyState{Key: "b/1"}
	ks2.Apply(e2, e2.ID())
	err := m.Apply(&Batch{
		Events:        []*Event{e1, e2},
		Keys:          []*KeyState{ks1, ks2},
		VersionVector: VersionVector{s.ID(): 2},
		Clock:         Timestamp{Wall: 5},
		Meta:          map[string][]byte{"x": []byte("1")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m.Event(e1.ID()); err != nil || got != e1 {
		t.Fatalf("Event = %v, %v", got, err)
	}
	if got, err := m.EventAt(s.ID(), 2); err != nil || got != e2 {
		t.Fatalf("EventAt = %v, %v", got, err)
	}
	if _, err := m.EventAt(s.ID(), 3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("EventAt missing: %v", err)
	}
	var seqs []uint64
	if err := m.ScanEvents(s.ID(), 1, 0, func(e *Event) bool { seqs = append(seqs, e.Seq); return true }); err != nil {
		t.Fatal(err)
	}
	if len(seqs) != 2 || seqs[0] != 1 || seqs[1] != 2 {
		t.Fatalf("ScanEvents = %v", seqs)
	}
	var keys []string
	if err := m.ScanKeys("a/", func(ks *KeyState) bool { keys = append(keys, ks.Key); return true }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "a/1" {
		t.Fatalf("ScanKeys = %v", keys)
	}
	var hashes []KeyHash
	if err := m.ScanKeyHashes(KeyHash{}, func(h KeyHash, ks *KeyState) bool {
		if h != HashKey(ks.Key) {
			t.Errorf("hash mismatch for %s", ks.Key)
		}
		hashes = append(hashes, h)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(hashes) != 2 || bytes.Compare(hashes[0][:], hashes[1][:]) >= 0 {
		t.Fatalf("ScanKeyHashes not ascending: %x", hashes)
	}
	vv, _ := m.VersionVector()
	if vv[s.ID()] != 2 {
		t.Fatalf("vv = %v", vv)
	}
	if c, _ := m.Clock(); c.Wall != 5 {
		t.Fatalf("clock = %v", c)
	}
	if v, err := m.Meta("x"); err != nil || string(v) != "1" {
		t.Fatalf("meta = %q, %v", v, err)
	}
	// A returned key state is a copy.
	got, _ := m.KeyState("a/1")
	got.Versions = nil
	again, _ := m.KeyState("a/1")
	if len(again.Versions) != 1 {
		t.Fatal("KeyState returned internal state")
	}
	// Deletions (GC).
	if err := m.Apply(&Batch{DeleteEvents: []EventID{e1.ID()}, DeleteKeys: []string{"a/1"}, Meta: map[string][]byte{"x": nil}}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := m.HasEvent(e1.ID()); ok {
		t.Fatal("event not deleted")
	}
	if _, err := m.KeyState("a/1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("key not deleted: %v", err)
	}
	if _, err := m.Meta("x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("meta not deleted: %v", err)
	}
	if err := m.Apply(&Batch{Events: []*Event{nil}}); err == nil {
		t.Fatal("nil event accepted")
	}
	_ = m.Close()
	if _, err := m.HasEvent(e2.ID()); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}
