package causal

import (
	"cmp"
	"slices"
)

// Write is one write to a key as causality sees it: its dot and the causal
// context it was made against (per origin, the highest seq of that origin's
// writes to the key the writer had seen). A write supersedes exactly the
// writes its context covers.
type Write struct {
	Dot     Dot
	Context VersionVector
}

// Supersedes reports whether w's context covers the write d.
func (w Write) Supersedes(d Dot) bool { return w.Context.Covers(d) }

// CompareWrites tells how write a relates causally to write b on the same
// key: Before when b's context covers a, After when a's covers b, Equal for
// the same write, Concurrent otherwise.
func CompareWrites(a, b Write) Causality {
	switch {
	case a.Dot == b.Dot:
		return Equal
	case b.Supersedes(a.Dot):
		return Before
	case a.Supersedes(b.Dot):
		return After
	}
	return Concurrent
}

// Set is the dotted version vector set of one key: the writes no applied
// write supersedes (siblings when more than one), in dot order, and the
// key's context, the join of the dots and contexts of every write applied
// to it (superseded ones included). The zero Set is empty.
type Set struct {
	Versions []Write
	Context  VersionVector
}

// Clone returns an independent copy (contexts are shared: they are never
// modified in place).
func (s Set) Clone() Set {
	return Set{Versions: slices.Clone(s.Versions), Context: s.Context.Clone()}
}

// Holds reports whether d is one of the set's versions.
func (s Set) Holds(d Dot) bool {
	for _, v := range s.Versions {
		if v.Dot == d {
			return true
		}
	}
	return false
}

// Applies reports whether applying w to a set with context ctx changes it:
// false when w was applied before or an applied write superseded it.
func Applies(ctx VersionVector, w Write) bool { return !ctx.Covers(w.Dot) }

// Apply adds the write w: it becomes a version, every version its context
// covers is dropped, and the context grows by w's dot and context. It
// reports false (and changes nothing) when Applies is false.
func (s *Set) Apply(w Write) bool {
	if !Applies(s.Context, w) {
		return false
	}
	kept := s.Versions[:0:0]
	for _, v := range s.Versions {
		if !w.Supersedes(v.Dot) {
			kept = append(kept, v)
		}
	}
	s.Versions = append(kept, w)
	sortWrites(s.Versions)
	ctx := s.Context.Clone()
	ctx.Merge(w.Context)
	ctx.Raise(w.Dot.Origin, w.Dot.Seq)
	s.Context = ctx
	return true
}

// JoinPlan decides the join of a peer's versions into ours by evidence.
// ours are our versions' dots and ourCtx our key context (our own
// knowledge); theirs are the peer's versions as signed writes. The peer's
// claimed key context and version vector play no part: one of our versions
// is kept unless one of their writes supersedes it (keep[i]), and one of
// theirs is added unless we hold it or our context covers it (add[j]).
// The caller joins ourCtx with the dots and contexts of their writes
// (JoinContext) and admits only writes whose contexts are Backed.
func JoinPlan(ours []Dot, ourCtx VersionVector, theirs []Write) (keep, add []bool) {
	keep = make([]bool, len(ours))
	for i, d := range ours {
		keep[i] = true
		for _, w := range theirs {
			if w.Dot != d && w.Supersedes(d) {
				keep[i] = false
				break
			}
		}
	}
	add = make([]bool, len(theirs))
	for j, w := range theirs {
		add[j] = !slices.Contains(ours, w.Dot) && Applies(ourCtx, w)
	}
	return keep, add
}

// JoinContext returns ctx joined with the dots and contexts of writes.
func JoinContext(ctx VersionVector, writes []Write) VersionVector {
	out := ctx.Clone()
	for _, w := range writes {
		out.Merge(w.Context)
		out.Raise(w.Dot.Origin, w.Dot.Seq)
	}
	return out
}

// JoinSets joins theirs into ours by evidence (JoinPlan, JoinContext).
// On states built from causally delivered writes, when each side's versions
// are Backed at the other (the engine defers a peer's write until they
// are), the result is the state of applying both sides' writes, and the
// join is commutative, associative and idempotent (see the property tests).
func JoinSets(ours, theirs Set) Set {
	dots := make([]Dot, len(ours.Versions))
	for i, v := range ours.Versions {
		dots[i] = v.Dot
	}
	keep, add := JoinPlan(dots, ours.Context, theirs.Versions)
	var out Set
	for i, v := range ours.Versions {
		if keep[i] {
			out.Versions = append(out.Versions, v)
		}
	}
	for j, w := range theirs.Versions {
		if add[j] {
			out.Versions = append(out.Versions, w)
		}
	}
	sortWrites(out.Versions)
	out.Context = JoinContext(ours.Context, theirs.Versions)
	return out
}

// Backed reports whether every dot ctx claims is covered by have, what the
// node holds (its version vector): a context backed this way names only
// writes that exist and that the node has applied. A write is applied only
// when its context is backed (causal delivery), so no one can claim to
// have seen what does not exist.
func Backed(ctx, have VersionVector) bool { return have.Dominates(ctx) }

// Unbacked returns the entries of ctx that have does not cover: what the
// node must fetch (or wait for) before it may apply a write with ctx.
func Unbacked(ctx, have VersionVector) VersionVector {
	var out VersionVector
	for o, s := range ctx {
		if have[o] < s {
			if out == nil {
				out = VersionVector{}
			}
			out[o] = s
		}
	}
	return out
}

// Collectable is the garbage-collection predicate for one write: it may be
// deleted from the log when every node counted in safe has applied it and
// no key state still holds it as a version (live is false).
func Collectable(safe VersionVector, d Dot, live bool) bool {
	return !live && safe.Covers(d)
}

// SafeVector is the pointwise minimum of own and every vector in others:
// the writes that every counted node has applied.
func SafeVector(own VersionVector, others []VersionVector) VersionVector {
	safe := own.Clone()
	for _, o := range others {
		safe = Min(safe, o)
	}
	return safe
}

// sortWrites orders writes by dot (origin, then seq).
func sortWrites(ws []Write) {
	slices.SortFunc(ws, func(a, b Write) int {
		if c := cmp.Compare(a.Dot.Origin, b.Dot.Origin); c != 0 {
			return c
		}
		return cmp.Compare(a.Dot.Seq, b.Dot.Seq)
	})
}
