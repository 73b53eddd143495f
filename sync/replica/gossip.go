package replica

import (
	"bytes"
	"errors"
	"slices"
	"time"
)

// This file holds dissemination: payloads pushed along per-origin push
// trees (tree.go) with acknowledgements, event IDs announced (PullSync) to
// peers off the tree, who pull (PullRequest) what they lack; a pull grafts
// the puller into the origin's tree, a duplicate push prunes it. Digest
// sync (digest.go) closes the gaps loss leaves. With
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
//
// An event the tree carried is announced late instead: lazy holds the
// Fanout+PullExtra peers to tell at due (one adaptive timeout after the
// push, when the tree has had time to bring it to them), and there is no
// second wave.
type sweep struct {
	hops  uint32
	due   time.Time
	known []PeerID
	lazy  []PeerID
}

// maxPullAlternates bounds the announcers remembered per pulled event. A
// first event's ID comes from up to 20 peers at once and no later wave
// follows, so after the alternates a node waits for digest sync: at 20%
// loss a pull fails 36% of the time, and 4 alternates left about one node
// in 170 to sync per write (a 12 s tail at N = 10,000, where a sync also
// fails 59% of the time), 8 about one in 10,000.
const maxPullAlternates = 8

// disseminate schedules the spreading of a newly applied event.
func (e *Engine) disseminate(ev *Event, id EventID, via source, hops uint32, from PeerID) {
	if e.cfg.ExternalDissemination {
		switch via {
		case viaLocal:
			// The external router spreads new events.
			e.broadcast = append(e.broadcast, ev)
			return
		case viaPush, viaPull:
			// A peer still pushing (mixed modes): spread it on like an
			// event digest sync brought.
			via = viaSync
		}
	}
	switch via {
	case viaExternal:
		// The router forwards it; nothing for the engine to do.
	case viaLocal:
		e.spread(ev, id, 1, "", nil)
	case viaPush:
		e.spread(ev, id, hops+1, from, nil)
	case viaPull:
		pl := e.pulls[id]
		e.spread(ev, id, hops+1, from, func(p PeerID) bool {
			return pl != nil && (p == pl.asked || slices.Contains(pl.alts, p))
		})
	case viaSync:
		// Events that digest sync brings were missed by the epidemic, or
		// come across a healed partition: announce them so the rest of this
		// side gets them by pull rather than one sync at a time. They are
		// not pushed along the tree: the tree may be bringing them too.
		e.announce(id, uint32(e.cfg.PushHops)+1, func(p PeerID) bool { return p == from }, e.cfg.Fanout+e.cfg.PullExtra, true)
	}
}

// spread sends a new event on. The payload goes to this node's children
// in the origin's tree (never back to from, which becomes the parent), and
// the ID to other peers: to Fanout+PullExtra of them one adaptive timeout
// later if the tree carried the event here and on; at once otherwise, to
// coldAnnounce of them for the origin's first event here (with the sweep
// when nothing was pushed). A node that knew no tree for the origin pushes
// instead to peers it picks, for the first PushHops hops (the origin to
// coldAnnounce peers, later hops to Fanout), and makes them its children
// (not for a pulled event: its ID went wide already, and random pushes
// would race the pulls it set off).
func (e *Engine) spread(ev *Event, id EventID, hops uint32, from PeerID, announced func(PeerID) bool) {
	t, warm := e.treeOf(ev.Origin)
	if from != "" {
		t.parent = from
	}
	targets := e.children(t, from)
	if !warm && len(targets) == 0 && hops <= uint32(e.cfg.PushHops) && announced == nil {
		// The origin pushes its first event to as many peers as hear a
		// first event's ID (each push is that peer's first copy, so it
		// costs no duplicate); later hops push to Fanout peers.
		n := e.cfg.Fanout
		if from == "" {
			n = e.coldAnnounce()
		}
		targets = e.peers.pick(e, n, func(p PeerID) bool { return p == from || p == ev.Origin })
		for _, p := range targets {
			e.graft(ev.Origin, p)
		}
	}
	for _, p := range targets {
		e.out.addPush(p, hops, ev)
	}
	exclude := func(p PeerID) bool {
		return p == from || p == ev.Origin || slices.Contains(targets, p) || (announced != nil && announced(p))
	}
	// Late only if the tree brought it here (or it is ours) and carries it
	// on: a pulled event found the tree broken, so its peers hear now.
	carried := announced == nil && (from != "" || len(targets) > 0)
	var told []PeerID
	if warm && carried {
		told = e.announceLater(id, hops, exclude, targets)
	} else if !warm {
		// The origin's first event here: its ID goes to many peers at
		// once, so that each hears it first from its fastest neighbour and
		// pulls (and grafts) there: the origin's tree starts as paths that
		// were fastest, not as the first random ones.
		told = e.announce(id, hops, exclude, e.coldAnnounce(), true)
	} else {
		told = e.announce(id, hops, exclude, e.cfg.Fanout+e.cfg.PullExtra, len(targets) == 0)
	}
	if len(targets) > 0 {
		if from != "" {
			told = append(told, from)
		}
		e.judging[id] = &pushJudge{pushedTo: targets, told: told, hops: hops,
			deadline: e.now.Add(e.peers.maxTimeout(targets, e.timeoutFloor(), e.cfg.AckTimeout))}
	}
}

// announceLater schedules the announcement of an event the tree is
// carrying: Fanout+PullExtra peers not excluded are told its ID once the
// tree has had time to reach them (the longest adaptive timeout of the
// pushed peers, or three tick gaps), and pull it then if it did not.
func (e *Engine) announceLater(id EventID, hops uint32, exclude func(PeerID) bool, pushed []PeerID) []PeerID {
	if hops > uint32(e.cfg.MaxHops) {
		return nil
	}
	lazy := e.peers.pick(e, e.cfg.Fanout+e.cfg.PullExtra, exclude)
	if len(lazy) == 0 {
		return nil
	}
	if e.sweeps == nil {
		e.sweeps = map[EventID]*sweep{}
	}
	if _, ok := e.sweeps[id]; ok {
		return lazy
	}
	e.sweeps[id] = &sweep{hops: hops, due: e.now.Add(e.peers.maxTimeout(pushed, e.timeoutFloor(), e.cfg.AckTimeout)), lazy: lazy}
	return lazy
}

// coldAnnounce is how many peers hear the ID of an origin's first event
// at once: four times Fanout+PullExtra (20 at the defaults, the whole
// view of most nodes), bounding the IDs a node sends per new origin.
func (e *Engine) coldAnnounce() int { return 4 * (e.cfg.Fanout + e.cfg.PullExtra) }

// announce sends the event ID to n peers not excluded, unless the hop
// limit (the stop rule) is reached. With sweep, the other live peers not
// known to have it are told once the first wave had time to spread (see
// sweep).
func (e *Engine) announce(id EventID, hops uint32, exclude func(PeerID) bool, n int, sweep bool) (targets []PeerID) {
	if hops > uint32(e.cfg.MaxHops) {
		return nil
	}
	targets = e.peers.pick(e, n, exclude)
	for _, p := range targets {
		e.out.addAnnounce(p, hops, id)
	}
	if len(targets) > 0 && sweep {
		e.scheduleSweep(id, hops, e.now.Add(e.peers.maxTimeout(targets, e.timeoutFloor(), e.cfg.PullTimeout)), targets, exclude)
	}
	return targets
}

// scheduleSweep arms the second wave of an announcement at due; known
// (and the excluded peers) are not told again. An announcement scheduled
// for later (announceLater) becomes a sweep that also tells its peers.
func (e *Engine) scheduleSweep(id EventID, hops uint32, due time.Time, known []PeerID, exclude func(PeerID) bool) {
	if e.sweeps == nil {
		e.sweeps = map[EventID]*sweep{}
	}
	if sw, ok := e.sweeps[id]; ok {
		if sw.lazy == nil {
			return
		}
		for _, p := range sw.lazy { // due now, with the sweep
			e.out.addAnnounce(p, sw.hops, id)
		}
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
// this node is about to announce.
func (e *Engine) knows(id EventID, peer PeerID) {
	sw := e.sweeps[id]
	if sw == nil {
		return
	}
	if sw.lazy != nil {
		if i := slices.Index(sw.lazy, peer); i >= 0 {
			sw.lazy = slices.Delete(sw.lazy, i, i+1)
		}
		return
	}
	if !slices.Contains(sw.known, peer) {
		sw.known = append(sw.known, peer)
	}
}

// expireSweeps sends the late announcements and runs the second waves that
// are due.
func (e *Engine) expireSweeps() {
	for _, id := range dueIDs(e.sweeps, e.now, func(sw *sweep) time.Time { return sw.due }) {
		sw := e.sweeps[id]
		delete(e.sweeps, id)
		if sw.lazy != nil {
			for _, p := range sw.lazy {
				e.out.addAnnounce(p, sw.hops, id)
			}
			continue
		}
		for _, p := range e.peers.pick(e, len(e.peers.ids), func(p PeerID) bool { return slices.Contains(sw.known, p) }) {
			e.out.addAnnounce(p, sw.hops, id)
			e.stats.Swept++
		}
	}
}

// judge runs the majority check for a pushed event: with fewer useful acks
// than a majority of the peers pushed to, the network around us is
// saturated or lossy (or the tree is being rebuilt), so the ID goes at
// once to every other live peer not known to have it (the sweep).
func (e *Engine) judge(id EventID) {
	j := e.judging[id]
	delete(e.judging, id)
	if j == nil || j.useful >= len(j.pushedTo)/2+1 || j.hops > uint32(e.cfg.MaxHops) {
		return
	}
	if sw := e.sweeps[id]; sw != nil && sw.lazy == nil {
		// A sweep is armed already: it runs now, and the push targets that
		// did not answer are no longer taken to have the event.
		sw.known = slices.DeleteFunc(sw.known, func(p PeerID) bool {
			return slices.Contains(j.pushedTo, p) && !slices.Contains(j.told, p)
		})
		sw.due = e.now
	} else {
		e.scheduleSweep(id, j.hops, e.now, j.told, nil)
	}
	e.expireSweeps()
}

// onPush accepts pushed events and acknowledges the new ones. A payload
// that was already here, and had come by a push or pull (or was this
// node's own), means the sender's path in the origin's tree is the slower
// of two: the ack asks it to prune this node from that origin's tree
// (Plumtree's PRUNE). A payload that a digest sync or a gap request
// brought first says only that the tree was slower: no prune, and the
// event goes on down the tree now, since this node did not push it when
// it came.
func (e *Engine) onPush(from PeerID, m *Push) error {
	hops := e.peerHops(m.Hops)
	var errs []error
	ack := &PushAck{Nonce: m.Nonce}
	for _, ev := range m.Events {
		id := ev.ID()
		isNew, err := e.accept(from, ev, viaPush, hops)
		if err != nil {
			errs = append(errs, err)
		}
		if isNew {
			ack.New = append(ack.New, id)
			continue
		}
		e.knows(id, from)
		if err != nil {
			continue
		}
		switch first, _ := e.seen.Peek(id); first {
		case viaPush, viaPull, viaLocal:
			ack.Prune = true
		case viaSync:
			if !e.cfg.ExternalDissemination {
				e.seen.Add(id, viaPush)
				t, _ := e.treeOf(ev.Origin)
				for _, p := range e.children(t, from) {
					e.out.addPush(p, hops+1, ev)
				}
			}
		}
	}
	e.out.send(from, ack)
	return errors.Join(errs...)
}

// peerHops bounds a hop count a peer sent by MaxHops: a member that sends
// the largest uint32 would otherwise have the count wrap to 0 one hop
// later and restart the announcements' stop rule.
func (e *Engine) peerHops(h uint32) uint32 { return min(h, uint32(e.cfg.MaxHops)) }

// onPushAck feeds an ack into the majority checks of the pushed events.
func (e *Engine) onPushAck(from PeerID, m *PushAck) {
	ps := e.pushes[m.Nonce]
	if ps == nil || ps.peer != from {
		return
	}
	delete(e.pushes, m.Nonce)
	// The push was sent at its deadline minus AckTimeout (outbox.flush).
	e.peers.observeRTT(from, e.now.Sub(ps.deadline.Add(-e.cfg.AckTimeout)))
	isNew := func(id EventID) bool { return slices.Contains(m.New, id) }
	if len(m.New) > 8 {
		set := make(map[EventID]struct{}, len(m.New))
		for _, id := range m.New {
			set[id] = struct{}{}
		}
		isNew = func(id EventID) bool { _, ok := set[id]; return ok }
	}
	for i, id := range ps.ids {
		useful := isNew(id)
		if m.Prune && !useful {
			e.prune(ps.origins[i], from)
		}
		j := e.judging[id]
		if j == nil {
			continue
		}
		j.answered++
		j.told = append(j.told, from)
		if useful {
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
		pl := &pullState{asked: from, hops: e.peerHops(m.Hops)}
		e.pulls[id] = pl
		e.requestPull(pl, id)
	}
}

// requestPull asks pl.asked for the event; the answer grafts the requester
// into the event's origin tree at the responder (onPullRequest).
func (e *Engine) requestPull(pl *pullState, id EventID) {
	pl.askedAt, pl.deadline = e.now, e.now.Add(e.peers.timeout(pl.asked, e.timeoutFloor(), e.cfg.PullTimeout))
	e.out.addPullRequest(pl.asked, id)
	e.stats.Pulls++
}

// onPullRequest sends the requested events this node holds, and makes the
// requester a child in each event's origin tree (Plumtree's GRAFT: it
// lacked what the tree should have brought it).
func (e *Engine) onPullRequest(from PeerID, m *PullRequest) error {
	for _, id := range m.IDs {
		ev, err := e.eventByID(id)
		if err != nil {
			continue // not held (any more): the requester asks someone else
		}
		e.out.addPullResponse(from, ev)
		e.stats.PullsServed++
		e.graft(ev.Origin, from)
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
		known, err := e.known(id)
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
