package causal

import (
	"testing"

	"pgregory.net/rapid"
)

var testOrigins = []PeerID{"o1", "o2", "o3", "o4"}

func genVV() *rapid.Generator[VersionVector] {
	return rapid.Custom(func(t *rapid.T) VersionVector {
		v := VersionVector{}
		for _, o := range testOrigins {
			if s := rapid.Uint64Range(0, 5).Draw(t, string(o)); s > 0 {
				v[o] = s
			}
		}
		return v
	})
}

func merged(a, b VersionVector) VersionVector {
	m := a.Clone()
	m.Merge(b)
	return m
}

func TestVersionVectorMergeIsASemilattice(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b, c := genVV().Draw(t, "a"), genVV().Draw(t, "b"), genVV().Draw(t, "c")
		if !merged(a, b).Equal(merged(b, a)) {
			t.Fatal("merge not commutative")
		}
		if !merged(merged(a, b), c).Equal(merged(a, merged(b, c))) {
			t.Fatal("merge not associative")
		}
		if !merged(a, a).Equal(a) {
			t.Fatal("merge not idempotent")
		}
		if c := a.Compare(merged(a, b)); c != Before && c != Equal {
			t.Fatalf("a is %v its merge with b", c)
		}
	})
}

func TestVersionVectorCompareIsConsistent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := genVV().Draw(t, "a"), genVV().Draw(t, "b")
		ab, ba := a.Compare(b), b.Compare(a)
		want := map[Causality]Causality{Equal: Equal, Before: After, After: Before, Concurrent: Concurrent}
		if ba != want[ab] {
			t.Fatalf("Compare(a,b)=%v but Compare(b,a)=%v", ab, ba)
		}
		// Definition: Before iff every entry <= and some <.
		le, lt := true, false
		for _, o := range testOrigins {
			if a[o] > b[o] {
				le = false
			}
			if a[o] < b[o] {
				lt = true
			}
		}
		if (ab == Before) != (le && lt) {
			t.Fatalf("Compare(%v,%v)=%v disagrees with the pointwise order", a, b, ab)
		}
		if (ab == Equal) != (a.Compare(b) == Equal && DigestOf(a) == DigestOf(b)) {
			t.Fatal("digest disagrees with equality")
		}
	})
}

func TestDigestIsIncremental(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := VersionVector{}
		var d Digest
		steps := rapid.IntRange(0, 30).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			o := rapid.SampledFrom(testOrigins).Draw(t, "origin")
			s := rapid.Uint64Range(0, 9).Draw(t, "seq")
			if s > v[o] {
				d.Update(o, v[o], s)
				v[o] = s
			}
		}
		if d != DigestOf(v) {
			t.Fatal("incremental digest differs from the digest computed from scratch")
		}
	})
}

func TestCoversAndRaise(t *testing.T) {
	v := VersionVector{}
	v.Raise("a", 3)
	v.Raise("a", 2)
	if v["a"] != 3 || !v.Covers(Dot{"a", 3}) || v.Covers(Dot{"a", 4}) || v.Covers(Dot{"b", 1}) || v.Covers(Dot{"a", 0}) {
		t.Fatalf("unexpected vector %v", v)
	}
	if got := (VersionVector{"b": 1, "a": 2, "c": 0}).Origins(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("Origins = %v", got)
	}
}
