package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// Harness describes the store implementation under test.
type Harness struct {
	// Open returns a new, empty store of its own. The suite closes it; a
	// t.Cleanup that closes it again must be harmless.
	Open func(t *testing.T) replica.Store
	// Reopen closes s and opens the same data again, as a restarted
	// process would. Nil for stores that keep nothing across a restart
	// (replica.MemStore); the persistence cases are then skipped over, not
	// failed.
	Reopen func(t *testing.T, s replica.Store) replica.Store
}

// Run checks the behaviour every replica.Store promises (see its doc
// comment), each case as a subtest on a fresh store from h.Open.
func Run(t *testing.T, h Harness) {
	t.Run("empty", func(t *testing.T) { testEmpty(t, h.Open(t)) })
	t.Run("events", func(t *testing.T) { testEvents(t, h.Open(t)) })
	t.Run("keys", func(t *testing.T) { testKeys(t, h.Open(t)) })
	t.Run("clock and meta", func(t *testing.T) { testClockMeta(t, h.Open(t)) })
	t.Run("closed", func(t *testing.T) { testClosed(t, h.Open(t)) })
	t.Run("scan keys from", func(t *testing.T) { testScanKeysFrom(t, h.Open(t)) })
	t.Run("batch repeats a key", func(t *testing.T) { testRepeats(t, h.Open(t)) })
	t.Run("failed apply writes nothing", func(t *testing.T) { testFailedApply(t, h.Open(t)) })
	t.Run("binary keys and origins", func(t *testing.T) { testBinary(t, h.Open(t)) })
	t.Run("merkle tree", func(t *testing.T) { testMerkle(t, h.Open(t)) })
	t.Run("anti-entropy", func(t *testing.T) { testAntiEntropy(t, h.Open(t), h.Open(t)) })
	t.Run("concurrent reads", func(t *testing.T) { testConcurrentReads(t, h.Open(t)) })
	if h.Reopen != nil {
		t.Run("reopen", func(t *testing.T) { testReopen(t, h) })
	}
}

func testEmpty(t *testing.T, s replica.Store) {
	defer s.Close()
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
	if c, err := s.Clock(); err != nil || !c.IsZero() {
		t.Fatalf("clock of empty store: %v %v", c, err)
	}
	must(t, s.Apply(&replica.Batch{}))
	must(t, s.Apply(nil))
}

func testEvents(t *testing.T, s replica.Store) {
	defer s.Close()
	a, b := NewWriter("origin-a"), NewWriter("origin-b")
	var all []*replica.Event
	for i := 0; i < 5; i++ {
		ba, bb := a.Put("k", []byte{byte(i)}), b.Put("j", []byte{byte(i)})
		must(t, s.Apply(Merge(ba, bb)))
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
	seqs = nil
	must(t, s.ScanEvents("origin-b", 4, 2, func(e *replica.Event) bool { seqs = append(seqs, e.Seq); return true }))
	if len(seqs) != 0 {
		t.Fatalf("ScanEvents 4..2: %v", seqs)
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
	// Garbage collection of events, one of them unknown.
	must(t, s.Apply(&replica.Batch{DeleteEvents: []replica.EventID{all[0].ID(), {9}}}))
	if _, err := s.Event(all[0].ID()); !errors.Is(err, replica.ErrNotFound) {
		t.Fatalf("deleted event: %v", err)
	}
	if _, err := s.EventAt(all[0].Origin, all[0].Seq); !errors.Is(err, replica.ErrNotFound) {
		t.Fatalf("deleted event by dot: %v", err)
	}
	seqs = nil
	must(t, s.ScanEvents(all[0].Origin, 0, 0, func(e *replica.Event) bool { seqs = append(seqs, e.Seq); return true }))
	if !slices.Equal(seqs, []uint64{2, 3, 4, 5}) {
		t.Fatalf("ScanEvents after deleting seq 1: %v", seqs)
	}
}

func testKeys(t *testing.T, s replica.Store) {
	defer s.Close()
	w := NewWriter("o")
	want := map[string]*replica.KeyState{}
	for _, k := range []string{"b/2", "a/1", "b/1", "c", "b/3"} {
		b := w.Put(k, []byte("v-"+k))
		must(t, s.Apply(b))
		want[k] = b.Keys[0]
	}
	b := w.Put("b/2", []byte("again")) // overwrite
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
	// A returned key state belongs to the caller.
	got, err := s.KeyState("a/1")
	must(t, err)
	got.Versions = nil
	again, err := s.KeyState("a/1")
	must(t, err)
	if len(again.Versions) != 1 {
		t.Fatal("KeyState returned the store's own state")
	}
}

func testClockMeta(t *testing.T, s replica.Store) {
	defer s.Close()
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
	must(t, s.Apply(&replica.Batch{Meta: map[string][]byte{"b": {}}}))
	if v, err := s.Meta("b"); err != nil || len(v) != 0 {
		t.Fatalf("meta b set empty = %q, %v", v, err)
	}
}

func testClosed(t *testing.T, s replica.Store) {
	must(t, s.Close())
	if err := s.Apply(NewWriter("o").Put("k", []byte("v"))); !errors.Is(err, replica.ErrClosed) {
		t.Fatalf("Apply after Close: %v", err)
	}
	if _, err := s.KeyState("k"); !errors.Is(err, replica.ErrClosed) {
		t.Fatalf("KeyState after Close: %v", err)
	}
	if _, err := s.VersionVector(); !errors.Is(err, replica.ErrClosed) {
		t.Fatalf("VersionVector after Close: %v", err)
	}
	must(t, s.Close()) // a second Close is harmless
}

func testScanKeysFrom(t *testing.T, s replica.Store) {
	defer s.Close()
	r, ok := s.(replica.KeyRangeScanner)
	if !ok {
		t.Fatalf("%T does not implement replica.KeyRangeScanner", s)
	}
	w := NewWriter("o")
	for _, k := range []string{"a", "b", "b/1", "c", "d"} {
		must(t, s.Apply(w.Put(k, []byte(k))))
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
}

// testRepeats applies batches that name a key or an event twice, and a key
// both deleted and written: the last write of a key wins, deletions go
// first.
func testRepeats(t *testing.T, s replica.Store) {
	defer s.Close()
	w := NewWriter("o")
	b1, b2 := w.Put("k", []byte("1")), w.Put("k", []byte("2"))
	both := Merge(b1, b2)
	both.Events = append(both.Events, b1.Events[0]) // the same event twice
	must(t, s.Apply(both))
	got, err := s.KeyState("k")
	must(t, err)
	if !got.Equal(b2.Keys[0]) {
		t.Fatal("the second write of a key in one batch did not win")
	}
	b3 := w.Put("k", []byte("3"))
	b3.DeleteKeys = []string{"k"}
	must(t, s.Apply(b3))
	got, err = s.KeyState("k")
	must(t, err)
	if !got.Equal(b3.Keys[0]) {
		t.Fatal("a key deleted and written in one batch is not written")
	}
	CheckTree(t, s)
}

// testFailedApply checks that a batch Apply refuses leaves nothing behind.
func testFailedApply(t *testing.T, s replica.Store) {
	defer s.Close()
	w := NewWriter("o")
	must(t, s.Apply(w.Put("before", []byte("x"))))
	var root merkle.Node
	if ms, ok := s.(replica.MerkleStore); ok {
		root = ms.MerkleTree().Root()
	}
	bad := w.Put("k", []byte("v"))
	bad.Events = append(bad.Events, nil)
	if err := s.Apply(bad); err == nil {
		t.Fatal("a batch with a nil event was applied")
	}
	bad = w.Put("j", []byte("v"))
	bad.Keys = append(bad.Keys, nil)
	if err := s.Apply(bad); err == nil {
		t.Fatal("a batch with a nil key state was applied")
	}
	for _, k := range []string{"k", "j"} {
		if _, err := s.KeyState(k); !errors.Is(err, replica.ErrNotFound) {
			t.Fatalf("key %q of a refused batch: %v", k, err)
		}
	}
	vv, err := s.VersionVector()
	must(t, err)
	if vv["o"] != 1 {
		t.Fatalf("version vector after refused batches: %v", vv)
	}
	if ms, ok := s.(replica.MerkleStore); ok && ms.MerkleTree().Root() != root {
		t.Fatal("a refused batch changed the merkle tree")
	}
}

// testBinary stores keys, values, origins and metadata names that are not
// text: zero bytes, invalid UTF-8, 0xff.
func testBinary(t *testing.T, s replica.Store) {
	defer s.Close()
	w := NewWriter("\x00\xffo\x80rigin")
	keys := []string{"\x00", "a\x00b", "\xff\xfe", "é", "a"}
	for _, k := range keys {
		must(t, s.Apply(w.Put(k, []byte{0, 0xff, 0})))
	}
	must(t, s.Apply(&replica.Batch{Meta: map[string][]byte{"\x00\xff": {0}}}))
	var got []string
	must(t, s.ScanKeys("", func(ks *replica.KeyState) bool { got = append(got, ks.Key); return true }))
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("ScanKeys = %q, want bytewise order %q", got, want)
	}
	got = nil
	must(t, s.ScanKeys("a", func(ks *replica.KeyState) bool { got = append(got, ks.Key); return true }))
	if !slices.Equal(got, []string{"a", "a\x00b"}) {
		t.Fatalf("ScanKeys(a) = %q", got)
	}
	for i := range keys {
		e, err := s.EventAt(replica.PeerID("\x00\xffo\x80rigin"), uint64(i+1))
		must(t, err)
		if e.Key != keys[i] || !bytes.Equal(e.Value, []byte{0, 0xff, 0}) {
			t.Fatalf("event %d read back as key %q value %x", i+1, e.Key, e.Value)
		}
	}
	if v, err := s.Meta("\x00\xff"); err != nil || !bytes.Equal(v, []byte{0}) {
		t.Fatalf("binary meta name: %x %v", v, err)
	}
	// Sequence numbers above the int64 range are legal (an origin chooses
	// them).
	e := &replica.Event{Origin: "big", Seq: 1<<63 + 5, Op: replica.OpApp, Key: "t", Signature: []byte("s")}
	must(t, s.Apply(&replica.Batch{Events: []*replica.Event{e}, VersionVector: replica.VersionVector{"big": 1<<63 + 5}}))
	got2, err := s.EventAt("big", 1<<63+5)
	must(t, err)
	if got2.ID() != e.ID() {
		t.Fatal("event with a large seq read back differently")
	}
	var seqs []uint64
	must(t, s.ScanEvents("big", 1<<63, 0, func(e *replica.Event) bool { seqs = append(seqs, e.Seq); return true }))
	if !slices.Equal(seqs, []uint64{1<<63 + 5}) {
		t.Fatalf("ScanEvents above 2^63: %v", seqs)
	}
	if vv, _ := s.VersionVector(); vv["big"] != 1<<63+5 {
		t.Fatalf("version vector entry above 2^63: %v", vv["big"])
	}
}

// testMerkle checks the tree a MerkleStore keeps against one rebuilt from
// the key states' digests, through writes, overwrites and deletions.
func testMerkle(t *testing.T, s replica.Store) {
	defer s.Close()
	ms, ok := s.(replica.MerkleStore)
	if !ok {
		t.Fatalf("%T does not implement replica.MerkleStore", s)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	w := NewWriter("o")
	for i := 0; i < 300; i++ {
		k := fmt.Sprintf("k%d", rng.IntN(120))
		switch rng.IntN(4) {
		case 0:
			must(t, s.Apply(&replica.Batch{DeleteKeys: []string{k}}))
		default:
			must(t, s.Apply(w.Put(k, []byte{byte(i)})))
		}
	}
	CheckTree(t, s)
	digests := map[merkle.KeyHash]merkle.Digest{}
	must(t, ms.MerkleSource().Scan(merkle.KeyHash{}, func(e merkle.Entry) bool { digests[e.KeyHash] = e.Digest; return true }))
	must(t, s.ScanKeys("", func(ks *replica.KeyState) bool {
		if d, ok := digests[merkle.HashKey(ks.Key)]; !ok || d != merkle.Digest(ks.Digest()) {
			t.Fatalf("source digest of %q is not its state's digest", ks.Key)
		}
		return true
	}))
	mem, err := merkle.NewMemState(ms.MerkleTree().Depth())
	must(t, err)
	for h, d := range digests {
		mem.Put(h, d)
	}
	if mem.Tree.Root() != ms.MerkleTree().Root() {
		t.Fatal("root differs from a tree over the same digests")
	}
}

// statesIn returns the key states s holds in the ranges of r.
func statesIn(t *testing.T, s replica.Store, r merkle.Result) []*replica.KeyState {
	var out []*replica.KeyState
	for _, rg := range r.Ranges {
		must(t, s.ScanKeyHashes(replica.KeyHash(rg.First()), func(h replica.KeyHash, ks *replica.KeyState) bool {
			if !rg.Contains(merkle.KeyHash(h)) {
				return false
			}
			out = append(out, ks)
			return true
		}))
	}
	return out
}

// testAntiEntropy reconciles two stores that missed each other's writes:
// the differing ranges hold exactly the differing keys, and exchanging
// them makes the trees equal.
func testAntiEntropy(t *testing.T, a, b replica.Store) {
	defer a.Close()
	defer b.Close()
	ma, okA := a.(replica.MerkleStore)
	mb, okB := b.(replica.MerkleStore)
	if !okA || !okB {
		t.Fatalf("%T does not implement replica.MerkleStore", a)
	}
	common := BatchSeq(rand.New(rand.NewPCG(3, 3)), 30, 30)
	for _, bt := range common {
		must(t, a.Apply(bt))
		must(t, b.Apply(bt))
	}
	wa, wb := NewWriter("only-a"), NewWriter("only-b")
	want := map[string]bool{}
	for i := 0; i < 40; i++ {
		k := fmt.Sprintf("a-%d", i)
		must(t, a.Apply(wa.Put(k, []byte("x"))))
		want[k] = true
	}
	for i := 0; i < 25; i++ {
		k := fmt.Sprintf("b-%d", i)
		must(t, b.Apply(wb.Put(k, []byte("y"))))
		want[k] = true
	}
	gone := common[0].Keys[0].Key // b garbage-collected it; a holds it
	must(t, b.Apply(&replica.Batch{DeleteKeys: []string{gone}}))
	want[gone] = true

	depthA, depthB := ma.MerkleTree().Depth(), mb.MerkleTree().Depth()
	ini, err := merkle.NewInitiator(merkle.Config{Depth: depthA, FullSyncThreshold: 1}, ma.MerkleTree(), ma.MerkleSource())
	must(t, err)
	res, err := merkle.NewResponder(merkle.Config{Depth: depthB, FullSyncThreshold: 1}, mb.MerkleTree(), mb.MerkleSource())
	must(t, err)
	req, err := ini.Start()
	must(t, err)
	for req != nil {
		resp, err := res.Handle(req)
		must(t, err)
		if resp == nil {
			break
		}
		req, err = ini.Step(resp)
		must(t, err)
	}
	if ini.Result().FullSync {
		t.Fatal("session ended in a full sync")
	}
	fromA, fromB := statesIn(t, a, ini.Result()), statesIn(t, b, res.Result())
	got := map[string]bool{}
	for _, ks := range append(fromA, fromB...) {
		got[ks.Key] = true
	}
	for k := range want {
		if !got[k] {
			t.Fatalf("differing key %q not found (%d found, %d differ)", k, len(got), len(want))
		}
	}
	must(t, b.Apply(&replica.Batch{Keys: fromA}))
	must(t, a.Apply(&replica.Batch{Keys: fromB}))
	if ma.MerkleTree().Root() != mb.MerkleTree().Root() {
		t.Fatal("roots differ after exchanging the differing keys")
	}
}

// testConcurrentReads runs ConcurrentReads over 40 batches.
func testConcurrentReads(t *testing.T, s replica.Store) { ConcurrentReads(t, s, 40) }

// ConcurrentReads reads from several goroutines while n batches are
// applied and the store is finally closed: a key a batch wrote is never
// visible without the batch's event, and reads end with ErrClosed once the
// store is closed (run with -race). Each of readers also runs in a loop of
// its own beside them (a store's own consistency checks); an error other
// than ErrClosed fails the test.
func ConcurrentReads(t *testing.T, s replica.Store, n int, readers ...func() error) {
	batches := BatchSeq(rand.New(rand.NewPCG(11, 11)), n, 8)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8+len(readers))
	keysWithEvents := func() error {
		var missing error
		err := s.ScanKeyHashes(replica.KeyHash{}, func(_ replica.KeyHash, ks *replica.KeyState) bool {
			ok, err := s.HasEvent(ks.Versions[0].Event)
			if err == nil && !ok {
				missing = errors.New("key " + ks.Key + " visible before its event")
			}
			return missing == nil
		})
		if err == nil {
			err = missing
		}
		if err == nil {
			_, err = s.VersionVector()
		}
		return err
	}
	loops := append([]func() error{keysWithEvents, keysWithEvents, keysWithEvents}, readers...)
	for _, read := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := read(); err != nil && !errors.Is(err, replica.ErrClosed) {
					errs <- err
					return
				}
			}
		}()
	}
	for i, b := range batches {
		must(t, s.Apply(b))
		if i == len(batches)/2 {
			// Apply from inside a scan callback does not deadlock.
			var inner error
			must(t, s.ScanKeys("", func(*replica.KeyState) bool {
				inner = s.Apply(&replica.Batch{Meta: map[string][]byte{"x": {1}}})
				return false
			}))
			must(t, inner)
		}
	}
	must(t, s.Close())
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// testReopen applies batches, reopens the store and finds all of them,
// the clock, the metadata and the same tree root.
func testReopen(t *testing.T, h Harness) {
	s := h.Open(t)
	batches := BatchSeq(rand.New(rand.NewPCG(1, 2)), 40, 20)
	for _, b := range batches {
		must(t, s.Apply(b))
	}
	must(t, s.Apply(&replica.Batch{Meta: map[string][]byte{"name": []byte("x")}, Clock: replica.Timestamp{Wall: 1 << 40, Logical: 7},
		DeleteKeys: []string{batches[0].Keys[0].Key}, DeleteEvents: []replica.EventID{batches[0].Events[0].ID()}}))
	var root merkle.Node
	if ms, ok := s.(replica.MerkleStore); ok {
		root = ms.MerkleTree().Root()
	}
	s = h.Reopen(t, s)
	defer s.Close()
	for i, b := range batches[1:] {
		if !Present(t, s, i+1, b) {
			t.Fatalf("batch %d lost across reopen", i+1)
		}
	}
	CheckTree(t, s)
	if _, err := s.KeyState(batches[0].Keys[0].Key); !errors.Is(err, replica.ErrNotFound) {
		t.Fatalf("deleted key after reopen: %v", err)
	}
	if ms, ok := s.(replica.MerkleStore); ok && ms.MerkleTree().Root() != root {
		t.Fatal("tree root changed across reopen")
	}
	if v, err := s.Meta("name"); err != nil || string(v) != "x" {
		t.Fatalf("meta after reopen: %q %v", v, err)
	}
	if c, err := s.Clock(); err != nil || c != (replica.Timestamp{Wall: 1 << 40, Logical: 7}) {
		t.Fatalf("clock after reopen: %v %v", c, err)
	}
	vv, err := s.VersionVector()
	must(t, err)
	want := replica.VersionVector{}
	for _, b := range batches {
		want.Merge(b.VersionVector)
	}
	if !vv.Equal(want) {
		t.Fatalf("version vector after reopen %v, want %v", vv, want)
	}
}
