package replica

import (
	"errors"
	"fmt"
	"slices"
)

// This file merges key states received from peers (anti-entropy and
// snapshots) by the causality rules: the join of two dotted version vector
// sets. A version survives the join if the other side holds it too, or if
// the other side's causal knowledge does not cover it. A side's causal
// knowledge of a key is the key's context together with the side's whole
// version vector: a node has applied every write its vector covers, so a
// covered write that is not among its versions was superseded there (or
// deleted and garbage-collected with its key). The merged context is the
// union of both contexts.
//
// Trust model: the sender is an authenticated peer, but nothing it says
// about values is taken on trust. Every version arrives as its origin's
// signed event, which is verified, must be a put or delete of the same key,
// must be covered by the entry's context, and must not contradict an event
// of the same origin and seq in the local log (equivocation). What cannot
// be verified is the context (and vector) a peer claims: superseded writes
// are gone, so an inflated context can hide a value (a sibling disappears
// as if overwritten) but never forge or alter one. Contexts and vectors are
// bounded (MaxContextEntries) and entries bounded by MaxStateVersions, so a
// peer cannot make the node spend more than a message's worth of memory.

// checkEntry validates a state entry received from a peer and returns its
// versions in read order.
func (e *Engine) checkEntry(from PeerID, st *StateEntry) ([]Version, error) {
	switch {
	case st == nil:
		return nil, fmt.Errorf("%w: nil state from %s", ErrInvalidMessage, from)
	case st.Key == "" || len(st.Key) > MaxKeySize:
		return nil, fmt.Errorf("%w: state from %s has a key of %d bytes", ErrInvalidMessage, from, len(st.Key))
	case len(st.Versions) > MaxStateVersions:
		return nil, fmt.Errorf("%w: state of %q from %s has %d versions, limit %d", ErrMessageTooLarge, st.Key, from, len(st.Versions), MaxStateVersions)
	case len(st.Context) > MaxContextEntries:
		return nil, fmt.Errorf("%w: state of %q from %s has %d context entries, limit %d", ErrMessageTooLarge, st.Key, from, len(st.Context), MaxContextEntries)
	}
	for o := range st.Context {
		if len(o) == 0 || len(o) > MaxPeerIDSize {
			return nil, fmt.Errorf("%w: state of %q from %s has a context origin of %d bytes", ErrInvalidMessage, st.Key, from, len(o))
		}
	}
	vs := make([]Version, 0, len(st.Versions))
	for _, ev := range st.Versions {
		if ev == nil {
			return nil, fmt.Errorf("%w: state of %q from %s has a nil version", ErrInvalidMessage, st.Key, from)
		}
		if err := ev.Verify(e.cfg.Verifier); err != nil {
			return nil, fmt.Errorf("state of %q from %s: %w", st.Key, from, err)
		}
		if ev.Key != st.Key || (ev.Op != OpPut && ev.Op != OpDelete) {
			return nil, fmt.Errorf("%w: state of %q from %s holds a %s of %q", ErrInvalidMessage, st.Key, from, ev.Op, ev.Key)
		}
		if !st.Context.Covers(ev.Dot()) {
			return nil, fmt.Errorf("%w: state of %q from %s: context does not cover version %s/%d", ErrInvalidMessage, st.Key, from, ev.Origin, ev.Seq)
		}
		id := ev.ID()
		for _, v := range vs {
			if v.Dot() == ev.Dot() {
				return nil, fmt.Errorf("%w: state of %q from %s holds %s/%d twice", ErrInvalidMessage, st.Key, from, ev.Origin, ev.Seq)
			}
		}
		if err := e.checkNotEquivocating(ev, id); err != nil {
			return nil, fmt.Errorf("state of %q from %s: %w", st.Key, from, err)
		}
		vs = append(vs, Version{Origin: ev.Origin, Seq: ev.Seq, Time: ev.Time, Op: ev.Op, Value: ev.Value, Event: id})
	}
	sortVersions(vs)
	return vs, nil
}

// checkNotEquivocating fails if the log holds a different event with ev's
// origin and seq.
func (e *Engine) checkNotEquivocating(ev *Event, id EventID) error {
	if p, ok := e.pend.dots[ev.Dot()]; ok {
		if p.ID() != id {
			return fmt.Errorf("%w: %s/%d differs from the stored event", ErrEquivocation, ev.Origin, ev.Seq)
		}
		return nil
	}
	have, err := e.store.EventAt(ev.Origin, ev.Seq)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("look up %s/%d: %w", ev.Origin, ev.Seq, err)
	case have.ID() != id:
		return fmt.Errorf("%w: %s/%d differs from the stored event", ErrEquivocation, ev.Origin, ev.Seq)
	}
	return nil
}

// sortVersions puts versions in read order (the winner first).
func sortVersions(vs []Version) {
	slices.SortFunc(vs, func(a, b Version) int {
		switch {
		case a.wins(b):
			return -1
		case b.wins(a):
			return 1
		}
		return 0
	})
}

// mergeState joins a peer's state of one key into ours. theirs is nil for
// a key the peer does not hold (in a range it sent completely); theirVV is
// the peer's version vector when it read its states. It reports whether our
// state changed.
func (e *Engine) mergeState(from PeerID, key string, theirs *StateEntry, theirVV VersionVector) (bool, error) {
	var tv []Version
	var tctx VersionVector
	if theirs != nil {
		var err error
		if tv, err = e.checkEntry(from, theirs); err != nil {
			e.stats.Rejected++
			return false, err
		}
		tctx = theirs.Context
	}
	cur, err := e.keyState(key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	if cur == nil {
		if theirs == nil {
			return false, nil
		}
		cur = &KeyState{Key: key}
	}
	covers := func(ctx, vv VersionVector, d Dot) bool { return ctx.Covers(d) || vv.Covers(d) }
	has := func(vs []Version, d Dot) bool {
		for _, v := range vs {
			if v.Dot() == d {
				return true
			}
		}
		return false
	}
	var merged []Version
	for _, v := range cur.Versions {
		if has(tv, v.Dot()) || !covers(tctx, theirVV, v.Dot()) {
			merged = append(merged, v)
		}
	}
	var added []Version
	for _, v := range tv {
		if !has(cur.Versions, v.Dot()) && !covers(cur.Context, e.vv, v.Dot()) {
			merged = append(merged, v)
			added = append(added, v)
		}
	}
	ctx := cur.Context.Clone()
	if ctx == nil {
		ctx = VersionVector{}
	}
	ctx.Merge(tctx)
	sortVersions(merged)
	next := &KeyState{Key: key, Versions: merged, Context: ctx}
	if next.Equal(cur) {
		return false, nil
	}
	e.collectSuperseded(cur.Versions, next)
	if len(merged) == 0 && dominates(e.vv, ctx) {
		// Nothing left and our vector covers every write the key saw:
		// absent now means deleted, as it does at the peer.
		e.pend.deleteKey(key)
	} else {
		e.pend.setKey(next)
	}
	var last *Event
	for _, v := range added {
		for _, ev := range theirs.Versions {
			if ev.Dot() == v.Dot() {
				e.pend.storeEvent(ev, v.Event)
				e.stats.StateVersionsAdopted++
				e.changes = append(e.changes, Change{Kind: ChangeReceived, Event: ev, Key: key, Peer: from})
				last = ev
			}
		}
	}
	if next.Conflict() && last != nil {
		e.changes = append(e.changes, Change{Kind: ChangeConflict, Event: last, Key: key, State: next.Clone()})
		e.stats.Conflicts++
	}
	e.stats.StatesMerged++
	return true, nil
}

// dominates reports whether a covers every entry of b.
func dominates(a, b VersionVector) bool {
	for o, s := range b {
		if a[o] < s {
			return false
		}
	}
	return true
}
