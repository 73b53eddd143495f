package replica

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// history is a random causal history of writes to one key by several
// writers, each writing against what it had seen.
func genHistory(t *rapid.T) []*Event {
	signers := []*testSigner{newTestSigner(1), newTestSigner(2), newTestSigner(3)}
	states := make([]*KeyState, len(signers))
	seqs := make([]uint64, len(signers))
	for i := range states {
		states[i] = &KeyState{Key: "k"}
	}
	var all []*Event
	n := rapid.IntRange(1, 12).Draw(t, "writes")
	for i := 0; i < n; i++ {
		w := rapid.IntRange(0, len(signers)-1).Draw(t, "writer")
		// The writer first learns a random subset of the writes so far.
		for _, ev := range all {
			if rapid.Bool().Draw(t, "learn") {
				states[w].Apply(ev, ev.ID())
			}
		}
		seqs[w]++
		op := OpPut
		if rapid.IntRange(0, 4).Draw(t, "op") == 0 {
			op = OpDelete
		}
		val := ""
		if op == OpPut {
			val = fmt.Sprint(i)
		}
		ev := signedEvent(signers[w], seqs[w], op, "k", val, states[w].Context.Clone())
		ev.Time = Timestamp{Wall: int64(rapid.IntRange(0, 5).Draw(t, "wall"))}
		if err := ev.Sign(signers[w]); err != nil {
			t.Fatal(err)
		}
		states[w].Apply(ev, ev.ID())
		all = append(all, ev)
	}
	return all
}

func TestKeyStateApplyIsOrderIndependent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		hist := genHistory(t)
		a := &KeyState{Key: "k"}
		for _, ev := range hist {
			a.Apply(ev, ev.ID())
		}
		perm := rapid.Permutation(hist).Draw(t, "order")
		b := &KeyState{Key: "k"}
		for _, ev := range perm {
			b.Apply(ev, ev.ID())
			b.Apply(ev, ev.ID()) // duplicates change nothing
		}
		if !a.Equal(b) {
			t.Fatalf("states differ by delivery order:\n%+v\n%+v", a.Versions, b.Versions)
		}
		// Siblings are exactly the writes no other write covers, and they
		// are pairwise concurrent.
		for _, ev := range hist {
			covered := false
			for _, o := range hist {
				if CompareWrites(ev, o) == Before {
					covered = true
				}
			}
			in := false
			for _, v := range a.Versions {
				if v.Dot() == ev.Dot() {
					in = true
				}
			}
			if in == covered {
				t.Fatalf("write %d covered=%v but sibling=%v", ev.Seq, covered, in)
			}
		}
		for i := range a.Versions {
			for j := i + 1; j < len(a.Versions); j++ {
				if !a.Versions[i].wins(a.Versions[j]) {
					t.Fatal("versions not in read order")
				}
			}
		}
	})
}

func TestCompareWritesIsConsistent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		hist := genHistory(t)
		a := rapid.SampledFrom(hist).Draw(t, "a")
		b := rapid.SampledFrom(hist).Draw(t, "b")
		ab, ba := CompareWrites(a, b), CompareWrites(b, a)
		want := map[Causality]Causality{Equal: Equal, Before: After, After: Before, Concurrent: Concurrent}
		if ba != want[ab] {
			t.Fatalf("CompareWrites(a,b)=%v, (b,a)=%v", ab, ba)
		}
		if (ab == Equal) != (a == b) {
			t.Fatal("Equal for different writes")
		}
	})
}

func TestWinnerIsHighestHLCThenOrigin(t *testing.T) {
	s1, s2 := newTestSigner(1), newTestSigner(2)
	e1 := signedEvent(s1, 1, OpPut, "k", "one", nil)
	e2 := signedEvent(s2, 1, OpPut, "k", "two", nil)
	e1.Time, e2.Time = Timestamp{Wall: 5}, Timestamp{Wall: 5}
	ks := &KeyState{Key: "k"}
	ks.Apply(e1, e1.ID())
	ks.Apply(e2, e2.ID())
	if !ks.Conflict() {
		t.Fatal("concurrent writes not kept as siblings")
	}
	w, _ := ks.Winner()
	want := e1
	if e2.Origin > e1.Origin {
		want = e2
	}
	if w.Origin != want.Origin {
		t.Fatalf("winner %s, want the higher origin %s", w.Origin, want.Origin)
	}
	// A later delete that saw both supersedes both: the key reads as deleted.
	d := signedEvent(s1, 2, OpDelete, "k", "", ks.Context.Clone())
	d.Time = Timestamp{Wall: 1} // causality, not time, decides supersession
	if err := d.Sign(s1); err != nil {
		t.Fatal(err)
	}
	ks.Apply(d, d.ID())
	if ks.Conflict() || !ks.Deleted() {
		t.Fatalf("delete did not supersede the siblings: %+v", ks.Versions)
	}
}
