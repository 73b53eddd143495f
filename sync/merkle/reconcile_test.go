package merkle

import (
	"errors"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// pairGen draws two states that share a base and then diverge. It returns
// the key hashes on which they truly differ.
func drawPair(t *rapid.T) (a, b *MemState, ca, cb Config, truth map[KeyHash]bool) {
	ca = Config{
		Depth:             rapid.IntRange(1, 12).Draw(t, "depthA"),
		FullSyncThreshold: 1, // measure the diff itself
		LevelsPerRound:    rapid.IntRange(1, 3).Draw(t, "levelsA"),
		ListThreshold:     rapid.SampledFrom([]int{-1, 1, 2, 4, 8}).Draw(t, "listA"),
	}
	cb = Config{Depth: rapid.IntRange(1, 12).Draw(t, "depthB")}
	a, _ = NewMemState(ca.Depth)
	b, _ = NewMemState(cb.Depth)
	// Either side may keep a sketch (the coded fast path), of a size that
	// decodes all, some or none of the differences.
	for _, s := range []*MemState{a, b} {
		if n := rapid.SampledFrom([]int{0, 4, 16, 64, 1024}).Draw(t, "sketch"); n > 0 {
			if err := s.Tree.EnableSketch(n); err != nil {
				t.Fatal(err)
			}
		}
	}
	base := rapid.IntRange(0, 400).Draw(t, "base")
	for i := 0; i < base; i++ {
		a.Put(kh(uint64(i)), dg(uint64(i), 0))
		b.Put(kh(uint64(i)), dg(uint64(i), 0))
	}
	keyRange := uint64(base + 50)
	for _, s := range []*MemState{a, b} {
		n := rapid.IntRange(0, 40).Draw(t, "changes")
		for j := 0; j < n; j++ {
			k := rapid.Uint64Range(0, keyRange).Draw(t, "key")
			if rapid.IntRange(0, 4).Draw(t, "op") == 0 {
				s.Delete(kh(k))
			} else {
				s.Put(kh(k), dg(k, rapid.Uint64Range(0, 2).Draw(t, "ver")))
			}
		}
	}
	truth = map[KeyHash]bool{}
	for _, s := range [][2]*MemState{{a, b}, {b, a}} {
		_ = s[0].Index.Scan(KeyHash{}, func(e Entry) bool {
			if d, ok := s[1].Index.Get(e.KeyHash); !ok || d != e.Digest {
				truth[e.KeyHash] = true
			}
			return true
		})
	}
	return a, b, ca, cb, truth
}

// TestDiffFindsExactlyTheDifferingKeys is the property: for random
// pairs of states the entries both sides send after a session are exactly
// the keys on which they differ, both sides agree on the ranges, and after
// merging the trees are equal.
func TestDiffFindsExactlyTheDifferingKeys(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b, ca, cb, truth := drawPair(t)
		ra, rb := session(t, ca, a, cb, b)
		if ra.InSync != (len(truth) == 0) || rb.InSync != ra.InSync {
			t.Fatalf("in sync: initiator %v responder %v, %d keys differ", ra.InSync, rb.InSync, len(truth))
		}
		if ra.FullSync || rb.FullSync {
			t.Fatal("full sync with the threshold disabled")
		}
		for _, r := range rb.Ranges {
			if !slices.Contains(ra.Ranges, r) {
				t.Fatalf("responder range %s unknown to the initiator (%v)", r, ra.Ranges)
			}
		}
		ea, err := ra.Entries(a.Index)
		if err != nil {
			t.Fatal(err)
		}
		eb, err := rb.Entries(b.Index)
		if err != nil {
			t.Fatal(err)
		}
		found := map[KeyHash]bool{}
		for _, e := range append(slices.Clone(ea), eb...) {
			found[e.KeyHash] = true
		}
		for h := range truth {
			if !found[h] {
				t.Fatalf("differing key %s not found (%d differ, %d found)", h, len(truth), len(found))
			}
		}
		for h := range found {
			if !truth[h] {
				t.Fatalf("key %s found but equal on both sides", h)
			}
		}
		// Merge: the higher digest wins (stands in for the causality rules).
		merge := func(dst *MemState, in []Entry) {
			for _, e := range in {
				if d, ok := dst.Index.Get(e.KeyHash); !ok || string(e.Digest[:]) > string(d[:]) {
					dst.Put(e.KeyHash, e.Digest)
				}
			}
		}
		merge(a, eb)
		merge(b, ea)
		if a.Tree.Root() != b.Tree.Root() {
			t.Fatal("roots differ after exchanging the entries")
		}
		again, _ := session(t, ca, a, cb, b)
		if !again.InSync || again.RoundTrips != 1 {
			t.Fatalf("second session: in sync %v after %d round trips", again.InSync, again.RoundTrips)
		}
	})
}

func TestInSyncIsOneRoundTrip(t *testing.T) {
	a, _ := NewMemState(8)
	b, _ := NewMemState(8)
	for i := uint64(0); i < 1000; i++ {
		a.Put(kh(i), dg(i, 0))
		b.Put(kh(i), dg(i, 0))
	}
	ra, rb := session(t, DefaultConfig(), a, DefaultConfig(), b)
	if !ra.InSync || !rb.InSync || ra.RoundTrips != 1 {
		t.Fatalf("in sync %v/%v after %d round trips", ra.InSync, rb.InSync, ra.RoundTrips)
	}
	if ra.BytesSent+ra.BytesReceived > 60 {
		t.Fatalf("an in-sync check cost %d bytes", ra.BytesSent+ra.BytesReceived)
	}
}

func TestFullSyncPastThreshold(t *testing.T) {
	a, _ := NewMemState(6)
	b, _ := NewMemState(6)
	for i := uint64(0); i < 2000; i++ {
		a.Put(kh(i), dg(i, 0))
		v := uint64(0)
		if i%4 == 0 {
			v = 1 // a quarter of the keys differ: almost every leaf
		}
		b.Put(kh(i), dg(i, v))
	}
	cfg := Config{Depth: 6, FullSyncThreshold: 0.5}
	ra, rb := session(t, cfg, a, cfg, b)
	if !ra.FullSync || !rb.FullSync {
		t.Fatalf("full sync: initiator %v responder %v, %d of %d leaves differ", ra.FullSync, rb.FullSync, ra.DifferingLeaves, ra.Leaves)
	}
	// A new empty node facing a full one: full sync at once.
	empty, _ := NewMemState(6)
	re, _ := session(t, cfg, empty, cfg, a)
	if !re.FullSync || re.RoundTrips != 1 {
		t.Fatalf("empty node: full sync %v after %d round trips", re.FullSync, re.RoundTrips)
	}
	// A few differing keys stay below the threshold.
	c, _ := NewMemState(6)
	for i := uint64(0); i < 2000; i++ {
		c.Put(kh(i), dg(i, 0))
	}
	c.Put(kh(7), dg(7, 9))
	rc, _ := session(t, cfg, a, cfg, c)
	if rc.FullSync || rc.DifferingLeaves != 1 || len(rc.Ranges) != 1 {
		t.Fatalf("one differing key: full sync %v, %d leaves, ranges %v", rc.FullSync, rc.DifferingLeaves, rc.Ranges)
	}
}

func TestResponderRejectsBadRequests(t *testing.T) {
	a, _ := NewMemState(4)
	for i := uint64(0); i < 50; i++ {
		a.Put(kh(i), dg(i, 0))
	}
	r, _ := NewResponder(DefaultConfig(), a.Tree, a.Index)
	if _, err := r.Handle(&Request{Marks: []Mark{MarkEqual}}); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("request before start: %v", err)
	}
	r, _ = NewResponder(DefaultConfig(), a.Tree, a.Index)
	if _, err := r.Handle(&Request{Start: true, Levels: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Handle(&Request{Marks: []Mark{MarkDescend}, Levels: 1}); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("1 mark for 4 nodes: %v", err)
	}
	if _, err := r.Handle(&Request{Marks: make([]Mark, 4)}); !errors.Is(err, ErrSessionDone) {
		t.Fatalf("request after a failed one: %v", err)
	}
	r, _ = NewResponder(Config{MaxNodesPerMessage: 1 << maxJump}, a.Tree, a.Index)
	if _, err := r.Handle(&Request{Start: true, Levels: maxJump}); err != nil {
		t.Fatal(err)
	}
	all := slices.Repeat([]Mark{MarkDescend}, 1<<maxJump)
	if _, err := r.Handle(&Request{Marks: all, Levels: 2}); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("request for 3*4096 hashes: %v", err)
	}
}

func TestInitiatorRejectsBadResponses(t *testing.T) {
	a, _ := NewMemState(4)
	a.Put(kh(1), dg(1, 0))
	ini, _ := NewInitiator(DefaultConfig(), a.Tree, a.Index)
	if _, err := ini.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := ini.Step(&Response{HasRoot: true, Root: Node{Count: 3}, Nodes: make([]NodeHash, 2)}); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("2 hashes for 15: %v", err)
	}
	ini, _ = NewInitiator(DefaultConfig(), a.Tree, a.Index)
	_, _ = ini.Start()
	nodes := make([]NodeHash, 1<<startLevels-1)
	nodes[0].Count = 10
	if _, err := ini.Step(&Response{HasRoot: true, Root: Node{Count: 3}, Nodes: nodes}); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("children counting more than their parent: %v", err)
	}
	if _, err := ini.Step(&Response{}); !errors.Is(err, ErrSessionDone) {
		t.Fatalf("step after a failed one: %v", err)
	}
}

func TestMessageDecodeRejectsGarbage(t *testing.T) {
	var req Request
	var resp Response
	for _, b := range [][]byte{nil, {9, 0, 0, 0}, {wireVersion, 0x80, 0, 0}, {wireVersion, 0, 0, 5, 0}, {wireVersion, 0, 0}} {
		if err := req.UnmarshalBinary(b, 100); err == nil {
			t.Fatalf("request %x decoded", b)
		}
	}
	if err := req.UnmarshalBinary([]byte{wireVersion, 0, 1, 200, 1}, 100); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("200 marks with limit 100: %v", err)
	}
	for _, b := range [][]byte{nil, {wireVersion}, {wireVersion, 0, 2, 1, 2, 3}, {wireVersion, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9}} {
		if err := resp.UnmarshalBinary(b, 100); err == nil {
			t.Fatalf("response %x decoded", b)
		}
	}
	if err := resp.UnmarshalBinary([]byte{wireVersion, 0, 0xff, 0x7f}, 100); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("16383 nodes with limit 100: %v", err)
	}
}

func FuzzRequestDecode(f *testing.F) {
	r := &Request{Marks: []Mark{0, 1, 2, 1, 0}, Levels: 2}
	b, _ := r.MarshalBinary()
	f.Add(b)
	s := &Request{Start: true, Root: Node{Count: 4, Sum: Sum{1, 2, 3, 4}}, Levels: 4}
	b, _ = s.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Request
		if r.UnmarshalBinary(b, 1<<16) != nil {
			return
		}
		again, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var r2 Request
		if err := r2.UnmarshalBinary(again, 1<<16); err != nil || !slices.Equal(r.Marks, r2.Marks) || r.Root != r2.Root {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

func FuzzResponseDecode(f *testing.F) {
	r := &Response{HasRoot: true, Root: Node{Count: 2}, Nodes: []NodeHash{{1, 2}, {3, 300}}}
	b, _ := r.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Response
		if r.UnmarshalBinary(b, 1<<16) != nil {
			return
		}
		again, _ := r.MarshalBinary()
		var r2 Response
		if err := r2.UnmarshalBinary(again, 1<<16); err != nil || !slices.Equal(r.Nodes, r2.Nodes) {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

// TestResponderEndsEndlessSessions: a peer that keeps asking for the same
// level-64 nodes to be listed, or keeps a session going past 64 levels, is
// cut off instead of served forever.
func TestResponderEndsEndlessSessions(t *testing.T) {
	a, _ := NewMemState(4)
	for i := uint64(0); i < 50; i++ {
		a.Put(kh(i), dg(i, 0))
	}
	r, _ := NewResponder(DefaultConfig(), a.Tree, a.Index)
	if _, err := r.Handle(&Request{Start: true, Levels: 1}); err != nil {
		t.Fatal(err)
	}
	// Descend one level at a time down to level 64, then ask to list there.
	var err error
	for round := 0; round < 80 && err == nil; round++ {
		marks := make([]Mark, len(r.frontier))
		for i, f := range r.frontier {
			if f.Level < MaxLevel && r.frontier[i].Prefix == r.frontier[0].Prefix {
				marks[i] = MarkDescend
			} else if i == 0 {
				marks[i] = MarkList
			}
		}
		_, err = r.Handle(&Request{Marks: marks, Levels: 1})
	}
	if !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("endless session: %v", err)
	}
}
