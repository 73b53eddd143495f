package replica

import (
	"crypto/sha256"
	"encoding/binary"
	"runtime"
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

// preVerifier wraps the engine's Verifier with a bounded memo of verdicts
// reached ahead of time (by Node.StepAll, off the engine lock). A verdict
// is keyed by the sha256 of origin, signature and signed message together,
// so it answers only for exactly the bytes that were checked: a valid
// signature paired with another message or origin finds no entry and is
// checked in full. It is safe for concurrent use.
type preVerifier struct {
	inner Verifier
	// mu guards the two generations of verdicts. Entries are normally
	// consumed by the engine's check; the ones that are not (an event that
	// turned out a duplicate, a message refused whole) age out: when cur
	// holds maxPreVerified entries it becomes old and the previous old is
	// dropped, so memory stays bounded whatever peers send.
	mu       sync.Mutex
	cur, old map[[32]byte]error
	hits     atomic.Uint64 // engine checks answered from the memo
}

// maxPreVerified bounds one generation of remembered verdicts: a few
// groups' worth (a group holds at most defaultMaxGroup messages of at most
// MaxEventsPerMessage events, but almost always far fewer), at 32 bytes
// and an error per entry (under 3 MB for both generations full).
const maxPreVerified = 32 << 10

// newPreVerifier wraps v. The result implements Authorizer (forwarding to
// v) exactly when v does, since Event.Verify asks the Verifier for it.
func newPreVerifier(v Verifier) (*preVerifier, Verifier) {
	p := &preVerifier{inner: v, cur: map[[32]byte]error{}}
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

// verdictKey binds a verdict to the exact origin, message and signature.
func verdictKey(origin PeerID, msg, sig []byte) [32]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(origin)))
	h.Write(n[:])
	h.Write([]byte(origin))
	binary.BigEndian.PutUint64(n[:], uint64(len(sig)))
	h.Write(n[:])
	h.Write(sig)
	h.Write(msg)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// Verify answers from a verdict reached ahead of time for exactly these
// bytes (and forgets it: each check is answered once), else checks with the
// wrapped Verifier.
func (p *preVerifier) Verify(origin PeerID, msg, sig []byte) error {
	k := verdictKey(origin, msg, sig)
	p.mu.Lock()
	err, ok := p.cur[k]
	if ok {
		delete(p.cur, k)
	} else if err, ok = p.old[k]; ok {
		delete(p.old, k)
	}
	p.mu.Unlock()
	if ok {
		p.hits.Add(1)
		return err
	}
	return p.inner.Verify(origin, msg, sig)
}

// check verifies one event's signature with the wrapped Verifier and
// records the verdict for the engine's own check of it.
func (p *preVerifier) check(ev *Event) {
	msg := ev.SigningBytes()
	err := p.inner.Verify(ev.Origin, msg, ev.Signature)
	k := verdictKey(ev.Origin, msg, ev.Signature)
	p.mu.Lock()
	if len(p.cur) >= maxPreVerified {
		p.old, p.cur = p.cur, make(map[[32]byte]error, len(p.cur))
	}
	p.cur[k] = err
	p.mu.Unlock()
}

// preVerify checks the signatures of the events in msgs that the engine
// will verify (those above the node's vector as last committed, well
// formed and signed), spread over up to GOMAXPROCS goroutines, before the
// caller queues them for the engine. Events the vector already covers are
// left alone: the engine drops them as duplicates without a check (or
// checks them itself when they differ from the stored event).
func (n *Node) preVerify(msgs []Message) {
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
		return
	}
	workers := min(runtime.GOMAXPROCS(0), len(evs))
	var next atomic.Int64
	work := func() {
		for i := next.Add(1) - 1; i < int64(len(evs)); i = next.Add(1) - 1 {
			n.pre.check(evs[i])
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Add(1)
		go func() { defer wg.Done(); work() }()
	}
	work()
	wg.Wait()
}

// PreVerified returns how many of the engine's signature checks were
// answered by a verdict Node.StepAll reached before taking the engine lock.
func (n *Node) PreVerified() uint64 { return n.pre.hits.Load() }
