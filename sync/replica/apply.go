package replica

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/murmur-p2p/murmur/sync/causal"
)

// known reports whether the event is held (stored, pending or buffered),
// consulting the dedup LRU before the store.
func (e *Engine) known(id EventID) (bool, error) {
	if e.seen.Contains(id) {
		return true, nil
	}
	if _, ok := e.pend.ids[id]; ok {
		return true, nil
	}
	if _, ok := e.heldIDs[id]; ok {
		return true, nil
	}
	ok, err := e.store.HasEvent(id)
	if err != nil {
		return false, fmt.Errorf("look up event %s: %w", id, err)
	}
	if ok {
		e.seen.Add(id, viaStore)
	}
	return ok, nil
}

// eventByID returns a stored or pending event.
func (e *Engine) eventByID(id EventID) (*Event, error) {
	if ev, ok := e.pend.ids[id]; ok {
		return ev, nil
	}
	return e.store.Event(id)
}

// keyState returns the current state of key (pending or stored). The result
// must not be modified; use keyForWrite.
func (e *Engine) keyState(key string) (*KeyState, error) {
	if ks, ok := e.pend.key(key); ok {
		if ks == nil {
			return nil, fmt.Errorf("key %q: %w", key, ErrNotFound)
		}
		return ks, nil
	}
	return e.store.KeyState(key)
}

// keyForWrite returns a pending, modifiable state of key.
func (e *Engine) keyForWrite(key string) (*KeyState, error) {
	if ks, ok := e.pend.key(key); ok {
		if ks == nil {
			ks = &KeyState{Key: key}
			e.pend.setKey(ks)
		}
		return ks, nil
	}
	ks, err := e.store.KeyState(key)
	switch {
	case errors.Is(err, ErrNotFound):
		ks = &KeyState{Key: key}
	case err != nil:
		return nil, fmt.Errorf("load key %q: %w", key, err)
	}
	e.pend.setKey(ks)
	return ks, nil
}

// accept takes an event received from a peer. It reports whether the event
// was new to this node. Events that arrive ahead of a missing predecessor
// are held and the gap is requested from the sender.
func (e *Engine) accept(from PeerID, ev *Event, via source, hops uint32) (bool, error) {
	if ev == nil {
		e.stats.Rejected++
		return false, fmt.Errorf("%w: nil event from %s", ErrInvalidEvent, from)
	}
	if ev.Seq > MaxSeq {
		e.stats.Rejected++
		return false, fmt.Errorf("%w: %s/%d from %s is above the seq limit %d", ErrInvalidEvent, ev.Origin, ev.Seq, from, uint64(MaxSeq))
	}
	id := ev.ID()
	have := e.vv[ev.Origin]
	if ev.Seq <= have {
		known, err := e.known(id)
		if err != nil {
			return false, err
		}
		if known || ev.Seq <= e.floor[ev.Origin] {
			// Below the garbage-collection floor the log may lack the
			// event: it was applied and compacted, so it is a duplicate
			// (equivocation cannot be checked there).
			e.stats.Duplicates++
			return false, nil
		}
		if err := ev.Verify(e.cfg.Verifier); err != nil {
			e.stats.Rejected++
			return false, fmt.Errorf("from %s: %w", from, err)
		}
		e.stats.Rejected++
		return false, fmt.Errorf("%w: %s/%d from %s differs from the stored event", ErrEquivocation, ev.Origin, ev.Seq, from)
	}
	// Above the vector the log may hold the event already, as a version a
	// key state received from a peer carried; it is applied (and the
	// vector advanced) all the same.
	if _, ok := e.heldIDs[id]; ok {
		e.stats.Duplicates++
		return false, nil
	}
	if err := ev.Verify(e.cfg.Verifier); err != nil {
		e.stats.Rejected++
		return false, fmt.Errorf("from %s: %w", from, err)
	}
	if !e.admitOrigin(from, ev.Origin) {
		e.stats.Dropped++
		return false, nil
	}
	if ev.Seq > have+1 {
		return e.hold(from, ev, id, via, hops)
	}
	if missing := causal.Unbacked(ev.Context, e.vv); missing != nil {
		// Causal delivery: the context names writes this node does not
		// hold. Wait for them (held, and asked from the sender); a context
		// that claims writes that do not exist never applies.
		e.stats.WaitingCausal++
		return e.hold(from, ev, id, via, hops)
	}
	if err := e.apply(ev, id, via, hops, from); err != nil {
		return false, err
	}
	e.stats.Accepted++
	if err := e.release(ev.Origin); err != nil {
		return true, err
	}
	if ev.Origin == e.id {
		e.checkRecovered()
	}
	return true, e.releaseAll()
}

// hold buffers an event whose predecessor is missing and asks the sender
// (which stores its origin's events without gaps) for the gap.
func (e *Engine) hold(from PeerID, ev *Event, id EventID, via source, hops uint32) (bool, error) {
	byseq := e.held[ev.Origin]
	if prev, ok := byseq[ev.Seq]; ok {
		if prev.id != id {
			e.stats.Rejected++
			return false, fmt.Errorf("%w: %s/%d from %s differs from a held event", ErrEquivocation, ev.Origin, ev.Seq, from)
		}
		return false, nil
	}
	if len(e.heldIDs) >= e.cfg.MaxPendingEvents || len(byseq) >= e.maxHeldPerOrigin() || e.heldBy[from] >= e.maxHeldPerOrigin() {
		e.stats.Dropped++
		return false, nil
	}
	if e.held == nil {
		e.held = map[PeerID]map[uint64]heldEvent{}
		e.heldIDs = map[EventID]struct{}{}
		e.heldSince = map[PeerID]time.Time{}
	}
	if byseq == nil {
		byseq = map[uint64]heldEvent{}
		e.held[ev.Origin] = byseq
		e.heldSince[ev.Origin] = e.now
	}
	byseq[ev.Seq] = heldEvent{ev: ev, id: id, via: via, hops: hops, from: from, at: e.now}
	e.heldIDs[id] = struct{}{}
	e.heldBy[from]++
	e.stats.Buffered++
	missing := causal.Unbacked(ev.Context, e.vv)
	if ev.Seq > e.vv[ev.Origin]+1 {
		if missing == nil {
			missing = VersionVector{}
		}
		missing.Raise(ev.Origin, ev.Seq-1)
	}
	e.requestMissing(from, missing)
	return true, nil
}

// heldExpiryPullTimeouts is how many PullTimeouts the held events of an
// origin wait for their gap without progress before they are dropped
// (digest sync fetches them again later, in order).
const heldExpiryPullTimeouts = 4

// maxHeldPerOrigin caps the held events of one origin: an eighth of
// MaxPendingEvents (at least 1), so one origin whose gap never fills
// cannot take the whole buffer.
func (e *Engine) maxHeldPerOrigin() int { return max(1, e.cfg.MaxPendingEvents/8) }

// expireHeld drops held events that have waited heldExpiryPullTimeouts
// PullTimeouts (engine time) for their gap: the gap was requested when the
// first of them arrived, so it will not fill by that request.
func (e *Engine) expireHeld() {
	ttl := heldExpiryPullTimeouts * e.cfg.PullTimeout
	for o, since := range e.heldSince {
		if e.now.Sub(since) < ttl {
			continue
		}
		oldest := e.now
		for s, h := range e.held[o] {
			if e.now.Sub(h.at) >= ttl {
				e.unhold(o, s, h)
				e.stats.HeldExpired++
			} else if h.at.Before(oldest) {
				oldest = h.at
			}
		}
		if len(e.held[o]) > 0 {
			e.heldSince[o] = oldest
			continue
		}
		delete(e.held, o)
		delete(e.heldSince, o)
		delete(e.gapAsked, o)
	}
}

// unhold forgets the held event h of origin at seq.
func (e *Engine) unhold(origin PeerID, seq uint64, h heldEvent) {
	delete(e.held[origin], seq)
	delete(e.heldIDs, h.id)
	if e.heldBy[h.from]--; e.heldBy[h.from] <= 0 {
		delete(e.heldBy, h.from)
	}
}

// release applies held events of origin that have become contiguous and
// whose contexts are backed.
func (e *Engine) release(origin PeerID) error {
	byseq := e.held[origin]
	for len(byseq) > 0 {
		h, ok := byseq[e.vv[origin]+1]
		if !ok || !causal.Backed(h.ev.Context, e.vv) {
			return nil
		}
		e.unhold(origin, h.ev.Seq, h)
		if err := e.apply(h.ev, h.id, h.via, h.hops, h.from); err != nil {
			return err
		}
		e.stats.Accepted++
	}
	delete(e.held, origin)
	delete(e.heldSince, origin)
	delete(e.gapAsked, origin)
	return nil
}

// apply adds the next event of its origin to the pending writes, updates
// the key state, reports changes and schedules dissemination.
func (e *Engine) apply(ev *Event, id EventID, via source, hops uint32, from PeerID) error {
	var ks *KeyState
	if ev.Op != OpApp {
		var err error
		if ks, err = e.keyForWrite(ev.Key); err != nil {
			return err
		}
	}
	e.pend.addEvent(ev, id)
	old := e.vv[ev.Origin]
	e.vv[ev.Origin] = ev.Seq
	e.digest.Update(ev.Origin, old, ev.Seq)
	e.seen.Add(id, via)
	if via != viaLocal {
		e.clock.Update(ev.Time, e.nowNanos())
	}
	kind := ChangeReceived
	if via == viaLocal {
		kind = ChangeCreated
	}
	// A write that a key state from a peer already brought was reported
	// then (mergeState); applying its event only advances the vector.
	if ks == nil || !ks.holds(id) {
		e.changes = append(e.changes, Change{Kind: kind, Event: ev, Key: ev.Key, Via: via.delivery(), Peer: from})
	}
	var before []Version
	if ks != nil {
		before = slices.Clone(ks.Versions)
	}
	if ks != nil && ks.Apply(ev, id) && ks.Conflict() {
		e.changes = append(e.changes, Change{Kind: ChangeConflict, Event: ev, Key: ev.Key, State: ks.Clone()})
		e.stats.Conflicts++
	}
	if ks != nil {
		e.collectSuperseded(before, ks)
	}
	e.disseminate(ev, id, via, hops, from)
	return nil
}

// collectSuperseded deletes the events of versions in before that ks no
// longer holds, if they are at or below the garbage-collection floor:
// every known node applied them when the floor passed them (gc.go), so
// once superseded nothing needs them.
func (e *Engine) collectSuperseded(before []Version, ks *KeyState) {
	for _, v := range before {
		if v.Seq <= e.floor[v.Origin] && !ks.holds(v.Event) {
			e.deleteEvent(v.Event)
		}
	}
}

// collectEvents gathers the events of the ranges within the message limits.
// more reports that some were left out.
//
// Ranges that start at or below the garbage-collection floor of their
// origin are served from above the floor, and compacted reports that floor:
// the requester catches up by state for what lies below.
func (e *Engine) collectEvents(ranges []SeqRange) (evs []*Event, more bool, compacted VersionVector, err error) {
	budget := e.cfg.MaxMessageSize - messageOverhead - 16*len(ranges)
	size := 0
	full := func(ev *Event) bool {
		s := bytesSize(ev.Size())
		if len(evs) >= e.cfg.MaxEventsPerMessage || size+s > budget {
			more = true
			return true
		}
		evs = append(evs, ev)
		size += s
		return false
	}
	for _, r := range ranges {
		if f := e.floor[r.Origin]; f > 0 && r.From <= f {
			if compacted == nil {
				compacted = VersionVector{}
			}
			compacted[r.Origin] = f
			r.From = f + 1
		}
		top := min(r.To, e.vv[r.Origin])
		if r.From == 0 || r.From > top {
			continue
		}
		next := r.From
		err = e.store.ScanEvents(r.Origin, r.From, top, func(ev *Event) bool {
			if full(ev) {
				return false
			}
			next = ev.Seq + 1
			return true
		})
		if err != nil {
			return nil, false, nil, fmt.Errorf("scan events of %s: %w", r.Origin, err)
		}
		// The rest of the range is in the pending writes.
		for ; !more && next <= top; next++ {
			ev, ok := e.pend.dots[Dot{Origin: r.Origin, Seq: next}]
			if !ok {
				break
			}
			full(ev)
		}
		if more {
			return evs, true, compacted, nil
		}
	}
	return evs, false, compacted, nil
}
