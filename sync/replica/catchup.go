package replica

import (
	"errors"
	"fmt"
	"time"
)

// This file holds snapshot catch-up: a node that is empty, or whose
// anti-entropy session found more than FullSyncThreshold of the leaves
// differing, pulls the peer's whole key/value state in chunks in key order
// (SnapshotRequest -> SnapshotChunk, one chunk per round trip). The sender
// is stateless; the cursor (the last key received) is the resume point, so
// a timed-out pull continues from it with another peer. Every chunk is
// merged like anti-entropy states; when the last chunk is in, the version
// vector rises to the pointwise minimum of the vectors the senders had
// before reading the first chunk (see doc.go).

// snapServe is the snapshot walk this engine serves a peer: at most one per
// peer. A request that continues it (its cursor is where the last chunk
// ended) is served at once; any other request from the peer within
// PullTimeout of the last chunk is refused (dropped: the puller resumes
// from its cursor, possibly with another peer, after SuspectTimeout), so a
// small request cannot make the node build large chunks at will.
type snapServe struct {
	last time.Time
	next SnapshotCursor
	done bool
}

// snapPull is the snapshot this engine is pulling.
type snapPull struct {
	peer     PeerID
	nonce    uint64
	cursor   SnapshotCursor
	floor    VersionVector
	evidence VersionVector
	deferred VersionVector
	fresh    bool
	deadline time.Time
	progress SnapshotProgress
}

// SnapshotProgress describes a snapshot being pulled.
type SnapshotProgress struct {
	// Active is true while the pull runs.
	Active bool
	// Peer is the peer the chunks come from.
	Peer PeerID
	// KeysDone and BytesDone count the states and bytes received so far;
	// KeysTotal is the sender's number of keys (0 until the first chunk).
	KeysDone, KeysTotal, BytesDone uint64
	// Started is when the pull began (engine time).
	Started time.Time
	// Done is true in the report of the last chunk.
	Done bool
}

// Snapshot returns the progress of the running snapshot pull (Active false
// when none runs).
func (e *Engine) Snapshot() SnapshotProgress {
	if e.snap == nil {
		return SnapshotProgress{}
	}
	return e.snap.progress
}

// startSnapshot starts pulling peer's state, unless a pull runs.
func (e *Engine) startSnapshot(peer PeerID) {
	if e.snap != nil {
		return
	}
	e.snap = &snapPull{peer: peer, fresh: true, evidence: VersionVector{}, deferred: VersionVector{}, progress: SnapshotProgress{Active: true, Peer: peer, Started: e.now}}
	e.requestChunk()
}

// requestChunk asks the pull's peer for the chunk after the cursor.
func (e *Engine) requestChunk() {
	s := e.snap
	s.nonce = e.nextNonce()
	s.deadline = e.now.Add(e.cfg.SuspectTimeout)
	e.out.send(s.peer, &SnapshotRequest{Nonce: s.nonce, Cursor: s.cursor})
}

// tickSnapshot resumes a stalled pull from its cursor with another peer,
// and forgets served walks idle for SuspectTimeout.
func (e *Engine) tickSnapshot(now time.Time) {
	for p, sv := range e.snapServes {
		if now.Sub(sv.last) >= max(e.cfg.SuspectTimeout, e.cfg.PullTimeout) {
			delete(e.snapServes, p)
		}
	}
	s := e.snap
	if s == nil || now.Before(s.deadline) {
		return
	}
	e.stats.SnapshotRetries++
	if p := e.peers.pick(e, 1, func(id PeerID) bool { return id == s.peer }); len(p) > 0 {
		s.peer = p[0]
		s.progress.Peer = p[0]
	}
	s.fresh = true
	e.requestChunk()
}

// onSnapshotRequest serves the chunk after the requested cursor.
func (e *Engine) onSnapshotRequest(from PeerID, m *SnapshotRequest) error {
	if len(m.Cursor.After) > MaxKeySize || (!m.Cursor.Started && m.Cursor.After != "") {
		return fmt.Errorf("%w: snapshot cursor from %s", ErrInvalidMessage, from)
	}
	sv := e.snapServes[from]
	if sv != nil && (sv.done || m.Cursor != sv.next) && e.now.Sub(sv.last) < e.cfg.PullTimeout {
		e.stats.SnapshotRequestsRefused++
		return nil
	}
	vv := e.vv.Clone()
	out := &SnapshotChunk{Nonce: m.Nonce, Cursor: m.Cursor, VersionVector: vv, Last: true}
	if ms, ok := e.merkleStore(); ok {
		out.KeysTotal = ms.MerkleTree().Root().Count
	}
	budget := e.cfg.MaxMessageSize - messageOverhead - vvSize(vv) - bytesSize(len(m.Cursor.After))
	size := 0
	var ferr error
	err := scanKeysFrom(e.store, m.Cursor.After, func(ks *KeyState) bool {
		if m.Cursor.Started && ks.Key <= m.Cursor.After {
			return true
		}
		st, err := e.entryOf(ks)
		if err != nil {
			ferr = err
			return false
		}
		s := bytesSize(st.Size())
		if len(out.States) > 0 && (size+s > budget || len(out.States) >= e.maxIDs()) {
			out.Last = false
			return false
		}
		out.States = append(out.States, st)
		size += s
		return true
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("snapshot for %s: %w", from, err)
	}
	e.out.send(from, out)
	if e.snapServes == nil {
		e.snapServes = map[PeerID]*snapServe{}
	}
	next := m.Cursor
	if n := len(out.States); n > 0 {
		next = SnapshotCursor{Started: true, After: out.States[n-1].Key}
	}
	e.snapServes[from] = &snapServe{last: e.now, next: next, done: out.Last}
	e.stats.SnapshotChunksSent++
	if out.Last {
		e.stats.SnapshotsSent++
	}
	return nil
}

// onSnapshotChunk merges a chunk of the pull and asks for the next one.
func (e *Engine) onSnapshotChunk(from PeerID, m *SnapshotChunk) error {
	s := e.snap
	if s == nil || s.peer != from || s.nonce != m.Nonce {
		return nil // not ours, or timed out
	}
	if m.Cursor != s.cursor {
		return fmt.Errorf("%w: snapshot chunk from %s continues from %q, expected %q", ErrInvalidMessage, from, m.Cursor.After, s.cursor.After)
	}
	if err := checkVector(from, m.VersionVector); err != nil {
		return err
	}
	if !m.Last && len(m.States) == 0 {
		return fmt.Errorf("%w: empty snapshot chunk from %s that is not the last", ErrInvalidMessage, from)
	}
	prev := s.cursor
	for i, st := range m.States {
		if st == nil || (prev.Started && st.Key <= prev.After) {
			return fmt.Errorf("%w: snapshot chunk from %s: state %d out of order", ErrInvalidMessage, from, i)
		}
		prev = SnapshotCursor{Started: true, After: st.Key}
	}
	if s.fresh {
		if s.floor == nil {
			s.floor = m.VersionVector.Clone()
		} else {
			s.floor = minVV(s.floor, m.VersionVector)
		}
		if s.floor == nil {
			s.floor = VersionVector{}
		}
		s.fresh = false
	}
	e.stats.SnapshotChunksReceived++
	// Keys of ours the sender does not hold change nothing: absence is
	// not evidence.
	checked, errs := e.checkStates(from, m.States)
	gatherEvidence(s.evidence, m.States, checked)
	have := e.backingFor(from, true, s.floor, s.evidence)
	for i, st := range m.States {
		if checked[i] == nil {
			continue
		}
		if _, err := e.mergeState(from, st, checked[i], have, s.deferred); err != nil {
			errs = append(errs, err)
		}
	}
	s.cursor = prev
	s.progress.KeysDone += uint64(len(m.States))
	s.progress.BytesDone += uint64(m.Size())
	s.progress.KeysTotal = max(m.KeysTotal, s.progress.KeysDone)
	e.stats.SnapshotBytesReceived += uint64(m.Size())
	if err := errors.Join(errs...); err != nil {
		// A bad state: drop the pull rather than raise the vector over it.
		e.snap = nil
		return err
	}
	p := s.progress
	if m.Last {
		e.snap = nil
		e.raiseCapped(from, s.floor, s.evidence, s.deferred)
		e.stats.SnapshotsReceived++
		p.Active, p.Done = false, true
	} else {
		e.requestChunk()
	}
	e.changes = append(e.changes, Change{Kind: ChangeSnapshot, Peer: from, Snapshot: &p})
	return nil
}
