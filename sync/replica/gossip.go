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
	// told are the peers that acknowledged it or were announced to.
	told     []PeerID
	answered int
	useful   int
	hops     uint32
	deadline time.Time
}

// pullState is an event requested by ID and not yet received.
type pullState struct {
	// waiting: announced but not yet requested, giving the tree one pull
	// timeout to deliver it first.
	waiting  bool
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
		e.spread(ev, id, 1, "", nil, len(e.treeTargets("")) == 0)
	case viaPush:
		// The edge it came by is a tree edge (Plumtree: eager), in both
		// directions: the sender keeps us while our acks say new. Not if
		// this node pruned the sender moments ago: the push was in flight
		// when the prune went out, and taking the edge back would undo it.
		cold := len(e.treeTargets("")) == 0
		if at, ok := e.pruned[from]; !ok || e.now.Sub(at) >= pruneGrace*e.cfg.AckTimeout {
			e.graftPeer(from)
		}
		e.spread(ev, id, hops+1, from, nil, cold)
	case viaPull:
		if e.cfg.ExternalDissemination {
			// The router spreads; announce, as for digest sync.
			e.announce(id, hops+1, func(p PeerID) bool { return p == from }, true)
			return
		}
		// A pull follows an announcement the tree did not beat: the pull
		// request grafted the announcer (onPullSync, expirePulls), and the
		// subtree below this node most likely lacks the event too.
		pl := e.pulls[id]
		e.spread(ev, id, hops+1, from, func(p PeerID) bool {
			return pl != nil && (p == pl.asked || slices.Contains(pl.alts, p))
		}, false)
	case viaSync:
		// Events that digest sync brings were missed by the epidemic, or
		// come across a healed partition: announce them so the rest of this
		// side gets them by pull rather than one sync at a time. They are
		// not pushed along the tree: the tree may be delivering them too.
		e.announce(id, uint32(e.cfg.PushHops)+1, func(p PeerID) bool { return p == from }, true)
	}
}

// spread sends a new event on: the payload to this node's tree peers
// except the one it came from, its ID to Fanout+PullExtra other peers.
// A cold node (one that had no tree peers: fresh, or all its tree peers
// left) pushes to Fanout peers it picks instead, for the first PushHops
// hops: they stay its tree peers while the pushes are new to them.
func (e *Engine) spread(ev *Event, id EventID, hops uint32, from PeerID, announced func(PeerID) bool, cold bool) {
	targets := e.treeTargets(from)
	if cold && len(targets) == 0 && hops <= uint32(e.cfg.PushHops) {
		targets = e.peers.pick(e, e.cfg.Fanout, func(p PeerID) bool { return p == from })
		for _, p := range targets {
			e.graftPeer(p)
		}
	}
	if len(targets) > 0 {
		for _, p := range targets {
			e.out.addPush(p, hops, ev)
		}
	}
	// The lazy side: IDs to peers off the tree. With no tree push at all
	// the ID epidemic is the only way on, so it sweeps as well.
	told := e.announce(id, hops, func(p PeerID) bool {
		return p == from || slices.Contains(targets, p) || (announced != nil && announced(p))
	}, len(targets) == 0)
	if len(targets) > 0 {
		if from != "" {
			told = append(told, from)
		}
		e.judging[id] = &pushJudge{pushedTo: targets, told: told, hops: hops,
			deadline: e.now.Add(e.peers.maxTimeout(targets, e.timeoutFloor(), e.cfg.AckTimeout))}
	}
}

// pruneGrace, in AckTimeouts, is how long after pruning a peer a new push
// from it does not make it a tree peer again (see disseminate).
const pruneGrace = 2

// treeTargets returns this node's tree peers other than from, in a stable
// order. Tree peers that failed or left the peer table leave the tree
// (suspected ones stay: under load answers are late, not lost); they are
// grafted again when they next push, pull or are pulled from.
func (e *Engine) treeTargets(from PeerID) []PeerID {
	keep := e.eager[:0]
	for _, p := range e.eager {
		if info, ok := e.peers.m[p]; ok && info.state != PeerFailed {
			keep = append(keep, p)
		} else {
			e.stats.Prunes++
		}
	}
	clear(e.eager[len(keep):])
	e.eager = keep
	var out []PeerID
	for _, p := range e.eager {
		if p != from {
			out = append(out, p)
		}
	}
	return out
}

// graftPeer makes p a tree peer (Plumtree's GRAFT): new events are pushed
// to it. Only peers in the peer table qualify.
func (e *Engine) graftPeer(p PeerID) {
	if p == "" || e.cfg.ExternalDissemination || slices.Contains(e.eager, p) {
		return
	}
	if _, ok := e.peers.m[p]; !ok {
		return
	}
	e.eager = append(e.eager, p)
	e.stats.Grafts++
}

// prunePeer takes p off the tree (Plumtree's PRUNE): it gets IDs only.
func (e *Engine) prunePeer(p PeerID) {
	if i := slices.Index(e.eager, p); i >= 0 {
		e.eager = slices.Delete(e.eager, i, i+1)
		e.stats.Prunes++
	}
	if e.pruned == nil {
		e.pruned = map[PeerID]time.Time{}
	}
	e.pruned[p] = e.now
}

// expirePruned forgets prunes older than the grace.
func (e *Engine) expirePruned() {
	for p, at := range e.pruned {
		if e.now.Sub(at) >= pruneGrace*e.cfg.AckTimeout {
			delete(e.pruned, p)
		}
	}
}

// announce sends the event ID to Fanout+PullExtra peers not excluded,
// unless the hop limit (the stop rule) is reached. With sweep, the other
// live peers not known to have it are told once the first wave had time
// to spread (see sweep).
func (e *Engine) announce(id EventID, hops uint32, exclude func(PeerID) bool, sweep bool) (targets []PeerID) {
	if hops > uint32(e.cfg.MaxHops) {
		return nil
	}
	targets = e.peers.pick(e, e.cfg.Fanout+e.cfg.PullExtra, exclude)
	for _, p := range targets {
		e.out.addAnnounce(p, hops, id)
	}
	if len(targets) > 0 && sweep {
		e.scheduleSweep(id, hops, e.now.Add(e.peers.maxTimeout(targets, e.timeoutFloor(), e.cfg.PullTimeout)), targets, exclude)
	}
	return targets
}

// scheduleSweep arms the second wave of an announcement at due; known
// (and the excluded peers) are not told again.
func (e *Engine) scheduleSweep(id EventID, hops uint32, due time.Time, known []PeerID, exclude func(PeerID) bool) {
	if e.sweeps == nil {
		e.sweeps = map[EventID]*sweep{}
	}
	if _, ok := e.sweeps[id]; ok {
		return
	}
	known = slices.Clone(known)
	for _, p := range e.peers.ids {
		if exclude != nil && exclude(p) && !slices.Contains(known, p) {
			known = append(known, p)
		}
	}
	e.sweeps[id] = &sweep{hops: hops, due: due, known: known}
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
// than a majority of the peers pushed to, the network around us is
// saturated or lossy (or the tree is being rebuilt), so the ID goes to
// every other live peer not known to have it at once (the sweep).
func (e *Engine) judge(id EventID) {
	j := e.judging[id]
	delete(e.judging, id)
	if j == nil || j.useful >= len(j.pushedTo)/2+1 || j.hops > uint32(e.cfg.MaxHops) {
		return
	}
	e.scheduleSweep(id, j.hops, e.now, j.told, nil)
	e.expireSweeps()
}

// onPush accepts pushed events and acknowledges the new ones. A payload
// that was already here and had come by a push too means two tree paths
// lead here: the sender leaves this node's tree, and the ack asks it to
// drop this node from its own (Plumtree's PRUNE). A payload that a digest
// sync or a gap request brought first says only that the tree was slower:
// the edge stays, and the event goes on down the tree now, since this node
// did not push it when it came.
func (e *Engine) onPush(from PeerID, m *Push) error {
	var errs []error
	ack := &PushAck{Nonce: m.Nonce}
	shortcut := false
	for _, ev := range m.Events {
		id := ev.ID()
		pl := e.pulls[id]
		isNew, err := e.accept(from, ev, viaPush, m.Hops)
		if err != nil {
			errs = append(errs, err)
		}
		if isNew {
			ack.New = append(ack.New, id)
			if pl != nil && pl.waiting && pl.asked != from && pl.hops+treeShortcutHops <= m.Hops && !shortcut {
				// An announcer is treeShortcutHops closer to the origin
				// than the tree path this came by (Plumtree's
				// optimization): it becomes the tree peer instead of the
				// sender. An empty PullRequest grafts without the payload.
				shortcut = true
				e.graftPeer(pl.asked)
				e.out.send(pl.asked, &PullRequest{})
				e.stats.Shortcuts++
			}
			continue
		}
		e.knows(id, from)
		if err != nil {
			continue
		}
		switch first, _ := e.seen.Peek(id); first {
		case viaPush:
			ack.Prune = true
		case viaSync:
			if !e.cfg.ExternalDissemination {
				e.seen.Add(id, viaPush)
				for _, p := range e.treeTargets(from) {
					e.out.addPush(p, m.Hops+1, ev)
				}
			}
		}
	}
	if shortcut {
		ack.Prune = true
	}
	if ack.Prune {
		e.prunePeer(from)
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
	if m.Prune {
		e.prunePeer(from)
	}
	for _, id := range ps.ids {
		j := e.judging[id]
		if j == nil {
			continue
		}
		j.answered++
		j.told = append(j.told, from)
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
		wait := e.peers.timeout(from, e.timeoutFloor(), e.cfg.PullTimeout)
		pl := &pullState{asked: from, askedAt: e.now, hops: m.Hops, deadline: e.now.Add(wait)}
		e.pulls[id] = pl
		if len(e.treeTargets(from)) > 0 {
			// The tree may be bringing it: graft only if it has not come
			// when one pull timeout of the announcer has passed.
			pl.waiting = true
			continue
		}
		e.requestPull(pl, id)
	}
}

// requestPull asks pl.asked for the event, which grafts the edge: the
// responder makes the requester its tree peer (onPullRequest), and so does
// the requester.
func (e *Engine) requestPull(pl *pullState, id EventID) {
	pl.waiting = false
	pl.askedAt, pl.deadline = e.now, e.now.Add(e.peers.timeout(pl.asked, e.timeoutFloor(), e.cfg.PullTimeout))
	e.graftPeer(pl.asked)
	e.out.addPullRequest(pl.asked, id)
	e.stats.Pulls++
}

// treeShortcutHops is how many hops closer to the origin an announcer
// must be than the tree path an event came by for the announcer to replace
// the sender as tree peer: a margin, so that the tree does not flap between
// nearly equal paths.
const treeShortcutHops = 2

// onPullRequest sends the requested events this node holds, and makes the
// requester a tree peer (Plumtree's GRAFT; an empty request only grafts).
func (e *Engine) onPullRequest(from PeerID, m *PullRequest) error {
	if len(m.IDs) == 0 {
		e.graftPeer(from)
	}
	for _, id := range m.IDs {
		ev, err := e.eventByID(id)
		if err != nil {
			continue // not held (any more): the requester asks someone else
		}
		e.out.addPullResponse(from, ev)
		e.stats.PullsServed++
		e.graftPeer(from)
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
	e.expirePruned()
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
		known, err := e.known(id)
		if err == nil && !known && pl.waiting {
			// The tree did not bring it in time: graft the announcer.
			e.stats.GraftPulls++
			e.requestPull(pl, id)
			continue
		}
		if err != nil || known || len(pl.alts) == 0 {
			if err == nil && !known {
				e.stats.PullsAbandoned++
			}
			delete(e.pulls, id)
			continue
		}
		e.stats.PullRetries++
		pl.asked, pl.alts = pl.alts[0], pl.alts[1:]
		e.requestPull(pl, id)
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
