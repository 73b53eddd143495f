package replica

// This file holds own-sequence recovery (Config.ResumeIdentity). A node
// must never sign two events with the same (origin, seq): peers keep the
// first and drop the second as a duplicate or an equivocation, silently.
// A node whose store was lost but whose identity was kept starts at seq 0
// and would do exactly that. So, while recovering, it refuses local writes
// (ErrOwnSeqUnknown) and learns its own sequence from peers: every digest
// sync it starts reports the peer's entry for its origin (a claim), and
// digest sync fetches its own signed events back like any origin's. It
// has recovered once at least one peer answered and its vector holds every
// own event any peer claimed. A peer's claim only makes it wait and ask:
// the sequence rises only with its own signed events, so no peer can make
// it skip or reuse a seq. A peer that claims more than exists delays its
// writes (the operator can start with a new identity instead).

// noteOwnClaim records a peer's report of this node's own sequence.
func (e *Engine) noteOwnClaim(seq uint64) {
	if !e.recovering {
		return
	}
	e.ownHeard++
	e.ownClaim = max(e.ownClaim, min(seq, MaxSeq))
	e.checkRecovered()
}

// checkRecovered ends recovery when a peer answered and every own event
// claimed is held.
func (e *Engine) checkRecovered() {
	if e.recovering && e.ownHeard > 0 && e.vv[e.id] >= e.ownClaim {
		e.recovering = false
		log.Infof("own sequence recovered from peers: next write is seq %d", e.vv[e.id]+1)
	}
}

// Recovering reports whether the node still waits to learn its own
// sequence from peers (see Config.ResumeIdentity); local writes fail with
// ErrOwnSeqUnknown meanwhile.
func (e *Engine) Recovering() bool { return e.recovering }
