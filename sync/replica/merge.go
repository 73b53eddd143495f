package replica

import (
	"errors"
	"fmt"
	"slices"

	"github.com/murmur-p2p/murmur/sync/causal"
)

// This file merges key states received from peers (anti-entropy and
// snapshots) by the causality rules of sync/causal: the join of two dotted
// version vector sets by evidence (causal.JoinPlan). One of our versions
// is removed only when one of the peer's versions, a signed write, has a
// context that covers it; one of theirs is added unless our own knowledge
// (the key's context, or our version vector: we applied every write it
// covers) covers it. The peer's claimed key context and vector play no
// part: the merged context is ours joined with the dots and contexts of
// the peer's signed versions. A key the peer does not hold changes
// nothing (absence is not evidence).
//
// Trust model (doc.go): every version arrives as its origin's signed
// event, which is verified, must be a put or delete of the same key, must
// be covered by the entry's context, and must not contradict an event of
// the same origin and seq in the local log (equivocation). A version whose
// context is not backed by what this node holds is deferred (not adopted:
// the events it depends on come by digest sync first), so a context can
// never claim writes that do not exist. Entries are bounded
// (MaxContextEntries, MaxStateVersions), so a peer cannot make the node
// spend more than a message's worth of memory.

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

// checkStates verifies the entries of a peer's message; checked[i] holds
// entry i's versions in read order, nil (with the error) when it is bad.
func (e *Engine) checkStates(from PeerID, states []*StateEntry) (checked [][]Version, errs []error) {
	checked = make([][]Version, len(states))
	for i, st := range states {
		vs, err := e.checkEntry(from, st)
		if err != nil {
			e.stats.Rejected++
			errs = append(errs, err)
			continue
		}
		if vs == nil {
			vs = []Version{}
		}
		checked[i] = vs
	}
	return checked, errs
}

// mergeState joins a peer's checked state of one key (tv: its versions
// from checkEntry) into ours. Versions whose contexts have does not cover
// are deferred; when deferred is not nil it records, per origin, the
// highest seq below every deferred version (a catch-up must not raise
// the vector over a version it did not adopt). It reports whether our
// state changed.
func (e *Engine) mergeState(from PeerID, theirs *StateEntry, tv []Version, have, deferred VersionVector) (bool, error) {
	key := theirs.Key
	cur, err := e.keyState(key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	if cur == nil {
		cur = &KeyState{Key: key}
	}
	byDot := make(map[Dot]*Event, len(theirs.Versions))
	for _, ev := range theirs.Versions {
		byDot[ev.Dot()] = ev
	}
	var admitted []Version
	var writes []causal.Write
	for _, v := range tv {
		ev := byDot[v.Dot()]
		if !causal.Backed(ev.Context, have) || !e.admitOrigin(from, v.Origin) {
			e.stats.StatesDeferred++
			if deferred != nil {
				if c, ok := deferred[v.Origin]; !ok || v.Seq-1 < c {
					deferred[v.Origin] = v.Seq - 1
				}
			}
			continue
		}
		admitted = append(admitted, v)
		writes = append(writes, ev.write())
	}
	ours := make([]Dot, len(cur.Versions))
	for i, v := range cur.Versions {
		ours[i] = v.Dot()
	}
	keep, add := causal.JoinPlan(ours, cur.Context, writes)
	var merged []Version
	removed := 0
	for i, v := range cur.Versions {
		if keep[i] {
			merged = append(merged, v)
		} else {
			removed++
		}
	}
	var added []Version
	for j, v := range admitted {
		// Our vector covering a write of a key we hold no state of means
		// the key was collected here (deleted): no resurrection. For a
		// key we hold, only its context says the write was seen (a
		// catch-up raise may have skipped it).
		if add[j] && (len(cur.Versions) > 0 || len(cur.Context) > 0 || !e.vv.Covers(v.Dot())) {
			merged = append(merged, v)
			added = append(added, v)
		}
	}
	sortVersions(merged)
	next := &KeyState{Key: key, Versions: merged, Context: causal.JoinContext(cur.Context, writes)}
	if next.Equal(cur) {
		return false, nil
	}
	e.collectSuperseded(cur.Versions, next)
	if len(merged) == 0 && e.vv.Dominates(next.Context) {
		// Nothing left and our vector covers every write the key saw: as
		// absent as a key garbage collection removed (the peer's copy has
		// not been collected yet).
		e.pend.deleteKey(key)
	} else {
		e.pend.setKey(next)
	}
	var last *Event
	for _, v := range added {
		ev := byDot[v.Dot()]
		e.pend.storeEvent(ev, v.Event)
		e.stats.StateVersionsAdopted++
		e.changes = append(e.changes, Change{Kind: ChangeReceived, Event: ev, Key: key, Peer: from})
		last = ev
	}
	if removed > 0 {
		e.stats.VersionsRemoved += uint64(removed)
		e.changes = append(e.changes, Change{Kind: ChangeRemoved, Key: key, Peer: from, State: next.Clone()})
	}
	if next.Conflict() && last != nil {
		e.changes = append(e.changes, Change{Kind: ChangeConflict, Event: last, Key: key, State: next.Clone()})
		e.stats.Conflicts++
	}
	e.stats.StatesMerged++
	return true, nil
}
