package replica

import (
	"slices"
	"time"

	"github.com/murmur-p2p/murmur/sync/causal"
)

// This file holds the evidence rules of the trust model (doc.go, "Trust
// model"): what a peer says is a claim. An event is applied only when its
// context is backed by events the node holds (causal delivery); a state
// entry is adopted only under the same rule; vectors, floors and Compacted
// reports are hints that make the node ask, and a catch-up raises the
// vector only as far as signed events, or a second peer, back it. New
// origins are admitted within a per-peer and a total quota.

// forgetPeer drops what the engine keeps per peer besides its table entry.
func (e *Engine) forgetPeer(id PeerID) {
	delete(e.peerVV, id)
	delete(e.peerVVAt, id)
	delete(e.aeResp, id)
	delete(e.introduced, id)
	delete(e.snapServes, id)
}

// knownOrigin reports whether the node tracks origin already: it is the
// node itself, or the vector or the held buffer has it.
func (e *Engine) knownOrigin(o PeerID) bool {
	if o == e.id || e.vv[o] > 0 {
		return true
	}
	_, held := e.held[o]
	return held
}

// admitOrigin decides whether an event (or state version) of origin that
// from relayed may be taken in: a known origin always; a new one only
// within MaxOrigins in total and MaxOriginsPerPeer introduced by from, so
// a flood of throwaway origins uses up the flooder's quota, not the node.
func (e *Engine) admitOrigin(from, origin PeerID) bool {
	if e.knownOrigin(origin) {
		return true
	}
	if len(e.vv)+len(e.held) >= e.cfg.MaxOrigins || e.introduced[from] >= e.cfg.MaxOriginsPerPeer {
		e.stats.OriginsRefused++
		return false
	}
	e.introduced[from]++
	return true
}

// requestMissing asks from for the events ctx names that the node does not
// hold, at most once per PullTimeout per origin.
func (e *Engine) requestMissing(from PeerID, missing VersionVector) {
	if e.snap != nil {
		return
	}
	if e.gapAsked == nil {
		e.gapAsked = map[PeerID]time.Time{}
	}
	var req []SeqRange
	for _, o := range missing.Origins() {
		if last, ok := e.gapAsked[o]; ok && e.now.Sub(last) < e.cfg.PullTimeout {
			continue
		}
		e.gapAsked[o] = e.now
		req = append(req, SeqRange{Origin: o, From: e.vv[o] + 1, To: min(missing[o], MaxSeq)})
		if len(req) >= e.maxIDs() {
			break
		}
	}
	if len(req) > 0 {
		e.out.send(from, &SyncExchange{Request: req})
	}
}

// releaseAll applies held events of every origin that have become
// applicable (contiguous and backed), until none is.
func (e *Engine) releaseAll() error {
	for progress := true; progress && len(e.held) > 0; {
		progress = false
		origins := make([]PeerID, 0, len(e.held))
		for o := range e.held {
			origins = append(origins, o)
		}
		slices.Sort(origins)
		for _, o := range origins {
			before := e.vv[o]
			if err := e.release(o); err != nil {
				return err
			}
			progress = progress || e.vv[o] > before
		}
	}
	e.checkRecovered()
	return nil
}

// heldMax returns the highest seq of origin's held events (0 if none).
func (e *Engine) heldMax(o PeerID) uint64 {
	var m uint64
	for s := range e.held[o] {
		m = max(m, s)
	}
	return m
}

// capRaise returns the part of a catch-up peer's vector v that the node may
// raise its own vector to (raiseCapped): per origin, no higher than v claims and no
// higher than what is evidenced, either by a signed event of that origin
// (evidence: versions received in the session; a held event at s shows
// s-1 exists) or by another peer's learned vector. So one lying peer
// cannot make the node treat writes that do not exist as known. The
// node's own origin is raised only while it recovers its sequence
// (Config.ResumeIdentity), and only to its own signed events.
func (e *Engine) capRaise(from PeerID, v, evidence VersionVector) VersionVector {
	out := VersionVector{}
	for _, o := range v.Origins() {
		claim := v[o]
		if claim > MaxSeq || claim <= e.vv[o] {
			continue
		}
		var t uint64
		ev := evidence[o]
		if h := e.heldMax(o); h > 0 {
			ev = max(ev, h-1)
		}
		if o == e.id {
			if !e.recovering {
				continue
			}
			t = min(claim, ev)
		} else {
			for p, pv := range e.peerVV {
				if p != from {
					ev = max(ev, min(claim, pv[o]))
				}
			}
			t = min(claim, ev)
		}
		if t > e.vv[o] {
			out[o] = t
		}
	}
	return out
}

// gatherEvidence raises evidence to the seqs of the signed versions in
// states that verified (checked[i] non-nil).
func gatherEvidence(evidence VersionVector, states []*StateEntry, checked [][]Version) {
	for i, vs := range checked {
		if vs == nil {
			continue
		}
		for _, ev := range states[i].Versions {
			evidence.Raise(ev.Origin, ev.Seq)
		}
	}
}

// backingFor is what state merges check contexts against: the node's
// vector, joined during a catch-up with the part of the peer's vector the
// evidence backs.
func (e *Engine) backingFor(from PeerID, catchUp bool, v, evidence VersionVector) VersionVector {
	if !catchUp {
		return e.vv
	}
	return causal.Join(e.vv, e.capRaise(from, v, evidence))
}

// raiseCapped raises the vector after a catch-up from peer from with the
// peer's claimed vector v, as far as capRaise allows and no higher than
// deferred (per origin, below the versions the session did not adopt).
func (e *Engine) raiseCapped(from PeerID, v, evidence, deferred VersionVector) {
	capped := e.capRaise(from, v, evidence)
	for o, c := range deferred {
		if t, ok := capped[o]; ok && t > c {
			if c > e.vv[o] {
				capped[o] = c
			} else {
				delete(capped, o)
			}
		}
	}
	for _, o := range v.Origins() {
		if v[o] > e.vv[o] && capped[o] < v[o] && (o != e.id || e.recovering) {
			e.stats.RaisesCapped++
			break
		}
	}
	e.raiseTo(capped)
}
