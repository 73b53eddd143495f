package simtest

import (
	"fmt"
	"math/rand/v2"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/murmur-p2p/murmur/security"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// Strategy is what a lying node (Config.Liars) does besides running an
// ordinary engine: it rewrites what its engine sends and, every
// LieInterval, sends forged messages of its own. The strategies are the
// attacks of issue 9.
type Strategy int

const (
	// LieInflatedContext signs puts whose contexts claim writes of honest
	// origins that do not exist (seq 2^40) and pushes them.
	LieInflatedContext Strategy = iota
	// LieForgedVectors answers anti-entropy and snapshots with a vector
	// covering everything and no states.
	LieForgedVectors
	// LieFalseCompacted answers digest syncs with a Compacted report and a
	// catch-up vector of 2^40 for every origin, and no events.
	LieFalseCompacted
	// LieEquivocate signs two different events with the same seq and sends
	// each to half of its peers.
	LieEquivocate
	// LieOriginFlood relays events of fresh throwaway origins.
	LieOriginFlood
	// LieEmptyVector answers every digest sync with an empty vector (a GC
	// stall attempt).
	LieEmptyVector
	// LieWithhold never sends events or states (pushes, pull and sync
	// answers, anti-entropy states, snapshot chunks).
	LieWithhold
	// LieReplay sends old events again.
	LieReplay
	// NumStrategies is the number of strategies.
	NumStrategies
)

// String names the strategy.
func (s Strategy) String() string {
	return [...]string{"inflated-context", "forged-vectors", "false-compacted", "equivocate",
		"origin-flood", "empty-vector", "withhold", "replay"}[s]
}

// huge is the seq liars claim.
const huge = 1 << 40

// liar is the state of one lying node.
type liar struct {
	strategy Strategy
	rnd      *rand.Rand
	keys     *rand.ChaCha8
	seq      uint64 // the last seq it forged for its own origin
	floods   int
	sent     []*replica.Event // events its engine sent, for replays
}

// LiarKeyPrefix is the prefix of the keys liars write to: the property of
// the adversarial scenario compares honest nodes on the other keys
// (equivocation legitimately leaves honest nodes with different copies of
// a liar's own writes).
const LiarKeyPrefix = "liar/"

// hugeVector claims every node's origin up to huge.
func (s *Sim) hugeVector() replica.VersionVector {
	v := replica.VersionVector{}
	for _, n := range s.nodes {
		v[n.ID] = huge
	}
	return v
}

// lie rewrites message m that liar node i's engine sends; false drops it.
func (s *Sim) lie(i int, m *replica.Message) bool {
	l := s.liars[i]
	if evs := eventsOf(m.Body); len(evs) > 0 && len(l.sent) < 256 {
		l.sent = append(l.sent, evs...)
	}
	switch l.strategy {
	case LieForgedVectors:
		switch b := m.Body.(type) {
		case *replica.AEStates:
			b.VersionVector, b.States = s.hugeVector(), nil
		case *replica.SnapshotChunk:
			b.VersionVector, b.States, b.Last = s.hugeVector(), nil, true
		case *replica.AEResponse:
			if b.VersionVector != nil {
				b.VersionVector = s.hugeVector()
			}
		}
	case LieFalseCompacted:
		switch b := m.Body.(type) {
		case *replica.SyncEvents:
			b.Compacted, b.Events = s.hugeVector(), nil
		case *replica.AEResponse:
			if b.VersionVector != nil {
				b.VersionVector = s.hugeVector()
			}
		case *replica.AEStates:
			b.VersionVector = s.hugeVector()
		}
	case LieEmptyVector:
		if b, ok := m.Body.(*replica.SyncDigest); ok {
			b.Match, b.VersionVector = false, replica.VersionVector{}
		}
	case LieWithhold:
		switch m.Body.(type) {
		case *replica.Push, *replica.PullResponse, *replica.SyncEvents, *replica.AEStates, *replica.SnapshotChunk:
			return false
		}
	}
	return true
}

// eventsOf returns the events a message body carries.
func eventsOf(b replica.Body) []*replica.Event {
	switch m := b.(type) {
	case *replica.Push:
		return m.Events
	case *replica.PullResponse:
		return m.Events
	case *replica.SyncEvents:
		return m.Events
	}
	return nil
}

// act sends liar node i's own forged messages.
func (s *Sim) act(i int) error {
	l := s.liars[i]
	n := s.nodes[i]
	send := func(to int, evs []*replica.Event) {
		if len(evs) == 0 {
			return
		}
		s.sendSeq++
		m := replica.Message{From: n.ID, To: s.nodes[to].ID, Body: &replica.Push{Nonce: s.sendSeq, Hops: 1, Events: evs}}
		s.enqueue(&delivery{at: s.now.Add(s.latency(i, to)), to: to, msg: m, depth: n.depth + 1})
	}
	own := func(key, value string, ctx replica.VersionVector) (*replica.Event, error) {
		l.seq = max(l.seq, n.eng.VersionVector()[n.ID]) + 1
		ev := &replica.Event{Origin: n.ID, Seq: l.seq, Time: replica.Timestamp{Wall: s.now.UnixNano()}, Op: replica.OpPut, Key: key, Value: []byte(value), Context: ctx}
		return ev, ev.Sign(n.signer)
	}
	switch l.strategy {
	case LieInflatedContext:
		victim := s.nodes[l.rnd.IntN(len(s.nodes))].ID
		ev, err := own(fmt.Sprintf("k%d", l.rnd.IntN(6)), "squat", replica.VersionVector{victim: huge + l.rnd.Uint64N(1000)})
		if err != nil {
			return err
		}
		l.seq-- // never applicable: the liar's later forgeries reuse the seq
		for _, j := range n.view {
			send(j, []*replica.Event{ev})
		}
	case LieEquivocate:
		key := fmt.Sprintf("%s%d/k%d", LiarKeyPrefix, i, l.rnd.IntN(3))
		a, err := own(key, "a", nil)
		if err != nil {
			return err
		}
		l.seq--
		b, err := own(key, "b", nil)
		if err != nil {
			return err
		}
		for k, j := range n.view {
			if k%2 == 0 {
				send(j, []*replica.Event{a})
			} else {
				send(j, []*replica.Event{b})
			}
		}
	case LieOriginFlood:
		if l.floods >= 512 {
			return nil
		}
		var evs []*replica.Event
		for k := 0; k < 8; k++ {
			key, _, err := crypto.GenerateEd25519Key(l.keys)
			if err != nil {
				return err
			}
			signer, err := security.NewSigner(key)
			if err != nil {
				return err
			}
			ev := &replica.Event{Origin: signer.ID(), Seq: 1, Time: replica.Timestamp{Wall: s.now.UnixNano()}, Op: replica.OpPut, Key: fmt.Sprintf("%s%d/flood-%d", LiarKeyPrefix, i, l.floods), Value: []byte("x")}
			if err := ev.Sign(signer); err != nil {
				return err
			}
			l.floods++
			evs = append(evs, ev)
		}
		for _, j := range n.view {
			send(j, evs)
		}
	case LieReplay:
		if len(l.sent) == 0 {
			return nil
		}
		var evs []*replica.Event
		for k := 0; k < 10; k++ {
			evs = append(evs, l.sent[l.rnd.IntN(len(l.sent))])
		}
		send(n.view[l.rnd.IntN(len(n.view))], evs)
	}
	return nil
}
