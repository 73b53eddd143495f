package replica

import (
	"bytes"
	"errors"
	"slices"
	"time"
)

// This file holds dissemination: eager push with acknowledgements for the
// first PushHops hops, then ID-only announcements (PullSync) that receivers
// answer with a PullRequest, so that each node receives an event's payload
// about once. Digest sync (digest.go) closes the gaps loss leaves. With
// Config.ExternalDissemination, new local events go to Ready.Broadcast
// instead and events arrive through Receive (engine.go).

// pushJudge collects the acks of one event's push for the majority check.
type pushJudge struct {
	pushedTo []PeerID
	answered int
	useful   int
	hops     uint32
	deadline time.Time
}

// pullState is an event requested by ID and not yet received.
type pullState struct {
	asked    PeerID
	askedAt  time.Time
	alts     []PeerID
	hops     uint32
	deadline time.Time
}

// sweep is the second wave of an announcement. The first wave tells
// Fanout+PullExtra random peers; each peer is then missed by all of its
// neighbours with probability about e^-(Fanout+PullExtra) (0.7% at the
// defaults), and a missed node waits for digest sync. So once the first
// wave had time to spread (the longest adaptive timeout of its targets),
// the announcer tells every other live peer not known to have the event:
// peers it told, that told it (announce, push, pull) or that asked for it
// are skipped. IDs are 32 bytes and batched per peer, the payload is still
// pulled once, and a node is only missed when every neighbour's
// announcement to it is lost.
type sweep struct {
	hops  uint32
	due   time.Time
	known []PeerID
}

// maxPullAlternates bounds the announcers remembered per pulled event.
const maxPullAlternates = 4

// disseminate schedules the spreading of a newly applied event.
func (e *Engine) disseminate(ev *Event, id EventID, via source, hops uint32, from PeerID) {
	push := uint32(e.cfg.PushHops)
	if e.cfg.ExternalDissemination {
		switch via {
		case viaLocal:
			// The external router spreads new events.
			e.broadcast = append(e.broadcast, ev)
			return
		case viaPush:
			// A peer still pushing (mixed modes): spread it on like an
			// event digest sync brought.
			via = viaSync
		}
	}
	switch via {
	case viaExternal:
		// The router forwards it; nothing for the engine to do.
	case viaLocal:
		if push > 0 {
			e.pushTo(ev, id, 1, nil)
		} else {
			e.announce(id, 1, nil)
		}
	case viaPush:
		exclude := func(p PeerID) bool { return p == from }
		if hops < push {
			e.pushTo(ev, id, hops+1, exclude)
		} else {
			e.announce(id, hops+1, exclude)
		}
	case viaPull:
		pl := e.pulls[id]
		e.announce(id, hops+1, func(p PeerID) bool {
			return p == from || (pl != nil && (p == pl.asked || slices.Contains(pl.alts, p)))
		})
	case viaSync:
		// Events that digest sync brings were missed by the epidemic, or
		// come across a healed partition: announce them so the rest of this
		// side gets them by pull rather than one sync at a time.
		e.announce(id, push+1, func(p PeerID) bool { return p == from })
	}
}

// eagerTargets returns up to n push targets not excluded, from a stable
// set of Fanout+1 peers chosen by the peer-selection strategy and kept for
// as long as they stay alive. Pushing consecutive events along the same
// edges keeps each origin's events in order on every stream (one stream
// per peer, in order), as an eager-push tree does: choosing afresh per
// event scatters a commit group's events over different peers, so
// receivers see gaps, hold events and ask for ranges that are already on
// their way (a storm of gap requests under load).
func (e *Engine) eagerTargets(n int, exclude func(PeerID) bool) []PeerID {
	keep := e.eager[:0]
	for _, p := range e.eager {
		if info, ok := e.peers.m[p]; ok && info.state == PeerAlive {
			keep = append(keep, p)
		}
	}
	e.eager = keep
	if want := e.cfg.Fanout + 1; len(e.eager) < want {
		e.eager = append(e.eager, e.peers.pick(e, want-len(e.eager), func(p PeerID) bool { return slices.Contains(e.eager, p) })...)
	}
	var out []PeerID
	for _, p := range e.eager {
		if len(out) < n && (exclude == nil || !exclude(p)) {
			out = append(out, p)
		}
	}
	if len(out) < n { // excluded members: fill from the rest
		out = append(out, e.peers.pick(e, n-len(out), func(p PeerID) bool {
			return slices.Contains(out, p) || (exclude != nil && exclude(p))
		})...)
	}
	return out
}

// pushTo pushes the event to Fanout peers and arms the majority check.
func (e *Engine) pushTo(ev *Event, id EventID, hops uint32, exclude func(PeerID) bool) {
	targets := e.eagerTargets(e.cfg.Fanout, exclude)
	if len(targets) == 0 {
		return
	}
	for _, p := range targets {
		e.out.addPush(p, hops, ev)
	}
	e.judging[id] = &pushJudge{pushedTo: targets, hops: hops,
		deadline: e.now.Add(e.peers.maxTimeout(targets, e.timeoutFloor(), e.cfg.AckTimeout))}
}

// announce sends the event ID to Fanout+PullExtra peers, unless the hop
// limit (the stop rule) is reached.
func (e *Engine) announce(id EventID, hops uint32, exclude func(PeerID) bool) {
	if hops > uint32(e.cfg.MaxHops) {
		return
	}
	targets := e.peers.pick(e, e.cfg.Fanout+e.cfg.PullExtra, exclude)
	for _, p := range targets {
		e.out.addAnnounce(p, hops, id)
	}
	if len(targets) == 0 {
		return
	}
	if e.sweeps == nil {
		e.sweeps = map[EventID]*sweep{}
	}
	known := slices.Clone(targets)
	for _, p := range e.peers.ids {
		if exclude != nil && exclude(p) {
			known = append(known, p)
		}
	}
	e.sweeps[id] = &sweep{hops: hops, due: e.now.Add(e.peers.maxTimeout(targets, e.timeoutFloor(), e.cfg.PullTimeout)), known: known}
}

// knows records that peer has (or was told of, or is being sent) an event
// this node is about to sweep.
func (e *Engine) knows(id EventID, peer PeerID) {
	if sw := e.sweeps[id]; sw != nil && !slices.Contains(sw.known, peer) {
		sw.known = append(sw.known, peer)
	}
}

// expireSweeps runs the second wave of the announcements that are due.
func (e *Engine) expireSweeps() {
	for _, id := range dueIDs(e.sweeps, e.now, func(sw *sweep) time.Time { return sw.due }) {
		sw := e.sweeps[id]
		delete(e.sweeps, id)
		for _, p := range e.peers.pick(e, len(e.peers.ids), func(p PeerID) bool { return slices.Contains(sw.known, p) }) {
			e.out.addAnnounce(p, sw.hops, id)
			e.stats.Swept++
		}
	}
}

// judge runs the majority check for a pushed event: with fewer useful acks
// than a majority of Fanout, the network around us is saturated or lossy,
// so announce the ID to Fanout+PullExtra other peers.
func (e *Engine) judge(id EventID) {
	j := e.judging[id]
	delete(e.judging, id)
	if j == nil || j.useful >= e.cfg.Fanout/2+1 {
		return
	}
	e.announce(id, j.hops, func(p PeerID) bool { return slices.Contains(j.pushedTo, p) })
}

// onPush accepts pushed events and acknowledges the new ones.
func (e *Engine) onPush(from PeerID, m *Push) error {
	var errs []error
	ack := &PushAck{Nonce: m.Nonce}
	for _, ev := range m.Events {
		isNew, err := e.accept(from, ev, viaPush, m.Hops)
		if err != nil {
			errs = append(errs, err)
		}
		if isNew {
			ack.New = append(ack.New, ev.ID())
		} else {
			e.knows(ev.ID(), from)
		}
	}
	e.out.send(from, ack)
	return errors.Join(errs...)
}

// onPushAck feeds an ack into the majority checks of the pushed events.
func (e *Engine) onPushAck(from PeerID, m *PushAck) {
	ps := e.pushes[m.Nonce]
	if ps == nil || ps.peer != from {
		return
	}
	delete(e.pushes, m.Nonce)
	// The push was sent at its deadline minus AckTimeout (outbox.flush).
	e.peers.observeRTT(from, e.now.Sub(ps.deadline.Add(-e.cfg.AckTimeout)))
	for _, id := range ps.ids {
		j := e.judging[id]
		if j == nil {
			continue
		}
		j.answered++
		if slices.Contains(m.New, id) {
			j.useful++
		}
		if j.answered >= len(j.pushedTo) {
			e.judge(id)
		}
	}
}

// onPullSync pulls the announced events this node lacks, asking one
// announcer at a time.
func (e *Engine) onPullSync(from PeerID, m *PullSync) {
	for _, id := range m.IDs {
		if known, err := e.known(id); err != nil || known {
			e.knows(id, from)
			continue
		}
		if pl := e.pulls[id]; pl != nil {
			if pl.asked != from && len(pl.alts) < maxPullAlternates && !slices.Contains(pl.alts, from) {
				pl.alts = append(pl.alts, from)
			}
			continue
		}
		e.pulls[id] = &pullState{asked: from, askedAt: e.now, hops: m.Hops, deadline: e.now.Add(e.peers.timeout(from, e.timeoutFloor(), e.cfg.PullTimeout))}
		e.out.addPullRequest(from, id)
		e.stats.Pulls++
	}
}

// onPullRequest sends the requested events this node holds.
func (e *Engine) onPullRequest(from PeerID, m *PullRequest) error {
	for _, id := range m.IDs {
		ev, err := e.eventByID(id)
		if err != nil {
			continue // not held (any more): the requester asks someone else
		}
		e.out.addPullResponse(from, ev)
		e.stats.PullsServed++
		e.knows(id, from)
	}
	return nil
}

// onPullResponse accepts pulled events. Unsolicited ones are accepted but
// not spread further.
func (e *Engine) onPullResponse(from PeerID, m *PullResponse) error {
	var errs []error
	for _, ev := range m.Events {
		if ev == nil {
			continue
		}
		id := ev.ID()
		hops := uint32(e.cfg.MaxHops)
		if pl := e.pulls[id]; pl != nil {
			hops = pl.hops
			if pl.asked == from {
				e.peers.observeRTT(from, e.now.Sub(pl.askedAt))
			}
		}
		if _, err := e.accept(from, ev, viaPull, hops); err != nil {
			errs = append(errs, err)
		}
		delete(e.pulls, id)
	}
	return errors.Join(errs...)
}

// expirePushes judges pushes whose acks did not all arrive in time.
func (e *Engine) expirePushes() {
	for _, id := range dueIDs(e.judging, e.now, func(j *pushJudge) time.Time { return j.deadline }) {
		e.stats.AckTimeouts++
		e.judge(id)
	}
	for n, ps := range e.pushes {
		if !e.now.Before(ps.deadline) {
			delete(e.pushes, n)
		}
	}
}

// expirePulls asks the next announcer for pulls that timed out, or gives up
// (digest sync will bring the event), and runs the announce sweeps that
// are due.
func (e *Engine) expirePulls() {
	e.expireSweeps()
	for _, id := range dueIDs(e.pulls, e.now, func(p *pullState) time.Time { return p.deadline }) {
		pl := e.pulls[id]
		if known, err := e.known(id); err != nil || known || len(pl.alts) == 0 {
			if err == nil && !known {
				e.stats.PullsAbandoned++
			}
			delete(e.pulls, id)
			continue
		}
		e.stats.PullRetries++
		pl.asked, pl.alts = pl.alts[0], pl.alts[1:]
		pl.askedAt, pl.deadline = e.now, e.now.Add(e.peers.timeout(pl.asked, e.timeoutFloor(), e.cfg.PullTimeout))
		e.out.addPullRequest(pl.asked, id)
		e.stats.Pulls++
	}
}

// dueIDs returns the IDs whose deadline has passed, sorted so that map
// iteration order never leaks into the engine's outputs.
func dueIDs[T any](m map[EventID]T, now time.Time, deadline func(T) time.Time) []EventID {
	var due []EventID
	for id, v := range m {
		if !now.Before(deadline(v)) {
			due = append(due, id)
		}
	}
	slices.SortFunc(due, func(a, b EventID) int { return bytes.Compare(a[:], b[:]) })
	return due
}
