package replica

import (
	"errors"
	"fmt"
	"time"

	"github.com/murmur-p2p/murmur/sync/merkle"
)

// This file drives Merkle anti-entropy (sync/merkle) as engine messages.
// Every AntiEntropyInterval the engine opens one session with a chosen
// peer: AERequest/AEResponse round trips walk the two trees down to the
// differing ranges; the initiator's final request says Done (or FullSync:
// the initiator then pulls a snapshot, catchup.go). After Done each side
// sends the other its key states in the differing ranges (AEStates), and
// each merges what it receives by the causality rules (merge.go).
//
// Bounds: one session initiated at a time; as responder at most one
// session per peer (a new start replaces it) and maxAEResponders in all
// (more are refused); sessions idle for SuspectTimeout are dropped. The
// trees are read only inside Step, between Applies.

// maxAEResponders caps the sessions this node answers at once.
const maxAEResponders = 4

// aeInitiator is the session this engine started.
// maxAEHints bounds the per-peer memory of how many entries the last
// session differed in (the map restarts when full: a hint is only an
// optimisation).
const maxAEHints = 1024

type aeInitiator struct {
	peer     PeerID
	nonce    uint64
	s        *merkle.Initiator
	catchUp  bool
	theirVV  VersionVector
	ranges   []merkle.Range
	evidence VersionVector
	deferred VersionVector
	started  time.Time
	deadline time.Time
	result   AEResult
}

// aeResponder is a session a peer started with this engine.
type aeResponder struct {
	nonce    uint64
	s        *merkle.Responder
	ranges   []merkle.Range
	deadline time.Time
}

// merkleStore returns the store's tree, if it keeps one.
func (e *Engine) merkleStore() (MerkleStore, bool) {
	ms, ok := e.store.(MerkleStore)
	return ms, ok
}

// merkleConfig is the session configuration for the store's tree.
func (e *Engine) merkleConfig(t *merkle.Tree) merkle.Config {
	c := merkle.DefaultConfig()
	c.Depth = t.Depth()
	c.FullSyncThreshold = e.cfg.FullSyncThreshold
	// A response must fit a message: about 9 bytes per hash, 17 per
	// listed entry.
	c.MaxNodesPerMessage = max(1<<12, min(c.MaxNodesPerMessage, (e.cfg.MaxMessageSize-256)/17))
	return c
}

// tickAntiEntropy starts the periodic session and expires stale ones.
func (e *Engine) tickAntiEntropy(now time.Time) {
	if ini := e.ae; ini != nil && !now.Before(ini.deadline) {
		e.endAE(AEResult{TimedOut: true})
		e.stats.AETimeouts++
	}
	for p, r := range e.aeResp {
		if !now.Before(r.deadline) {
			delete(e.aeResp, p)
		}
	}
	e.tickSnapshot(now)
	if e.nextAE.IsZero() {
		e.nextAE = now.Add(time.Duration(e.rnd.Int64N(int64(e.cfg.AntiEntropyInterval) + 1)))
	}
	if now.Before(e.nextAE) {
		return
	}
	e.nextAE = now.Add(e.cfg.AntiEntropyInterval)
	if p := e.peers.pick(e, 1, nil); len(p) > 0 {
		e.startAE(p[0], false)
	}
}

// empty reports whether the node holds no events and no keys.
func (e *Engine) empty() bool {
	if len(e.vv) > 0 {
		return false
	}
	ms, ok := e.merkleStore()
	return !ok || ms.MerkleTree().Root().Count == 0
}

// startAE opens a session with peer unless one is running. catchUp asks
// for the peer's version vector, to raise ours to it afterwards.
func (e *Engine) startAE(peer PeerID, catchUp bool) {
	ms, ok := e.merkleStore()
	if !ok || e.ae != nil || e.snap != nil {
		return
	}
	tree := ms.MerkleTree()
	cfg := e.merkleConfig(tree)
	cfg.ExpectedDifferences = e.aeLastDiff[peer]
	s, err := merkle.NewInitiator(cfg, tree, ms.MerkleSource())
	if err != nil {
		log.Errorf("anti-entropy: %v", err)
		return
	}
	req, err := s.Start()
	if err != nil {
		log.Errorf("anti-entropy: %v", err)
		return
	}
	n := e.nextNonce()
	e.ae = &aeInitiator{peer: peer, nonce: n, s: s, catchUp: catchUp, evidence: VersionVector{}, deferred: VersionVector{}, started: e.now, deadline: e.now.Add(e.cfg.SuspectTimeout)}
	e.out.send(peer, &AERequest{Nonce: n, CatchUp: catchUp, Req: req})
	e.stats.AERounds++
}

// endAE finishes the running session and reports it.
func (e *Engine) endAE(r AEResult) {
	ini := e.ae
	if ini == nil {
		return
	}
	e.ae = nil
	res := ini.s.Result()
	r.Match = r.Match || res.InSync
	r.FullSync = res.FullSync
	r.Coded = res.Coded
	if res.Coded {
		e.stats.AECoded++
	}
	// The entries that differed size the next session's first batch of
	// coded symbols with this peer.
	if !r.Refused && !r.TimedOut {
		if e.aeLastDiff == nil || len(e.aeLastDiff) >= maxAEHints {
			e.aeLastDiff = map[PeerID]int{}
		}
		e.aeLastDiff[ini.peer] = ini.result.StatesSent + ini.result.StatesReceived
	}
	r.DifferingLeaves = res.DifferingLeaves
	r.Ranges = len(ini.ranges)
	r.RoundTrips = res.RoundTrips
	r.StatesSent += ini.result.StatesSent
	r.StatesReceived += ini.result.StatesReceived
	r.Duration = e.now.Sub(ini.started)
	e.changes = append(e.changes, Change{Kind: ChangeAntiEntropy, Peer: ini.peer, AntiEntropy: &r})
}

// onAERequest answers a session request.
func (e *Engine) onAERequest(from PeerID, m *AERequest) error {
	ms, ok := e.merkleStore()
	if m.Req == nil {
		return fmt.Errorf("%w: ae request from %s without a merkle request", ErrInvalidMessage, from)
	}
	r := e.aeResp[from]
	if m.Req.Start {
		delete(e.aeResp, from)
		if !ok || len(e.aeResp) >= maxAEResponders {
			e.out.send(from, &AEResponse{Nonce: m.Nonce, Refused: true})
			return nil
		}
		tree := ms.MerkleTree()
		s, err := merkle.NewResponder(e.merkleConfig(tree), tree, ms.MerkleSource())
		if err != nil {
			return err
		}
		r = &aeResponder{nonce: m.Nonce, s: s}
		if e.aeResp == nil {
			e.aeResp = map[PeerID]*aeResponder{}
		}
		e.aeResp[from] = r
	}
	if r == nil || r.nonce != m.Nonce {
		return nil // expired or replaced
	}
	r.deadline = e.now.Add(e.cfg.SuspectTimeout)
	resp, err := r.s.Handle(m.Req)
	if err != nil {
		log.Debugf("anti-entropy for %s aborted: %v", from, err)
		e.stats.AEAborted++
		delete(e.aeResp, from)
		return nil
	}
	if resp != nil {
		out := &AEResponse{Nonce: m.Nonce, Resp: resp}
		if m.CatchUp && m.Req.Start {
			out.VersionVector = e.vv.Clone()
		}
		e.out.send(from, out)
	}
	if !r.s.Done() {
		return nil
	}
	res := r.s.Result()
	if res.InSync || res.FullSync {
		delete(e.aeResp, from)
		return nil
	}
	if res.Coded {
		e.stats.AECoded++
	}
	r.ranges = res.Ranges
	if r.ranges == nil {
		r.ranges = []merkle.Range{}
	}
	sent, err := e.sendStates(from, m.Nonce, res.Ranges)
	if err != nil {
		delete(e.aeResp, from)
		return err
	}
	e.stats.AEStatesSent += uint64(sent)
	return nil
}

// onAEResponse continues the session this engine started.
func (e *Engine) onAEResponse(from PeerID, m *AEResponse) error {
	ini := e.ae
	if ini == nil || ini.peer != from || ini.nonce != m.Nonce || ini.ranges != nil {
		return nil
	}
	ini.deadline = e.now.Add(e.cfg.SuspectTimeout)
	if m.Refused {
		e.stats.AERefused++
		e.endAE(AEResult{Refused: true})
		return nil
	}
	if m.Resp == nil {
		e.endAE(AEResult{})
		return fmt.Errorf("%w: ae response from %s without a merkle response", ErrInvalidMessage, from)
	}
	if ini.catchUp && ini.theirVV == nil {
		if err := checkVector(from, m.VersionVector); err != nil {
			e.endAE(AEResult{})
			return err
		}
		ini.theirVV = m.VersionVector.Clone()
		if ini.theirVV == nil {
			ini.theirVV = VersionVector{}
		}
	}
	req, err := ini.s.Step(m.Resp)
	if err != nil {
		// Either side's tree may change between round trips (writes land
		// between them), which makes a walk inconsistent; a peer could also
		// send nonsense. Both only end the session: the next round starts
		// afresh, and a session never changes state by itself.
		log.Debugf("anti-entropy with %s aborted: %v", from, err)
		e.stats.AEAborted++
		e.endAE(AEResult{})
		return nil
	}
	if req != nil {
		e.out.send(from, &AERequest{Nonce: m.Nonce, Req: req})
	}
	res := ini.s.Result()
	switch {
	case !ini.s.Done():
		return nil
	case res.InSync:
		e.stats.AEMatches++
		if ini.catchUp {
			e.raiseCapped(from, ini.theirVV, ini.evidence, ini.deferred)
		}
		e.endAE(AEResult{Match: true})
	case res.FullSync:
		e.stats.AEFullSyncs++
		e.stats.AEDifferingLeaves += uint64(res.DifferingLeaves)
		e.endAE(AEResult{})
		e.startSnapshot(from)
	default:
		e.stats.AEDifferingLeaves += uint64(res.DifferingLeaves)
		ini.ranges = res.Ranges
		if ini.ranges == nil {
			ini.ranges = []merkle.Range{}
		}
		sent, err := e.sendStates(from, m.Nonce, res.Ranges)
		if err != nil {
			e.endAE(AEResult{})
			return err
		}
		ini.result.StatesSent = sent
		e.stats.AEStatesSent += uint64(sent)
	}
	return nil
}

// MaxSeq is the highest sequence number the engine accepts from a peer,
// in an event or a version vector: far above any real history, and far
// enough below the top of uint64 that seq arithmetic (seq+1, ranges,
// sums of vectors) cannot overflow.
const MaxSeq = 1 << 62

// checkVector validates a version vector received from a peer.
func checkVector(from PeerID, v VersionVector) error {
	if len(v) > MaxContextEntries {
		return fmt.Errorf("%w: vector of %d entries from %s, limit %d", ErrMessageTooLarge, len(v), from, MaxContextEntries)
	}
	return checkVectorEntries(from, v)
}

// checkVectorEntries validates the entries of a peer's version vector: a
// well-formed origin and a seq no higher than MaxSeq.
func checkVectorEntries(from PeerID, v VersionVector) error {
	for o, s := range v {
		if len(o) == 0 || len(o) > MaxPeerIDSize {
			return fmt.Errorf("%w: vector from %s has an origin of %d bytes", ErrInvalidMessage, from, len(o))
		}
		if s > MaxSeq {
			return fmt.Errorf("%w: vector from %s has seq %d for %s, limit %d", ErrInvalidMessage, from, s, o, uint64(MaxSeq))
		}
	}
	return nil
}

// entryOf returns the state entry of ks: its versions' events and context.
func (e *Engine) entryOf(ks *KeyState) (*StateEntry, error) {
	st := &StateEntry{Key: ks.Key, Context: ks.Context.Clone(), Versions: make([]*Event, 0, len(ks.Versions))}
	for _, v := range ks.Versions {
		ev, err := e.eventByID(v.Event)
		if err != nil {
			return nil, fmt.Errorf("event of version %s/%d of %q: %w", v.Origin, v.Seq, ks.Key, err)
		}
		st.Versions = append(st.Versions, ev)
	}
	return st, nil
}

// sendStates sends our states in ranges to peer as AEStates messages within
// the size limits, the last one marked Last. It returns the states sent.
func (e *Engine) sendStates(to PeerID, nonce uint64, ranges []merkle.Range) (int, error) {
	vv := e.vv.Clone()
	budget := e.cfg.MaxMessageSize - messageOverhead - vvSize(vv)
	cur := &AEStates{Nonce: nonce, VersionVector: vv}
	size, sent := 0, 0
	flush := func() {
		e.out.send(to, cur)
		cur = &AEStates{Nonce: nonce, VersionVector: vv}
		size = 0
	}
	for _, rg := range ranges {
		var states []*KeyState
		first := rg.First()
		err := e.store.ScanKeyHashes(KeyHash(first), func(h KeyHash, ks *KeyState) bool {
			if !rg.Contains(merkle.KeyHash(h)) {
				return false
			}
			states = append(states, ks)
			return true
		})
		if err != nil {
			return sent, fmt.Errorf("anti-entropy: scan %v: %w", rg, err)
		}
		for _, ks := range states {
			st, err := e.entryOf(ks)
			if err != nil {
				return sent, fmt.Errorf("anti-entropy: %w", err)
			}
			s := bytesSize(st.Size())
			if len(cur.States) > 0 && (size+s+9*len(cur.Ranges) > budget || len(cur.States) >= e.maxIDs()) {
				flush()
			}
			cur.States = append(cur.States, st)
			size += s
			sent++
		}
		if len(cur.Ranges) >= e.maxIDs() {
			flush()
		}
		cur.Ranges = append(cur.Ranges, rg)
	}
	cur.Last = true
	flush()
	return sent, nil
}

// onAEStates merges a peer's states of a session's differing ranges. Keys
// of ours the peer did not send change nothing: absence is not evidence.
func (e *Engine) onAEStates(from PeerID, m *AEStates) error {
	ini := e.ae
	r := e.aeResp[from]
	initiated := ini != nil && ini.peer == from && ini.nonce == m.Nonce && ini.ranges != nil
	switch {
	case initiated:
		ini.deadline = e.now.Add(e.cfg.SuspectTimeout)
		ini.result.StatesReceived += len(m.States)
	case r != nil && r.nonce == m.Nonce && r.ranges != nil:
		r.deadline = e.now.Add(e.cfg.SuspectTimeout)
	default:
		return nil // no such session (expired)
	}
	if err := checkVector(from, m.VersionVector); err != nil {
		return err
	}
	e.stats.AEStatesReceived += uint64(len(m.States))
	checked, errs := e.checkStates(from, m.States)
	have := e.vv
	if initiated && ini.catchUp {
		gatherEvidence(ini.evidence, m.States, checked)
		have = e.backingFor(from, true, ini.theirVV, ini.evidence)
	}
	for i, st := range m.States {
		if checked[i] == nil {
			continue
		}
		var deferred VersionVector
		if initiated && ini.catchUp {
			deferred = ini.deferred
		}
		if _, err := e.mergeState(from, st, checked[i], have, deferred); err != nil {
			errs = append(errs, err)
		}
	}
	if m.Last {
		if initiated {
			if ini.catchUp && len(errs) == 0 {
				e.raiseCapped(from, ini.theirVV, ini.evidence, ini.deferred)
			}
			e.endAE(AEResult{})
		} else {
			delete(e.aeResp, from)
		}
	}
	return errors.Join(errs...)
}

// raiseTo raises our version vector to vv after our state was caught up to
// a peer's state that reflects every write vv covers (see doc.go,
// "Garbage collection and catch-up"). The log may lack the events between
// the old and the new vector, so the garbage-collection floor rises with
// it. Our own origin is raised only while recovering a lost store, and
// then only as capRaise allows (to our own signed events): only this node
// writes it, and a peer's claim about it would skip our own sequence. Entries above MaxSeq
// are ignored (callers have refused them already).
func (e *Engine) raiseTo(vv VersionVector) {
	raised := false
	for _, o := range vv.Origins() {
		seq := vv[o]
		if (o == e.id && !e.recovering) || seq > MaxSeq || seq <= e.vv[o] {
			continue
		}
		old := e.vv[o]
		e.vv[o] = seq
		e.digest.Update(o, old, seq)
		e.pend.raise(o, seq)
		if e.floor == nil {
			e.floor = VersionVector{}
		}
		e.floor.Raise(o, seq)
		raised = true
		e.dropHeldBelow(o, seq)
		if err := e.release(o); err != nil {
			log.Errorf("release held events of %s: %v", o, err)
		}
	}
	if raised {
		e.saveFloor()
		e.stats.CatchUps++
		if err := e.releaseAll(); err != nil {
			log.Errorf("release held events: %v", err)
		}
	}
	if e.recovering {
		e.checkRecovered()
	}
}

// dropHeldBelow forgets held events of origin at or below seq.
func (e *Engine) dropHeldBelow(origin PeerID, seq uint64) {
	for s, h := range e.held[origin] {
		if s <= seq {
			e.unhold(origin, s, h)
		}
	}
}
