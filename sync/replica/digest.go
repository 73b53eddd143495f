package replica

import (
	"errors"
	"fmt"
	"time"
)

// This file holds digest sync, the periodic exchange that repairs what
// dissemination missed. The initiator A sends its root digest (SyncRoot);
// B answers Match, or with its version vector (SyncDigest). A then sends the
// events B lacks with a request for the ranges A lacks (SyncExchange), and B
// answers with those events (SyncEvents): the Dart seed's
// digest -> events + request -> events, behind a one-hash short cut.

// snapshotMinEvents: an empty node whose peer holds more than this many
// messages' worth of events (MaxEventsPerMessage each) pulls a snapshot
// instead of the events.
const snapshotMinEvents = 10

// syncState is a digest sync this engine started.
type syncState struct {
	peer     PeerID
	sent     int
	started  time.Time
	deadline time.Time
	// want holds the origins this sync requested (SyncExchange.Request):
	// while it is open no other sync requests them, so a node catching up
	// from several peers does not fetch the same range from each.
	want map[PeerID]struct{}
}

// syncOpen reports whether a digest sync this engine started with peer is
// still open.
func (e *Engine) syncOpen(peer PeerID) bool {
	for _, st := range e.syncs {
		if st.peer == peer {
			return true
		}
	}
	return false
}

// wanted reports whether an open digest sync other than nonce requests
// origin o.
func (e *Engine) wanted(o PeerID, nonce uint64) bool {
	for n, st := range e.syncs {
		if _, ok := st.want[o]; ok && n != nonce {
			return true
		}
	}
	return false
}

// startSync opens a digest sync with peer, or with a peer chosen by the
// selection strategy (occasionally a failed one, to notice recoveries).
func (e *Engine) startSync(peer PeerID) {
	if peer == "" {
		if e.cfg.ProbeFailed > 0 && e.rnd.Float64() < e.cfg.ProbeFailed {
			peer, _ = e.peers.pickFailed(e)
		}
		if peer == "" {
			if p := e.peers.pick(e, 1, nil); len(p) > 0 {
				peer = p[0]
			} else if p, ok := e.peers.pickFailed(e); ok {
				peer = p
			}
		}
		if peer == "" {
			return
		}
	}
	if e.syncOpen(peer) {
		// One digest sync per peer at a time: a continuation (More) or
		// the periodic sync waits for the open one to end or time out,
		// so catch-up proceeds one message per round trip instead of
		// multiplying chains that all carry the same events.
		return
	}
	n := e.nextNonce()
	e.syncs[n] = &syncState{peer: peer, started: e.now, deadline: e.now.Add(e.cfg.SuspectTimeout)}
	e.out.send(peer, &SyncRoot{Nonce: n, Root: e.digest})
	e.stats.SyncRounds++
}

// endSync forgets a digest sync this engine started and records how long it
// took (engine time, from SyncRoot sent until it ended or timed out).
func (e *Engine) endSync(nonce uint64) {
	if st, ok := e.syncs[nonce]; ok {
		e.stats.SyncDurations.observe(e.now.Sub(st.started))
		delete(e.syncs, nonce)
	}
}

// expireSyncs forgets syncs that were not answered in time.
func (e *Engine) expireSyncs() {
	for n, s := range e.syncs {
		if !e.now.Before(s.deadline) {
			e.endSync(n)
			e.stats.SyncTimeouts++
		}
	}
}

// onSyncRoot answers a root digest: Match, or our version vector.
func (e *Engine) onSyncRoot(from PeerID, m *SyncRoot) {
	if m.Root == e.digest {
		e.out.send(from, &SyncDigest{Nonce: m.Nonce, Match: true})
		return
	}
	e.out.send(from, &SyncDigest{Nonce: m.Nonce, VersionVector: e.vv.Clone()})
}

// onSyncDigest compares the peer's version vector with ours and sends the
// events it lacks plus a request for what we lack.
func (e *Engine) onSyncDigest(from PeerID, m *SyncDigest) error {
	st := e.syncs[m.Nonce]
	if st == nil || st.peer != from {
		return nil // not ours, or expired
	}
	if m.Match {
		e.learnPeerVV(from, e.vv.Clone())
		e.noteOwnClaim(e.vv[e.id])
		e.endSync(m.Nonce)
		e.stats.SyncMatches++
		e.changes = append(e.changes, Change{Kind: ChangeExchange, Peer: from, Exchange: &ExchangeResult{Match: true}})
		return nil
	}
	theirs := m.VersionVector
	if err := checkVectorEntries(from, theirs); err != nil {
		e.endSync(m.Nonce)
		return fmt.Errorf("sync digest: %w", err)
	}
	e.learnPeerVV(from, theirs.Clone())
	e.noteOwnClaim(theirs[e.id])
	if e.empty() && theirs.Total() > snapshotMinEvents*uint64(e.cfg.MaxEventsPerMessage) {
		// A new empty node takes a long history by snapshot rather than
		// event by event (it then raises its vector to the peer's); a
		// short one is cheaper as events, and keeps application events.
		e.endSync(m.Nonce)
		e.startSnapshot(from)
		return nil
	}
	var give, want []SeqRange
	for _, o := range e.vv.Origins() {
		if mine, t := e.vv[o], theirs[o]; mine > t {
			give = append(give, SeqRange{Origin: o, From: t + 1, To: mine})
		}
	}
	for _, o := range theirs.Origins() {
		if t, mine := theirs[o], e.vv[o]; t > mine && len(want) < e.maxIDs() && e.snap == nil && !e.wanted(o, m.Nonce) {
			want = append(want, SeqRange{Origin: o, From: mine + 1, To: t})
		}
	}
	if len(want) > 0 {
		st.want = make(map[PeerID]struct{}, len(want))
		for _, r := range want {
			st.want[r.Origin] = struct{}{}
		}
	}
	evs, more, compacted, err := e.collectEvents(give)
	if err != nil {
		return err
	}
	st.sent = len(evs)
	e.out.send(from, &SyncExchange{Nonce: m.Nonce, Events: evs, Request: want, More: more, Compacted: compacted})
	if len(want) == 0 {
		e.endSync(m.Nonce)
		e.changes = append(e.changes, Change{Kind: ChangeExchange, Peer: from, Exchange: &ExchangeResult{Sent: len(evs)}})
	}
	return nil
}

// learnPeerVV records a peer's vector (a hint for garbage collection and
// catch-up) and when it last advanced.
func (e *Engine) learnPeerVV(from PeerID, v VersionVector) {
	if old, ok := e.peerVV[from]; !ok || !old.Dominates(v) {
		e.peerVVAt[from] = e.now
	}
	e.peerVV[from] = v
}

// onSyncExchange accepts the events and answers the request. It also serves
// gap requests (Nonce 0, no events) from peers that hold out-of-order events.
// Its Compacted field is not acted on: the exchange is not a reply to a
// sync this engine started (see onCompacted).
func (e *Engine) onSyncExchange(from PeerID, m *SyncExchange) error {
	var errs []error
	if len(m.Compacted) > 0 {
		e.stats.CompactedIgnored++
	}
	received := 0
	for _, ev := range m.Events {
		isNew, err := e.accept(from, ev, viaSync, 0)
		if err != nil {
			errs = append(errs, err)
		}
		if isNew {
			received++
		}
	}
	if len(m.Request) > 0 {
		for _, r := range m.Request {
			if len(r.Origin) == 0 || len(r.Origin) > MaxPeerIDSize || r.From > r.To {
				errs = append(errs, fmt.Errorf("%w: sync request from %s has a bad range %s/%d-%d", ErrInvalidMessage, from, r.Origin, r.From, r.To))
				return errors.Join(errs...)
			}
		}
		evs, more, compacted, err := e.collectEvents(m.Request)
		if err != nil {
			errs = append(errs, err)
		} else {
			e.out.send(from, &SyncEvents{Nonce: m.Nonce, Events: evs, More: more, Compacted: compacted})
		}
	}
	if m.More && received > 0 && len(m.Compacted) == 0 {
		// The initiator had more for us: fetch it with a sync of our own,
		// unless these events brought nothing new (then the next one
		// would repeat them; see onSyncEvents).
		e.startSync(from)
	}
	return errors.Join(errs...)
}

// onSyncEvents accepts the events answering our request.
func (e *Engine) onSyncEvents(from PeerID, m *SyncEvents) error {
	var errs []error
	if err := e.onCompacted(from, m.Nonce, m.Compacted); err != nil {
		return err
	}
	received := 0
	for _, ev := range m.Events {
		isNew, err := e.accept(from, ev, viaSync, 0)
		if err != nil {
			errs = append(errs, err)
		}
		if isNew {
			received++
		}
	}
	st := e.syncs[m.Nonce]
	ours := st != nil && st.peer == from && m.Nonce != 0
	if ours {
		e.endSync(m.Nonce)
		e.changes = append(e.changes, Change{Kind: ChangeExchange, Peer: from, Exchange: &ExchangeResult{Sent: st.sent, Received: received}})
	}
	if m.More && (ours || m.Nonce == 0) && received > 0 && len(m.Compacted) == 0 {
		// Only the answer to an open sync of ours (or to a gap request)
		// continues: a late answer to a sync that timed out was already
		// replaced, and continuing it too would start a second chain. An
		// answer that brought nothing new (say the peer collected our gap
		// and serves events above its floor that we can only hold:
		// Compacted) would repeat itself every round trip: the periodic
		// sync and the catch-up by state take over instead.
		e.startSync(from)
	}
	return errors.Join(errs...)
}

// onCompacted reacts to a peer's report that events we need are below its
// garbage-collection floor: we catch up by state from that peer (an
// anti-entropy session that raises our vector when it completes). Only a
// reply to a digest sync this engine started with that peer (its nonce is
// in e.syncs) counts: an unsolicited report would let any peer start a
// catch-up session, whose end raises our vector to what the peer claims.
// Our own origin never needs catching up.
func (e *Engine) onCompacted(from PeerID, nonce uint64, compacted VersionVector) error {
	if len(compacted) == 0 {
		return nil
	}
	if st := e.syncs[nonce]; nonce == 0 || st == nil || st.peer != from {
		e.stats.CompactedIgnored++
		return nil
	}
	if err := checkVector(from, compacted); err != nil {
		return err
	}
	if !e.lastCatchUp.IsZero() && e.now.Sub(e.lastCatchUp) < e.cfg.AntiEntropyInterval {
		// A catch-up ran recently: its raise stopped where the evidence
		// did, so asking again at once would only repeat it.
		return nil
	}
	for o, f := range compacted {
		if (o != e.id || e.recovering) && f > e.vv[o] {
			e.stats.CompactedSeen++
			e.lastCatchUp = e.now
			if e.empty() {
				e.startSnapshot(from)
			} else {
				e.startAE(from, true)
			}
			return nil
		}
	}
	return nil
}
