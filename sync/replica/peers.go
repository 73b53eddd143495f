package replica

import (
	"slices"
	"time"
)

// PeerState is the failure detector's view of a peer.
type PeerState int

const (
	// PeerAlive: the peer answers.
	PeerAlive PeerState = iota
	// PeerSuspected: a request went unanswered for SuspectTimeout. The peer
	// is still chosen, after alive ones.
	PeerSuspected
	// PeerFailed: a request went unanswered for FailTimeout. The peer is only
	// probed by digest sync; any message from it makes it alive again.
	PeerFailed
)

// String names the state.
func (s PeerState) String() string {
	switch s {
	case PeerAlive:
		return "alive"
	case PeerSuspected:
		return "suspected"
	case PeerFailed:
		return "failed"
	}
	return "unknown"
}

// peerInfo is what the engine knows about one peer.
type peerInfo struct {
	id    PeerID
	state PeerState
	// lastContact is when we last sent to the peer (least-recently-contacted).
	lastContact time.Time
	// waitingSince is when the oldest unanswered request to the peer was
	// sent; zero when nothing is outstanding.
	waitingSince time.Time
	// requests and answers count requests sent and answered (most-reliable).
	requests, answers uint64
	// srtt and rttvar are the smoothed round-trip time and its variation
	// (RFC 6298) from request/response pairs, in engine time; rtts counts
	// the samples.
	srtt, rttvar time.Duration
	rtts         uint64
	// lastHeard is when the peer last sent a message (or was added);
	// a peer silent for PeerForgetTimeout is dropped from the table.
	lastHeard time.Time
}

// minTimeout is the lowest floor of the adaptive timeouts. The floor in
// force is higher when ticks are coarse (see Engine.timeoutFloor): engine
// time advances only with Tick, so round trips measure as whole ticks (often
// zero) and a timeout of one tick would fire on the next Tick, before a
// slightly late answer could be stepped.
const minTimeout = 50 * time.Millisecond

// rttEstimate is an RFC 6298 round-trip estimator.
type rttEstimate struct {
	srtt, rttvar time.Duration
	n            uint64
}

func (r *rttEstimate) observe(sample time.Duration) {
	if r.n == 0 {
		r.srtt, r.rttvar = sample, sample/2
	} else {
		diff := r.srtt - sample
		if diff < 0 {
			diff = -diff
		}
		r.rttvar = (3*r.rttvar + diff) / 4
		r.srtt = (7*r.srtt + sample) / 8
	}
	r.n++
}

// observeRTT feeds one round-trip sample of the peer into its estimate,
// and into the node's estimate over all peers.
func (t *peerTable) observeRTT(id PeerID, sample time.Duration) {
	p, ok := t.m[id]
	if !ok || sample < 0 {
		return
	}
	est := rttEstimate{p.srtt, p.rttvar, p.rtts}
	est.observe(sample)
	p.srtt, p.rttvar, p.rtts = est.srtt, est.rttvar, est.n
	t.all.observe(sample)
}

// timeout is how long to wait for the peer's answer: srtt + 4 rttvar
// within [floor, limit]. Before the peer's first sample it is twice that
// over all peers' samples (a node meets most peers first by a pull, whose
// timeout would otherwise be the configured limit: after a lost request,
// half a second by default), or limit before any sample at all.
func (t *peerTable) timeout(id PeerID, floor, limit time.Duration) time.Duration {
	if p, ok := t.m[id]; ok && p.rtts > 0 {
		return min(max(p.srtt+4*p.rttvar, floor), limit)
	}
	if t.all.n == 0 {
		return limit
	}
	// Twice the estimate: a peer met for the first time may be among the
	// slower ones, and a premature retry costs a second copy.
	return min(max(2*(t.all.srtt+4*t.all.rttvar), floor), limit)
}

// maxTimeout is the longest timeout among peers (see timeout).
func (t *peerTable) maxTimeout(ids []PeerID, floor, limit time.Duration) time.Duration {
	var d time.Duration
	for _, id := range ids {
		d = max(d, t.timeout(id, floor, limit))
	}
	return d
}

// reliability is the Laplace-smoothed share of answered requests.
func (p *peerInfo) reliability() float64 {
	return float64(p.answers+1) / float64(p.requests+2)
}

// peerTable is the engine's partial view of the network plus the failure
// detector. ids is kept sorted for deterministic iteration.
type peerTable struct {
	m   map[PeerID]*peerInfo
	ids []PeerID
	rr  int
	// all estimates the round trip over every peer's samples.
	all rttEstimate
}

func newPeerTable() *peerTable { return &peerTable{m: map[PeerID]*peerInfo{}} }

// add inserts id as alive, heard at now; it reports whether id was new.
func (t *peerTable) add(id PeerID, now time.Time) bool {
	if _, ok := t.m[id]; ok {
		return false
	}
	t.m[id] = &peerInfo{id: id, lastHeard: now}
	i, _ := slices.BinarySearch(t.ids, id)
	t.ids = slices.Insert(t.ids, i, id)
	return true
}

// remove drops id; it reports whether it was present.
func (t *peerTable) remove(id PeerID) bool {
	if _, ok := t.m[id]; !ok {
		return false
	}
	delete(t.m, id)
	if i, ok := slices.BinarySearch(t.ids, id); ok {
		t.ids = slices.Delete(t.ids, i, i+1)
	}
	return true
}

// heard records any message from id at now. It returns the previous state
// and whether the state changed (a recovery).
func (t *peerTable) heard(id PeerID, now time.Time) (PeerState, bool) {
	p, ok := t.m[id]
	if !ok {
		return PeerAlive, false
	}
	p.lastHeard = now
	prev := p.state
	if !p.waitingSince.IsZero() {
		p.answers++
	}
	p.waitingSince = time.Time{}
	p.state = PeerAlive
	return prev, prev != PeerAlive
}

// sent records a message to id at now; expectReply arms the failure detector.
func (t *peerTable) sent(id PeerID, now time.Time, expectReply bool) {
	p, ok := t.m[id]
	if !ok {
		return
	}
	p.lastContact = now
	if expectReply {
		p.requests++
		if p.waitingSince.IsZero() {
			p.waitingSince = now
		}
	}
}

// silent returns the peers not heard from for forget, in ID order.
func (t *peerTable) silent(now time.Time, forget time.Duration) []PeerID {
	var out []PeerID
	for _, id := range t.ids {
		p := t.m[id]
		if p.lastHeard.IsZero() {
			p.lastHeard = now // added before the first Tick
			continue
		}
		if now.Sub(p.lastHeard) >= forget {
			out = append(out, id)
		}
	}
	return out
}

// peerChange is a failure-detector transition.
type peerChange struct {
	id    PeerID
	state PeerState
}

// detect advances the failure detector to now and returns transitions.
func (t *peerTable) detect(now time.Time, suspect, fail time.Duration) []peerChange {
	var out []peerChange
	for _, id := range t.ids {
		p := t.m[id]
		if p.waitingSince.IsZero() {
			continue
		}
		waited := now.Sub(p.waitingSince)
		next := p.state
		switch {
		case waited >= fail:
			next = PeerFailed
		case waited >= suspect && p.state == PeerAlive:
			next = PeerSuspected
		}
		if next != p.state {
			p.state = next
			out = append(out, peerChange{id, next})
		}
	}
	return out
}

// pick chooses up to n live peers (alive first, then suspected) not
// excluded, with the configured strategy.
func (t *peerTable) pick(e *Engine, n int, exclude func(PeerID) bool) []PeerID {
	if n <= 0 {
		return nil
	}
	var alive, suspected []PeerID
	for _, id := range t.ids {
		if exclude != nil && exclude(id) {
			continue
		}
		switch t.m[id].state {
		case PeerAlive:
			alive = append(alive, id)
		case PeerSuspected:
			suspected = append(suspected, id)
		}
	}
	out := t.order(e, alive, n)
	if len(out) < n {
		out = append(out, t.order(e, suspected, n-len(out))...)
	}
	return out
}

// order returns the first n of cands in strategy order.
func (t *peerTable) order(e *Engine, cands []PeerID, n int) []PeerID {
	if len(cands) == 0 {
		return nil
	}
	n = min(n, len(cands))
	switch e.cfg.PeerSelection {
	case SelectRoundRobin:
		out := make([]PeerID, 0, n)
		// Start after the last peer chosen, in ID order.
		start := t.rr % len(cands)
		for i := 0; i < n; i++ {
			out = append(out, cands[(start+i)%len(cands)])
		}
		t.rr = start + n
		return out
	case SelectLeastRecent:
		slices.SortStableFunc(cands, func(a, b PeerID) int {
			return t.m[a].lastContact.Compare(t.m[b].lastContact)
		})
		return cands[:n]
	case SelectMostReliable:
		e.rnd.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
		slices.SortStableFunc(cands, func(a, b PeerID) int {
			ra, rb := t.m[a].reliability(), t.m[b].reliability()
			switch {
			case ra > rb:
				return -1
			case ra < rb:
				return 1
			}
			return 0
		})
		return cands[:n]
	default:
		// Partial Fisher-Yates: the first n are a uniform sample.
		for i := 0; i < n; i++ {
			j := i + e.rnd.IntN(len(cands)-i)
			cands[i], cands[j] = cands[j], cands[i]
		}
		return cands[:n]
	}
}

// pickFailed chooses one failed peer at random, if any.
func (t *peerTable) pickFailed(e *Engine) (PeerID, bool) {
	var failed []PeerID
	for _, id := range t.ids {
		if t.m[id].state == PeerFailed {
			failed = append(failed, id)
		}
	}
	if len(failed) == 0 {
		return "", false
	}
	return failed[e.rnd.IntN(len(failed))], true
}
