package pebblestore

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// conformance checks the behaviour every replica.Store promises. It runs
// against replica.MemStore and this package's Store.
func conformance(t *testing.T, open func(t *testing.T) replica.Store) {
	t.Run("empty", func(t *testing.T) {
		s := open(t)
		if _, err := s.Event(replica.EventID{1}); !errors.Is(err, replica.ErrNotFound) {
			t.Fatalf("Event on empty store: %v", err)
		}
		if _, err := s.EventAt("x", 1); !errors.Is(err, replica.ErrNotFound) {
			t.Fatalf("EventAt on empty store: %v", err)
		}
		if ok, err := s.HasEvent(replica.EventID{1}); ok || err != nil {
			t.Fatalf("HasEvent on empty store: %v %v", ok, err)
		}
		if _, err := s.KeyState("k"); !errors.Is(err, replica.ErrNotFound) {
			t.Fatalf("KeyState on empty store: %v", err)
		}
		if _, err := s.Meta("m"); !errors.Is(err, replica.ErrNotFound) {
			t.Fatalf("Meta on empty store: %v", err)
		}
		vv, err := s.VersionVector()
		must(t, err)
		if len(vv) != 0 {
			t.Fatalf("version vector of empty store: %v", vv)
		}
		must(t, s.Apply(&replica.Batch{}))
		must(t, s.Apply(nil))
	})
	t.Run("events", func(t *testing.T) {
		s := open(t)
		a, b := newWriter("origin-a"), newWriter("origin-b")
		var all []*replica.Event
		for i := 0; i < 5; i++ {
			ba, bb := a.put("k", []byte{byte(i)}), b.put("j", []byte{byte(i)})
			must(t, s.Apply(merge(ba, bb)))
			all = append(all, ba.Events[0], bb.Events[0])
		}
		for _, e := range all {
			got, err := s.Event(e.ID())
			must(t, err)
			if got.ID() != e.ID() || !bytes.Equal(got.Signature, e.Signature) {
				t.Fatalf("event %s/%d read back differently", e.Origin, e.Seq)
			}
			at, err := s.EventAt(e.Origin, e.Seq)
			must(t, err)
			if at.ID() != e.ID() {
				t.Fatalf("EventAt(%s, %d) is another event", e.Origin, e.Seq)
			}
			if ok, err := s.HasEvent(e.ID()); !ok || err != nil {
				t.Fatalf("HasEvent: %v %v", ok, err)
			}
		}
		var seqs []uint64
		must(t, s.ScanEvents("origin-a", 2, 4, func(e *replica.Event) bool { seqs = append(seqs, e.Seq); return true }))
		if !slices.Equal(seqs, []uint64{2, 3, 4}) {
			t.Fatalf("ScanEvents 2..4: %v", seqs)
		}
		seqs = nil
		must(t, s.ScanEvents("origin-b", 0, 0, func(e *replica.Event) bool { seqs = append(seqs, e.Seq); return len(seqs) < 3 }))
		if !slices.Equal(seqs, []uint64{1, 2, 3}) {
			t.Fatalf("ScanEvents stopping after 3: %v", seqs)
		}
		vv, err := s.VersionVector()
		must(t, err)
		if vv["origin-a"] != 5 || vv["origin-b"] != 5 || len(vv) != 2 {
			t.Fatalf("version vector %v", vv)
		}
		// Raising is a pointwise max.
		must(t, s.Apply(&replica.Batch{VersionVector: replica.VersionVector{"origin-a": 3, "origin-c": 1}}))
		vv, _ = s.VersionVector()
		if vv["origin-a"] != 5 || vv["origin-c"] != 1 {
			t.Fatalf("version vector after max: %v", vv)
		}
		// Garbage collection of events.
		must(t, s.Apply(&replica.Batch{DeleteEvents: []replica.EventID{all[0].ID(), {9}}}))
		if _, err := s.Event(all[0].ID()); !errors.Is(err, replica.ErrNotFound) {
			t.Fatalf("deleted event: %v", err)
		}
		if _, err := s.EventAt(all[0].Origin, all[0].Seq); !errors.Is(err, replica.ErrNotFound) {
			t.Fatalf("deleted event by dot: %v", err)
		}
	})
	t.Run("keys", func(t *testing.T) {
		s := open(t)
		w := newWriter("o")
		want := map[string]*replica.KeyState{}
		for _, k := range []string{"b/2", "a/1", "b/1", "c", "b/3"} {
			b := w.put(k, []byte("v-"+k))
			must(t, s.Apply(b))
			want[k] = b.Keys[0]
		}
		b := w.put("b/2", []byte("again")) // overwrite
		must(t, s.Apply(b))
		want["b/2"] = b.Keys[0]
		for k, ks := range want {
			got, err := s.KeyState(k)
			must(t, err)
			if !got.Equal(ks) || !bytes.Equal(got.Versions[0].Value, ks.Versions[0].Value) {
				t.Fatalf("key %q read back differently", k)
			}
		}
		var keys []string
		must(t, s.ScanKeys("b/", func(ks *replica.KeyState) bool { keys = append(keys, ks.Key); return true }))
		if !slices.Equal(keys, []string{"b/1", "b/2", "b/3"}) {
			t.Fatalf("ScanKeys(b/): %v", keys)
		}
		var hashes []replica.KeyHash
		must(t, s.ScanKeyHashes(replica.KeyHash{}, func(h replica.KeyHash, ks *replica.KeyState) bool {
			if h != replica.HashKey(ks.Key) {
				t.Fatalf("hash %x given for key %q", h[:4], ks.Key)
			}
			hashes = append(hashes, h)
			return true
		}))
		if len(hashes) != 5 || !slices.IsSortedFunc(hashes, func(a, b replica.KeyHash) int { return bytes.Compare(a[:], b[:]) }) {
			t.Fatalf("ScanKeyHashes gave %d hashes, sorted %v", len(hashes), slices.IsSortedFunc(hashes, func(a, b replica.KeyHash) int { return bytes.Compare(a[:], b[:]) }))
		}
		var after []replica.KeyHash
		must(t, s.ScanKeyHashes(hashes[2], func(h replica.KeyHash, _ *replica.KeyState) bool { after = append(after, h); return true }))
		if !slices.Equal(after, hashes[2:]) {
			t.Fatal("ScanKeyHashes from the third hash does not start there")
		}
		must(t, s.Apply(&replica.Batch{DeleteKeys: []string{"c", "never"}}))
		if _, err := s.KeyState("c"); !errors.Is(err, replica.ErrNotFound) {
			t.Fatalf("deleted key: %v", err)
		}
	})
	t.Run("clock and meta", func(t *testing.T) {
		s := open(t)
		must(t, s.Apply(&replica.Batch{Clock: replica.Timestamp{Wall: 100, Logical: 2}, Meta: map[string][]byte{"a": []byte("1"), "b": []byte("2")}}))
		must(t, s.Apply(&replica.Batch{Clock: replica.Timestamp{Wall: 50}, Meta: map[string][]byte{"a": nil}}))
		c, err := s.Clock()
		must(t, err)
		if c != (replica.Timestamp{Wall: 100, Logical: 2}) {
			t.Fatalf("clock went back to %v", c)
		}
		if _, err := s.Meta("a"); !errors.Is(err, replica.ErrNotFound) {
			t.Fatalf("deleted meta: %v", err)
		}
		v, err := s.Meta("b")
		must(t, err)
		if string(v) != "2" {
			t.Fatalf("meta b = %q", v)
		}
	})
	t.Run("closed", func(t *testing.T) {
		s := open(t)
		must(t, s.Close())
		if err := s.Apply(newWriter("o").put("k", []byte("v"))); !errors.Is(err, replica.ErrClosed) {
			t.Fatalf("Apply after Close: %v", err)
		}
		if _, err := s.KeyState("k"); !errors.Is(err, replica.ErrClosed) {
			t.Fatalf("KeyState after Close: %v", err)
		}
	})
	t.Run("scan keys from", func(t *testing.T) {
		s := open(t)
		r, ok := s.(replica.KeyRangeScanner)
		if !ok {
			t.Fatalf("%T does not implement replica.KeyRangeScanner", s)
		}
		w := newWriter("o")
		for _, k := range []string{"a", "b", "b/1", "c", "d"} {
			must(t, s.Apply(w.put(k, []byte(k))))
		}
		var got []string
		must(t, r.ScanKeysFrom("b/0", func(ks *replica.KeyState) bool {
			got = append(got, ks.Key)
			return len(got) < 2
		}))
		if !slices.Equal(got, []string{"b/1", "c"}) {
			t.Fatalf("ScanKeysFrom(b/0) stopping after 2 = %v, want [b/1 c]", got)
		}
		got = nil
		must(t, r.ScanKeysFrom("", func(ks *replica.KeyState) bool { got = append(got, ks.Key); return true }))
		if !slices.Equal(got, []string{"a", "b", "b/1", "c", "d"}) {
			t.Fatalf("ScanKeysFrom(\"\") = %v", got)
		}
	})
}

func TestConformanceMemStore(t *testing.T) {
	conformance(t, func(t *testing.T) replica.Store { return replica.NewMemStore() })
}

func TestConformancePebble(t *testing.T) {
	conformance(t, func(t *testing.T) replica.Store {
		s, err := Open(t.TempDir(), Options{MerkleDepth: 8})
		must(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
