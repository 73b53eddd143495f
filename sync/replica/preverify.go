package replica

import (
	"sync"
	"sync/atomic"
)

// Signature checks are the largest CPU cost of a received event (an Ed25519
// verification is about 50 µs here, more than the rest of the engine and
// the store together), and the engine runs them one at a time while it
// holds the Node's lock. Node.StepAll therefore checks the signatures of a
// group's new-looking events before it takes the lock, spread over the
// machine's cores, and records each verdict in a preVerifier; when the
// engine then verifies such an event, the preVerifier answers from the
// record instead of checking again. The engine still calls Verify for
// every event exactly where it did, and gets the same answer the wrapped
// Verifier gives, so what it accepts or refuses does not change; only
// where and when the work runs does.

// preVerifier wraps the engine's Verifier with the verdicts Node.StepAll
// reached ahead of time (off the engine lock) for the events of the group
// it is about to queue. A verdict is held for the very *Event that was
// checked: events are immutable once signed (Event), so the object the
// engine verifies is byte for byte the one checked. StepAll forgets its
// verdicts once its group is done, so they live only as long as the
// messages they came with. It is safe for concurrent use.
type preVerifier struct {
	inner Verifier
	mu    sync.Mutex
	done  map[*Event]error
	hits  atomic.Uint64 // engine checks answered from a verdict
}

// newPreVerifier wraps v. The result implements Authorizer (forwarding to
// v) exactly when v does, since Event.Verify asks the Verifier for it.
func newPreVerifier(v Verifier) (*preVerifier, Verifier) {
	p := &preVerifier{inner: v, done: map[*Event]error{}}
	if a, ok := v.(Authorizer); ok {
		return p, authPreVerifier{p, a}
	}
	return p, p
}

// authPreVerifier is a preVerifier over a Verifier that is also an
// Authorizer.
type authPreVerifier struct {
	*preVerifier
	a Authorizer
}

// Authorize forwards to the wrapped Authorizer.
func (v authPreVerifier) Authorize(e *Event) error { return v.a.Authorize(e) }

// eventSigChecker is implemented by a Verifier that can check an event's
// signature knowing the event (Event.Verify prefers it).
type eventSigChecker interface {
	checkEventSig(e *Event) error
}

// Verify checks with the wrapped Verifier (for callers without the event).
func (p *preVerifier) Verify(origin PeerID, msg, sig []byte) error {
	return p.inner.Verify(origin, msg, sig)
}

// checkEventSig answers from the verdict reached for e ahead of time, if
// any, else checks with the wrapped Verifier.
func (p *preVerifier) checkEventSig(e *Event) error {
	p.mu.Lock()
	err, ok := p.done[e]
	p.mu.Unlock()
	if ok {
		p.hits.Add(1)
		return err
	}
	return p.inner.Verify(e.Origin, e.SigningBytes(), e.Signature)
}

// check verifies one event's signature with the wrapped Verifier and
// records the verdict for the engine's own check of it.
func (p *preVerifier) check(ev *Event) {
	err := p.inner.Verify(ev.Origin, ev.SigningBytes(), ev.Signature)
	p.mu.Lock()
	p.done[ev] = err
	p.mu.Unlock()
}

// forget drops the verdicts for evs.
func (p *preVerifier) forget(evs []*Event) {
	if len(evs) == 0 {
		return
	}
	p.mu.Lock()
	for _, ev := range evs {
		delete(p.done, ev)
	}
	p.mu.Unlock()
}

// preVerify checks the signatures of the events in msgs that the engine
// will verify (those above the node's vector as last committed, well
// formed and signed), spread over up to GOMAXPROCS goroutines, before the
// caller queues them for the engine. Events the vector already covers are
// left alone: the engine drops them as duplicates without a check (or
// checks them itself when they differ from the stored event).
// It returns the events checked, whose verdicts the caller forgets (with
// preVerifier.forget) once its group is done.
func (n *Node) preVerify(msgs []Message) []*Event {
	seen := n.seen.Load()
	var evs []*Event
	var dots map[Dot]bool // an event two peers sent is checked once
	for _, m := range msgs {
		if m.Body == nil {
			continue
		}
		for _, ev := range payloadEvents(m.Body) {
			if ev == nil || len(ev.Signature) == 0 || ev.Seq > MaxSeq || (seen != nil && ev.Seq <= (*seen)[ev.Origin]) {
				continue
			}
			if ev.Validate() != nil {
				continue // refused by the engine before any signature check
			}
			if dots == nil {
				dots = map[Dot]bool{}
			}
			if dots[ev.Dot()] {
				continue
			}
			dots[ev.Dot()] = true
			evs = append(evs, ev)
		}
	}
	if len(evs) == 0 {
		return nil
	}
	forEach(len(evs), func(i int) { n.pre.check(evs[i]) })
	return evs
}

// PreVerified returns how many of the engine's signature checks were
// answered by a verdict Node.StepAll reached before taking the engine lock.
func (n *Node) PreVerified() uint64 { return n.pre.hits.Load() }
