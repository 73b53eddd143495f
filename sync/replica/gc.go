package replica

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/murmur-p2p/murmur/sync/causal"
)

// This file holds garbage collection of the log and of tombstones. See
// doc.go ("Garbage collection and catch-up") for the safety rule and the
// invariants.

// floorMeta is the store metadata name of the garbage-collection floor.
const floorMeta = "gc-floor"

// gcBudget caps the events one collection examines, so a round costs a
// bounded amount of work; the next round continues where it stopped.
const gcBudget = 4096

// collectGarbage deletes, below the safe vector, the events no key state
// needs and the keys whose state is only tombstones every known peer has.
func (e *Engine) collectGarbage() {
	if !e.pend.empty() {
		return // runs between batches only
	}
	safe, ok := e.safeVector()
	if !ok {
		return
	}
	budget := gcBudget
	deleted := map[string]bool{}
	changed := false
	for _, o := range safe.Origins() {
		// The head (the origin's latest event) is never collected: it is
		// the signed evidence that the origin reached its seq, which a
		// catch-up needs to raise its vector (capRaise) and a node that
		// lost its store needs to recover its own sequence.
		from, to := e.floor[o]+1, min(safe[o], e.vv[o]-1)
		if from > to || budget == 0 {
			continue
		}
		last := from - 1
		err := e.store.ScanEvents(o, from, to, func(ev *Event) bool {
			if budget == 0 {
				return false
			}
			budget--
			last = ev.Seq
			e.collectEvent(ev, safe, deleted)
			return true
		})
		if err != nil {
			log.Errorf("garbage collection of %s: %v", o, err)
			continue
		}
		if budget > 0 {
			last = to
		}
		if last > e.floor[o] {
			if e.floor == nil {
				e.floor = VersionVector{}
			}
			e.floor[o] = last
			changed = true
		}
	}
	if changed {
		e.saveFloor()
	}
}

// safeVector is the pointwise minimum of our vector and the last learned
// vector of every peer in the table, failed ones included (a peer leaves
// the table after PeerForgetTimeout of silence): the writes every known
// node has applied. ok is false while some peer's vector is not known yet.
// Vectors are a peer's claims, so one that lags ours without advancing
// for GCStallTimeout (a peer that reports an empty vector forever, or one
// gone quiet) no longer holds collection back: a liar delays collection,
// never stops it; an honest straggler catches up by state.
func (e *Engine) safeVector() (VersionVector, bool) {
	var others []VersionVector
	for _, id := range e.peers.ids {
		pv, ok := e.peerVV[id]
		stalled := false
		if at, seen := e.peerVVAt[id]; seen || !ok {
			if !seen {
				at = e.peers.m[id].lastHeard
			}
			stalled = e.now.Sub(at) >= e.cfg.GCStallTimeout && (!ok || !pv.Dominates(e.vv))
		}
		if stalled {
			e.stats.GCPeersStalled++
			continue
		}
		if !ok {
			return nil, false
		}
		others = append(others, pv)
	}
	return causal.SafeVector(e.vv, others), true
}

// collectEvent deletes ev if nothing needs it below the safe vector: an
// application event, a write no key state holds as a version any more, or
// a version of a key whose state is only tombstones covered by safe (the
// key goes too).
func (e *Engine) collectEvent(ev *Event, safe VersionVector, deleted map[string]bool) {
	id := ev.ID()
	if ev.Op == OpApp {
		e.deleteEvent(id)
		return
	}
	if deleted[ev.Key] {
		e.deleteEvent(id)
		return
	}
	ks, err := e.keyState(ev.Key)
	if errors.Is(err, ErrNotFound) {
		e.deleteEvent(id)
		return
	}
	if err != nil {
		log.Errorf("garbage collection: %v", err)
		return
	}
	if !ks.holds(id) {
		e.deleteEvent(id)
		return
	}
	for _, v := range ks.Versions {
		// A tombstone is the evidence that a delete superseded older
		// values: a node that was away keeps them until it sees it (an
		// absent key proves nothing, merge.go). So it is kept for
		// TombstoneTTL of engine time.
		if !v.Tombstone() || e.nowNanos()-v.Time.Wall < int64(e.cfg.TombstoneTTL) {
			return
		}
	}
	if !dominates(safe, ks.Context) {
		return
	}
	// Every known node has applied every write to the key, and they all
	// ended in tombstones: the key's absence now says the same (merge.go).
	for _, v := range ks.Versions {
		e.deleteEvent(v.Event)
	}
	e.pend.deleteKey(ev.Key)
	deleted[ev.Key] = true
	e.stats.GCKeys++
}

// deleteEvent schedules the removal of an event from the log.
func (e *Engine) deleteEvent(id EventID) {
	e.pend.delEvents = append(e.pend.delEvents, id)
	e.stats.GCEvents++
}

// saveFloor persists the garbage-collection floor with the next batch.
func (e *Engine) saveFloor() { e.pend.setMeta(floorMeta, encodeVector(e.floor)) }

// Floor returns the garbage-collection floor: per origin, the seq at or
// below which the log may lack events.
func (e *Engine) Floor() VersionVector { return e.floor.Clone() }

// encodeVector encodes a vector as a uvarint count and (uvarint-prefixed
// origin, uvarint seq) pairs sorted by origin.
func encodeVector(v VersionVector) []byte {
	origins := v.Origins()
	b := binary.AppendUvarint(nil, uint64(len(origins)))
	for _, o := range origins {
		b = appendBytes(b, []byte(o))
		b = binary.AppendUvarint(b, v[o])
	}
	return b
}

// decodeVector decodes encodeVector's output.
func decodeVector(b []byte) (VersionVector, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("vector count truncated")
	}
	b = b[k:]
	v := make(VersionVector, n)
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, fmt.Errorf("vector origin %d truncated", i)
		}
		o := PeerID(b[k : k+int(l)])
		b = b[k+int(l):]
		s, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, fmt.Errorf("vector seq %d truncated", i)
		}
		b = b[k:]
		v[o] = s
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(b))
	}
	return v, nil
}
