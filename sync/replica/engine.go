package replica

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Engine is the replication state machine of one node. It is not safe for
// concurrent use: one goroutine gives it inputs (Put, Delete, Publish, Step,
// Tick, PeerUp, PeerDown) and acts on its Ready. See the package doc for the
// loop; Node wraps an Engine for concurrent use.
type Engine struct {
	cfg   Config
	id    PeerID
	store Store
	rnd   *rand.Rand
	clock *Clock
	now   time.Time

	// vv is the version vector including pending (not yet persisted) events;
	// digest is its Digest, kept incrementally.
	vv     VersionVector
	digest Digest
	// seen is the duplicate-detection LRU in front of the store, with how
	// each event first arrived (the push tree prunes on that, gossip.go).
	seen *simplelru.LRU[EventID, source]

	pend pendingWrites
	// held buffers events that arrived before an earlier event of their
	// origin, keyed by origin then seq; heldIDs indexes them by ID.
	held    map[PeerID]map[uint64]heldEvent
	heldIDs map[EventID]struct{}
	// heldSince is, per origin with held events, no later than when its
	// oldest held event arrived; expireHeld drops events held too long.
	heldSince map[PeerID]time.Time
	// gapAsked is when a missing range of an origin was last requested.
	gapAsked map[PeerID]time.Time

	peers   *peerTable
	out     outbox
	changes []Change
	// broadcast holds local events for the external router (Ready.Broadcast).
	broadcast []*Event

	// pushes tracks unacknowledged Push messages by nonce; judging tracks
	// pushed events awaiting the majority check; pulls tracks requested
	// events; syncs tracks digest syncs this engine started.
	pushes   map[uint64]*pushState
	judging  map[EventID]*pushJudge
	pulls    map[EventID]*pullState
	sweeps   map[EventID]*sweep                  // announce sweeps due (gossip.go)
	trees    *simplelru.LRU[PeerID, *originTree] // per-origin push trees (tree.go)
	syncs    map[uint64]*syncState
	nextSync time.Time
	nonce    uint64
	// tickGap is the largest recent gap between Ticks (see timeoutFloor).
	tickGap time.Duration

	// ae is the anti-entropy session this engine started; aeResp the
	// sessions peers started, by peer; snap the snapshot being pulled.
	ae     *aeInitiator
	aeResp map[PeerID]*aeResponder
	// aeLastDiff is how many entries the last session with each peer
	// exchanged: the next session's guess of the difference.
	aeLastDiff map[PeerID]int
	snap       *snapPull
	// snapServes are the snapshot walks this engine serves, by peer.
	snapServes map[PeerID]*snapServe
	nextAE     time.Time
	nextGC     time.Time
	// floor is the garbage-collection floor: per origin, the seq at or
	// below which the log may lack events (collected, or skipped by a
	// catch-up by state). peerVV holds each peer's last learned vector.
	floor  VersionVector
	peerVV map[PeerID]VersionVector
	// peerVVAt is when each peer's learned vector last advanced (or was
	// first learned): a vector that lags ours without advancing for
	// GCStallTimeout no longer holds garbage collection back.
	peerVVAt map[PeerID]time.Time
	// introduced counts, per sending peer, the new origins its events
	// brought (bounded by MaxOriginsPerPeer).
	introduced map[PeerID]int
	// heldBy counts held events per sending peer.
	heldBy map[PeerID]int
	// recovering is set while a node with an existing identity and an
	// empty store has not yet learned its own sequence (Config.ResumeIdentity);
	// ownClaim is the highest seq of its own origin peers reported.
	recovering bool
	ownClaim   uint64
	ownHeard   int
	// lastCatchUp is when a Compacted report last started a catch-up.
	lastCatchUp time.Time
	// nextForget is when the table is next scanned for silent peers.
	nextForget time.Time

	stats Stats
}

// source is how an event reached the engine; it decides how it spreads on.
type source int

const (
	viaLocal source = iota
	viaPush
	viaPull
	viaSync
	// viaExternal: delivered by the external dissemination router (Receive).
	viaExternal
	// viaStore marks, in the dedup LRU only, an event found in the store
	// whose arrival is no longer known.
	viaStore
)

// heldEvent is an out-of-order event with what it needs to spread later.
type heldEvent struct {
	ev   *Event
	id   EventID
	via  source
	hops uint32
	from PeerID
	// at is when the event was held (engine time).
	at time.Time
}

// New creates an engine that resumes from cfg.Store.
func New(cfg Config) (*Engine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	vv, err := cfg.Store.VersionVector()
	if err != nil {
		return nil, fmt.Errorf("load version vector: %w", err)
	}
	last, err := cfg.Store.Clock()
	if err != nil {
		return nil, fmt.Errorf("load clock: %w", err)
	}
	seen, err := simplelru.NewLRU[EventID, source](cfg.DedupCacheSize, nil)
	if err != nil {
		return nil, fmt.Errorf("dedup cache: %w", err)
	}
	if vv == nil {
		vv = VersionVector{}
	}
	floor := VersionVector{}
	switch p, err := cfg.Store.Meta(floorMeta); {
	case err == nil:
		if floor, err = decodeVector(p); err != nil {
			return nil, fmt.Errorf("load garbage-collection floor: %w", err)
		}
	case !errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("load garbage-collection floor: %w", err)
	}
	if _, ok := cfg.Store.(MerkleStore); !ok {
		log.Warnf("store %T keeps no Merkle tree: anti-entropy and snapshots are off", cfg.Store)
	}
	e := &Engine{
		cfg:     cfg,
		id:      cfg.Signer.ID(),
		store:   cfg.Store,
		rnd:     cfg.Rand,
		clock:   NewClock(last, int64(cfg.MaxClockSkew)),
		vv:      vv,
		digest:  DigestOf(vv),
		seen:    seen,
		peers:   newPeerTable(),
		pushes:  map[uint64]*pushState{},
		judging: map[EventID]*pushJudge{},
		trees:   newTrees(),
		pulls:   map[EventID]*pullState{},
		syncs:   map[uint64]*syncState{},
		floor:   floor,
		peerVV:  map[PeerID]VersionVector{},

		peerVVAt:   map[PeerID]time.Time{},
		introduced: map[PeerID]int{},
		heldBy:     map[PeerID]int{},
	}
	e.recovering = cfg.ResumeIdentity && vv[e.id] == 0
	return e, nil
}

// ID returns the engine's own peer ID (the signer's).
func (e *Engine) ID() PeerID { return e.id }

// Config returns the effective configuration (defaults filled in).
func (e *Engine) Config() Config { return e.cfg }

// VersionVector returns a copy of the node's version vector, including
// events not yet handed out in Ready.
func (e *Engine) VersionVector() VersionVector { return e.vv.Clone() }

// Digest returns the root digest digest sync compares.
func (e *Engine) Digest() Digest { return e.digest }

// Stats returns the counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	for _, seq := range e.vv {
		s.Events += seq
	}
	s.Origins = len(e.vv)
	s.Snapshot = e.Snapshot()
	return s
}

// nowNanos is the physical time for the HLC: the last Tick.
func (e *Engine) nowNanos() int64 {
	if e.now.IsZero() {
		return 0
	}
	return e.now.UnixNano()
}

// Put writes value under key and returns the signed event. The write
// supersedes every version of key this node has seen.
func (e *Engine) Put(key string, value []byte) (*Event, error) {
	return e.write(OpPut, key, value)
}

// Delete writes a tombstone for key, superseding every version this node
// has seen.
func (e *Engine) Delete(key string) (*Event, error) { return e.write(OpDelete, key, nil) }

// Publish replicates an application event with an opaque payload under a
// topic. It does not change key/value state.
func (e *Engine) Publish(topic string, payload []byte) (*Event, error) {
	return e.write(OpApp, topic, payload)
}

// write creates, signs and applies a local event.
func (e *Engine) write(op Op, key string, value []byte) (*Event, error) {
	ev, err := e.newLocal(op, key, value, 0)
	if err != nil {
		return nil, err
	}
	if err := ev.Sign(e.cfg.Signer); err != nil {
		return nil, err
	}
	if err := e.applyLocal(ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// newLocal creates an unsigned local event, ahead events after the ones
// applied so far (putAll prepares several before applying any).
func (e *Engine) newLocal(op Op, key string, value []byte, ahead uint64) (*Event, error) {
	if e.recovering {
		return nil, fmt.Errorf("%s %q: %w", op, key, ErrOwnSeqUnknown)
	}
	ev := &Event{
		Origin: e.id,
		Seq:    e.vv[e.id] + 1 + ahead,
		Op:     op,
		Key:    key,
		Value:  value,
	}
	if op != OpApp {
		ks, err := e.keyState(key)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%s %q: %w", op, key, err)
		}
		if ks != nil && len(ks.Context) > 0 {
			ev.Context = ks.Context.Clone()
		}
	}
	if err := ev.Validate(); err != nil {
		return nil, fmt.Errorf("%s %q: %w", op, key, err)
	}
	ev.Time = e.clock.Now(e.nowNanos())
	return ev, nil
}

// applyLocal applies a signed local event made by newLocal.
func (e *Engine) applyLocal(ev *Event) error {
	if size := ev.Size(); size > e.cfg.MaxMessageSize-messageOverhead {
		return fmt.Errorf("%w: %s %q: event of %d bytes cannot fit a message of max_message_size %d", ErrMessageTooLarge, ev.Op, ev.Key, size, e.cfg.MaxMessageSize)
	}
	if err := e.apply(ev, ev.ID(), viaLocal, 0, ""); err != nil {
		return err
	}
	e.stats.Created++
	return nil
}

// Get returns the value plain reads see for key: the deterministic winner
// among its siblings. It returns ErrNotFound when the key is absent or the
// winner is a tombstone.
func (e *Engine) Get(key string) ([]byte, error) {
	ks, err := e.keyState(key)
	if err != nil {
		return nil, err
	}
	if ks.Deleted() {
		return nil, fmt.Errorf("key %q deleted: %w", key, ErrNotFound)
	}
	return ks.Versions[0].Value, nil
}

// Versions returns the full state of key: every sibling (tombstones
// included) in read order and the key's causal context.
func (e *Engine) Versions(key string) (*KeyState, error) {
	ks, err := e.keyState(key)
	if err != nil {
		return nil, err
	}
	return ks.Clone(), nil
}

// List returns the state of every key with the given prefix whose winner is
// not a tombstone, in key order.
func (e *Engine) List(prefix string) ([]*KeyState, error) {
	var out []*KeyState
	err := e.store.ScanKeys(prefix, func(ks *KeyState) bool {
		if _, pending := e.pend.keys[ks.Key]; !pending && !ks.Deleted() {
			out = append(out, ks)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	for k, ks := range e.pend.keys {
		if ks != nil && hasPrefix(k, prefix) && !ks.Deleted() {
			out = append(out, ks.Clone())
		}
	}
	slices.SortFunc(out, func(a, b *KeyState) int { return compareStrings(a.Key, b.Key) })
	return out, nil
}

// PeerUp adds a peer to the engine's view (a connection was made, or
// discovery found it). Known peers are marked alive.
func (e *Engine) PeerUp(id PeerID) {
	if id == e.id || id == "" {
		return
	}
	if !e.peers.add(id, e.now) {
		if _, changed := e.peers.heard(id, e.now); changed {
			e.changes = append(e.changes, Change{Kind: ChangePeerState, Peer: id, PeerState: PeerAlive})
		}
		return
	}
	e.changes = append(e.changes, Change{Kind: ChangePeerState, Peer: id, PeerState: PeerAlive})
}

// PeerDown removes a peer from the view (disconnected or left).
func (e *Engine) PeerDown(id PeerID) {
	e.forgetPeer(id)
	if e.peers.remove(id) {
		e.changes = append(e.changes, Change{Kind: ChangePeerState, Peer: id, PeerState: PeerFailed})
	}
}

// Peers returns the known peers and their failure-detector state, sorted by ID.
func (e *Engine) Peers() []PeerStatus {
	out := make([]PeerStatus, 0, len(e.peers.ids))
	for _, id := range e.peers.ids {
		p := e.peers.m[id]
		out = append(out, PeerStatus{ID: id, State: p.state, LastContact: p.lastContact, Reliability: p.reliability()})
	}
	return out
}

// PeerStatus describes one peer of the view.
type PeerStatus struct {
	ID    PeerID
	State PeerState
	// LastContact is when a message was last sent to the peer.
	LastContact time.Time
	// Reliability is the smoothed share of requests the peer answered.
	Reliability float64
}

// Tick advances the engine's clock to now and runs what is due: the failure
// detector, ack and pull timeouts, and digest sync every SyncInterval. Call
// it regularly (for example every 100 ms); time never goes backwards (an
// earlier now is ignored).
func (e *Engine) Tick(now time.Time) {
	if now.Before(e.now) {
		return
	}
	if !e.now.IsZero() {
		// Track how coarse engine time is: the largest recent gap between
		// ticks, decaying by 1/8 per tick.
		e.tickGap = max(now.Sub(e.now), e.tickGap-e.tickGap/8)
	}
	e.now = now
	for _, c := range e.peers.detect(now, e.cfg.SuspectTimeout, e.cfg.FailTimeout) {
		e.changes = append(e.changes, Change{Kind: ChangePeerState, Peer: c.id, PeerState: c.state})
	}
	if !now.Before(e.nextForget) {
		// A sixteenth of the timeout is precise enough, and keeps the scan
		// of the table off most ticks.
		e.nextForget = now.Add(e.cfg.PeerForgetTimeout / 16)
		e.forgetSilent(now)
	}
	e.expirePushes()
	e.expirePulls()
	e.expireSyncs()
	e.expireHeld()
	if e.nextSync.IsZero() {
		// Spread the first sync over one interval so nodes started together
		// do not sync in lockstep.
		e.nextSync = now.Add(time.Duration(e.rnd.Int64N(int64(e.cfg.SyncInterval) + 1)))
	}
	if !now.Before(e.nextSync) {
		e.startSync("")
		e.nextSync = now.Add(e.cfg.SyncInterval)
	}
	e.tickAntiEntropy(now)
	if e.cfg.GCInterval > 0 {
		if e.nextGC.IsZero() {
			e.nextGC = now.Add(e.cfg.GCInterval)
		}
		if !now.Before(e.nextGC) {
			e.collectGarbage()
			e.nextGC = now.Add(e.cfg.GCInterval)
		}
	}
}

// forgetSilent drops peers silent for PeerForgetTimeout from the table (a
// message or PeerUp brings them back), so it does not grow with every
// sender.
func (e *Engine) forgetSilent(now time.Time) {
	for _, id := range e.peers.silent(now, e.cfg.PeerForgetTimeout) {
		e.forgetPeer(id)
		if e.peers.remove(id) {
			e.stats.PeersForgotten++
			e.changes = append(e.changes, Change{Kind: ChangePeerState, Peer: id, PeerState: PeerFailed})
		}
	}
}

// timeoutFloor is the shortest adaptive timeout: minTimeout, or three tick
// gaps when ticks are coarser, so that an answer arriving a tick late is not
// taken for a loss.
func (e *Engine) timeoutFloor() time.Duration {
	return max(minTimeout, 3*e.tickGap)
}

// SyncNow starts a digest sync with peer right away (a manual trigger); an
// empty peer lets the selection strategy choose.
func (e *Engine) SyncNow(peer PeerID) { e.startSync(peer) }

// Step processes a message from a peer. msg.From must be the authenticated
// sender. Invalid events in a message are rejected individually (the valid
// ones are still accepted) and reported in the returned error; a message
// over the limits is rejected whole with ErrMessageTooLarge. Errors never
// leave the engine in an inconsistent state.
func (e *Engine) Step(msg Message) error {
	if msg.Body == nil {
		return fmt.Errorf("%w: empty body from %s", ErrInvalidMessage, msg.From)
	}
	if msg.From == "" || msg.From == e.id {
		return fmt.Errorf("%w: %s message from %q", ErrInvalidMessage, msg.Body.Type(), msg.From)
	}
	size := msg.Size()
	e.stats.MessagesReceived++
	e.stats.BytesReceived += uint64(size)
	e.countAE(msg.Body, size, false)
	if t := msg.Body.Type(); int(t) < numMessageTypes {
		e.stats.ReceivedByType[t]++
	}
	if size > e.cfg.MaxMessageSize {
		return fmt.Errorf("%w: %s of %d bytes from %s exceeds %d", ErrMessageTooLarge, msg.Body.Type(), size, msg.From, e.cfg.MaxMessageSize)
	}
	if err := e.checkCounts(msg); err != nil {
		return err
	}
	e.stats.PayloadsReceived += uint64(len(payloadEvents(msg.Body)))
	if e.peers.add(msg.From, e.now) {
		e.changes = append(e.changes, Change{Kind: ChangePeerState, Peer: msg.From, PeerState: PeerAlive})
	} else if _, changed := e.peers.heard(msg.From, e.now); changed {
		e.changes = append(e.changes, Change{Kind: ChangePeerState, Peer: msg.From, PeerState: PeerAlive})
	}
	switch m := msg.Body.(type) {
	case *Push:
		return e.onPush(msg.From, m)
	case *PushAck:
		e.onPushAck(msg.From, m)
	case *PullSync:
		e.onPullSync(msg.From, m)
	case *PullRequest:
		return e.onPullRequest(msg.From, m)
	case *PullResponse:
		return e.onPullResponse(msg.From, m)
	case *SyncRoot:
		e.onSyncRoot(msg.From, m)
	case *SyncDigest:
		return e.onSyncDigest(msg.From, m)
	case *SyncExchange:
		return e.onSyncExchange(msg.From, m)
	case *SyncEvents:
		return e.onSyncEvents(msg.From, m)
	case *AERequest:
		return e.onAERequest(msg.From, m)
	case *AEResponse:
		return e.onAEResponse(msg.From, m)
	case *AEStates:
		return e.onAEStates(msg.From, m)
	case *SnapshotRequest:
		return e.onSnapshotRequest(msg.From, m)
	case *SnapshotChunk:
		return e.onSnapshotChunk(msg.From, m)
	default:
		return fmt.Errorf("%w: unknown body %T from %s", ErrInvalidMessage, msg.Body, msg.From)
	}
	return nil
}

// Receive accepts events that the external dissemination router delivered
// (see Config.ExternalDissemination); from is the peer that relayed them,
// which is asked for the gap when an event arrives ahead of a missing
// predecessor. Events are verified, deduplicated and applied like pushed
// ones, but never acknowledged or forwarded: the router forwards. Invalid
// events are rejected individually and reported in the returned error; more
// than MaxEventsPerMessage events are rejected whole with
// ErrMessageTooLarge.
func (e *Engine) Receive(from PeerID, events []*Event) error {
	if from == "" || from == e.id {
		return fmt.Errorf("%w: events relayed by %q", ErrInvalidMessage, from)
	}
	if len(events) > e.cfg.MaxEventsPerMessage {
		return fmt.Errorf("%w: %d events relayed by %s, limit %d", ErrMessageTooLarge, len(events), from, e.cfg.MaxEventsPerMessage)
	}
	e.stats.PayloadsReceived += uint64(len(events))
	e.stats.ExternalReceived += uint64(len(events))
	var errs []error
	for _, ev := range events {
		if _, err := e.accept(from, ev, viaExternal, 0); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// maxIDs caps ID lists, ranges and vector entries in one message.
func (e *Engine) maxIDs() int { return 16 * e.cfg.MaxEventsPerMessage }

// checkCounts enforces the per-message count limits.
func (e *Engine) checkCounts(msg Message) error {
	n, kind, limit := len(payloadEvents(msg.Body)), "events", e.cfg.MaxEventsPerMessage
	switch m := msg.Body.(type) {
	case *PushAck:
		n, kind, limit = len(m.New), "ids", e.maxIDs()
	case *PullSync:
		n, kind, limit = len(m.IDs), "ids", e.maxIDs()
	case *PullRequest:
		n, kind, limit = len(m.IDs), "ids", e.maxIDs()
	case *SyncDigest:
		n, kind, limit = len(m.VersionVector), "vector entries", MaxContextEntries
	case *SyncExchange:
		if len(m.Request) > e.maxIDs() {
			n, kind, limit = len(m.Request), "ranges", e.maxIDs()
		}
	case *AEStates:
		n, kind, limit = len(m.States), "states", e.maxIDs()
		if len(m.Ranges) > e.maxIDs() {
			n, kind = len(m.Ranges), "ranges"
		}
	case *SnapshotChunk:
		n, kind, limit = len(m.States), "states", e.maxIDs()
	}
	if n > limit {
		return fmt.Errorf("%w: %s from %s has %d %s, limit %d", ErrMessageTooLarge, msg.Body.Type(), msg.From, n, kind, limit)
	}
	return nil
}

// HasReady reports whether Ready has anything to hand out.
func (e *Engine) HasReady() bool {
	return !e.pend.empty() || !e.out.empty() || len(e.changes) > 0 || len(e.broadcast) > 0
}

// Ready returns the store writes, messages and changes produced since the
// last Advance. Act on them in the order the Ready doc gives, then call
// Advance.
func (e *Engine) Ready() Ready {
	rd := Ready{Batch: e.pend.batch(e.clock.Last()), Changes: e.changes, Broadcast: e.broadcast}
	rd.Messages = e.out.flush(e)
	e.changes, e.broadcast = nil, nil
	e.stats.Broadcast += uint64(len(rd.Broadcast))
	for _, m := range rd.Messages {
		size := m.Size()
		e.countAE(m.Body, size, true)
		e.stats.MessagesSent++
		e.stats.BytesSent += uint64(size)
		e.stats.SentByType[m.Body.Type()]++
		e.stats.PayloadsSent += uint64(len(payloadEvents(m.Body)))
		e.peers.sent(m.To, e.now, expectsReply(m.Body))
	}
	return rd
}

// Advance tells the engine the last Ready was acted on: its batch is durable.
func (e *Engine) Advance() { e.pend.reset() }

// expectsReply reports whether the receiver of b must answer, which arms
// the failure detector.
func expectsReply(b Body) bool {
	switch m := b.(type) {
	case *Push, *PullRequest, *SyncRoot, *SnapshotRequest:
		return true
	case *AERequest:
		return m.Req != nil && !m.Req.Done && !m.Req.FullSync
	case *SyncDigest:
		return !m.Match
	case *SyncExchange:
		return len(m.Request) > 0
	}
	return false
}

// nextNonce returns a fresh message nonce.
func (e *Engine) nextNonce() uint64 {
	e.nonce++
	return e.nonce
}

// countAE adds an anti-entropy or snapshot message to the byte counters.
func (e *Engine) countAE(b Body, size int, sent bool) {
	switch b.Type() {
	case TypeAERequest, TypeAEResponse, TypeAEStates:
		if sent {
			e.stats.AEBytesSent += uint64(size)
		} else {
			e.stats.AEBytesReceived += uint64(size)
		}
	case TypeSnapshotChunk, TypeSnapshotRequest:
		if sent {
			e.stats.SnapshotBytesSent += uint64(size)
		}
	}
}
