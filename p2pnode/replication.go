package p2pnode

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/dhtdiscovery"
	"github.com/murmur-p2p/murmur/protocol"
	"github.com/murmur-p2p/murmur/security"
	"github.com/murmur-p2p/murmur/sync/pebblestore"
	"github.com/murmur-p2p/murmur/sync/pgstore"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// StoreDirName is the directory of the on-disk store inside the data dir.
const StoreDirName = "store"

// replication binds the sync engine to the host: the store, the transport
// carrying engine messages over murmur's stream protocols, and the
// goroutines that feed the engine received messages, clock ticks and peer
// changes. The engine itself runs inside replica.Node, which applies each
// Ready in order (store, then messages, then changes).
type replication struct {
	store     replica.Store
	transport *protocol.Transport
	node      *replica.Node
	inbox     chan replica.Message
	dropped   atomic.Uint64 // received messages dropped on a full inbox
	rejected  atomic.Uint64 // received messages the engine refused
	limited   atomic.Uint64 // received messages dropped after waiting peer_rate_max_wait for the sender's budget
	notMember atomic.Uint64 // received messages from identified non-members
	refused   atomic.Uint64 // received messages not stepped while the store refuses writes
	nonMember func(peer.ID) bool
	limiter   *security.RateLimiter
	maxCost   int             // the largest cost charged for one message
	ctx       context.Context // ends when the replication stops
	fault     func(p peer.ID, what string)
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	// gossip disseminates events with dissemination: gossipsub (else nil);
	// drop is the WithReceiveLoss hook (or nil).
	gossip *gossipRouter
	drop   func(peer.ID) bool
	// clock is the WithClock time source (or nil: the tick's time).
	clock func() time.Time
}

// openStore opens the configured store.
func openStore(cfg Config, fs vfs.FS) (replica.Store, error) {
	switch cfg.Store {
	case "memory":
		return replica.NewMemStore(), nil
	case "pebble":
		dir := filepath.Join(cfg.DataDir, StoreDirName)
		s, err := pebblestore.Open(dir, pebblestore.Options{MerkleDepth: cfg.Sync.MerkleTreeDepth,
			MinFreeBytes: int64(cfg.StoreMinFreeMB) << 20, FS: fs})
		if err != nil {
			return nil, fmt.Errorf("open store %s: %w", dir, err)
		}
		return s, nil
	case "postgres":
		s, err := pgstore.Open(pgstore.Options{DSN: cfg.PostgresDSN, Schema: cfg.PostgresSchema, MerkleDepth: cfg.Sync.MerkleTreeDepth})
		if err != nil {
			return nil, fmt.Errorf("open store (postgres schema %s): %w", cfg.PostgresSchema, err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("store: invalid value %q: want pebble, memory or postgres", cfg.Store)
}

// startReplication opens the store and starts the engine on h. The engine
// learns its peers from disc.
// fault is told of every peer misbehaviour (for scoring and banning).
//
// Every stream protocol (murmur's own and GossipSub's) is registered
// through disc's gated host, so a peer that is not a member (in a closed
// network: not admitted) never reaches the engine. access, if not nil, signs
// events with this node's certificate and verifies and authorizes received
// ones.
func startReplication(cfg Config, key crypto.PrivKey, h host.Host, disc *dhtdiscovery.Discovery, fault func(peer.ID, string), opts options, access *security.Access) (*replication, error) {
	signer, err := security.NewSigner(key)
	if err != nil {
		return nil, err
	}
	rawHost := h
	h = disc.GatedHost(h)
	store, err := openStore(cfg, opts.storeFS)
	if err != nil {
		return nil, err
	}
	engCfg := cfg.Sync
	engCfg.Signer = signer
	engCfg.Verifier = security.Verifier{}
	if access != nil {
		engCfg.Signer = access.Signer(signer)
		engCfg.Verifier = access.Verifier()
	}
	engCfg.Store = store
	engCfg.Rand = newRand()

	ctx, cancel := context.WithCancel(context.Background())
	r := &replication{
		ctx:       ctx,
		cancel:    cancel,
		maxCost:   cfg.Rate.Cost(cfg.Sync.MaxMessageSize, cfg.Sync.MaxEventsPerMessage),
		store:     store,
		inbox:     make(chan replica.Message, cfg.InboxSize),
		limiter:   security.NewRateLimiter(cfg.Rate, 4096, cfg.Rate.Cost(cfg.Sync.MaxMessageSize, cfg.Sync.MaxEventsPerMessage), nil),
		nonMember: disc.KnownNonMember,
		fault:     fault,
	}
	tcfg := protocol.DefaultConfig()
	tcfg.Limits = protocol.LimitsFor(engCfg)
	tcfg.Compression, _ = protocol.ParseCompression(cfg.Compression) // checked by Validate
	tcfg.CompressionThreshold = cfg.CompressionThreshold
	tcfg.OnFault = func(f protocol.Fault) {
		log.Debugw("peer fault", "peer", f.Peer, "kind", f.Kind, "error", f.Err)
		fault(f.Peer, f.Kind.String())
	}
	t, err := protocol.New(h, tcfg, r.deliver)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("start transport: %w", err)
	}
	r.drop = opts.recvLoss
	r.clock = opts.clock
	var tr replica.Transport = t.EngineTransport()
	if cfg.Dissemination == DisseminationGossipSub {
		// In a closed network GossipSub's streams are gated like murmur's;
		// in an open one its peer filter and validator turn away peers
		// identify shows are not members (gating its streams there would
		// cost a member whose identify lags its subscriptions).
		gh := rawHost
		if access != nil {
			gh = h
		}
		if r.gossip, err = startGossip(gh, cfg, opts.recvLoss, fault, func(p peer.ID) bool {
			// GossipSub cannot hold a message back: charge one small event.
			return r.limiter.Allow(p, cfg.Rate.Cost(512, 1))
		}, disc.KnownNonMember, engCfg.Verifier); err != nil {
			t.Close()
			store.Close()
			return nil, err
		}
		engCfg.ExternalDissemination = true
		tr = gossipTransport{tr, r.gossip}
	}
	node, err := replica.NewNode(engCfg, tr)
	if err != nil {
		r.gossip.close()
		t.Close()
		store.Close()
		return nil, fmt.Errorf("start sync engine: %w", err)
	}
	r.transport, r.node = t, node
	if r.gossip != nil {
		r.gossip.run(node)
	}

	events, unsubscribe := disc.Subscribe(256)
	// The engine's clock is its last tick: tick now, so that a write made
	// before the first tick period ends is not stamped with time zero.
	_ = node.Tick(time.Now())
	for _, p := range disc.Peers() {
		_ = node.PeerUp(replica.PeerID(p))
	}
	if access != nil {
		r.wg.Add(1)
		go r.watchRevocations(ctx, access)
	}
	r.wg.Add(3)
	go r.stepLoop(ctx)
	go r.tickLoop(ctx, cfg.TickInterval)
	go r.peerLoop(ctx, events, unsubscribe)
	return r, nil
}

// deliver hands a received message to the step loop without blocking the
// stream that read it; a full inbox drops it (the protocols recover).
func (r *replication) deliver(from peer.ID, m replica.Message) {
	if r.drop != nil && r.drop(from) {
		return // simulated loss (WithReceiveLoss)
	}
	if r.nonMember(from) {
		// The stream protocols are shared by every murmur network; a peer
		// that identify shows is not a member of ours does not feed the
		// engine, which would otherwise take it for a peer.
		r.notMember.Add(1)
		return
	}
	// Flow control: a peer over its budget waits here, so its stream is
	// not read and its sender is held back by the stream's window. Honest
	// load is slowed down, never counted as a fault.
	cost := min(r.limiter.Config().Cost(m.Size(), replica.PayloadCount(m.Body)), r.maxCost)
	if err := r.limiter.Wait(r.ctx, from, cost); err != nil {
		r.limited.Add(1)
		log.Debugw("message dropped over the peer's budget", "peer", from, "type", m.Body.Type(), "error", err)
		return
	}
	m.From = replica.PeerID(from)
	select {
	case r.inbox <- m:
		return
	default:
	}
	// The engine is behind: hold this stream (and so its sender) until
	// there is room, for at most inboxWait.
	t := time.NewTimer(inboxWait)
	defer t.Stop()
	select {
	case r.inbox <- m:
	case <-t.C:
		r.dropped.Add(1)
	case <-r.ctx.Done():
	}
}

// inboxWait is how long a received message waits for room in a full inbox
// before it is dropped: long enough to ride out a burst (the engine drains
// thousands of messages a second), below the sender's 10 s write timeout.
const inboxWait = 5 * time.Second

// senderAtFault reports whether a refused message is the sender's fault. An
// honest peer validates what it relays, so malformed or badly signed content
// counts against it; an equivocating origin's events do not (an honest
// relay may pass one on before it sees the other version), nor do local
// failures.
func senderAtFault(err error) bool {
	return errors.Is(err, replica.ErrInvalidMessage) || errors.Is(err, replica.ErrMessageTooLarge) ||
		errors.Is(err, replica.ErrInvalidEvent) || errors.Is(err, replica.ErrBadSignature)
}

// progressLog logs long-running repair work as it progresses: a snapshot
// pull chunk by chunk, and keys repaired by anti-entropy. It reads the
// engine's counters, which unlike the lossy change subscriptions never miss
// an update.
type progressLog struct {
	lastKeys, lastMerged, lastFull, lastSnapshots uint64
	active                                        bool
}

func (p *progressLog) update(st replica.Stats) {
	sn := st.Snapshot
	if sn.Active && (!p.active || sn.KeysDone != p.lastKeys) {
		pct := 0.0
		if sn.KeysTotal > 0 {
			pct = 100 * float64(sn.KeysDone) / float64(sn.KeysTotal)
		}
		log.Infow("snapshot catch-up in progress", "from", peer.ID(sn.Peer), "keys", sn.KeysDone, "of", sn.KeysTotal,
			"percent", fmt.Sprintf("%.0f", pct), "bytes", sn.BytesDone)
	}
	if st.SnapshotsReceived > p.lastSnapshots {
		log.Infow("snapshot catch-up finished", "keys", sn.KeysDone, "snapshots_received", st.SnapshotsReceived,
			"bytes_received_total", st.SnapshotBytesReceived)
	}
	if st.StatesMerged > p.lastMerged || st.AEFullSyncs > p.lastFull {
		log.Infow("anti-entropy repaired state", "keys_repaired", st.StatesMerged-p.lastMerged,
			"full_syncs", st.AEFullSyncs-p.lastFull, "differing_leaves_total", st.AEDifferingLeaves)
	}
	p.active, p.lastKeys, p.lastMerged, p.lastFull, p.lastSnapshots = sn.Active, sn.KeysDone, st.StatesMerged, st.AEFullSyncs, st.SnapshotsReceived
}

// maxStepGroup bounds the received messages handed to the engine as one
// commit group.
const maxStepGroup = 256

// stepLoop feeds received messages to the engine: everything that arrived
// while the previous group was being made durable goes in as the next group
// (one store batch for all of it, shared with concurrent local writes).
func (r *replication) stepLoop(ctx context.Context) {
	defer r.wg.Done()
	var paused storePause
	batch := make([]replica.Message, 0, maxStepGroup)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return
		case m := <-r.inbox:
			batch = append(batch, m)
		}
	drain:
		for len(batch) < maxStepGroup {
			select {
			case m := <-r.inbox:
				batch = append(batch, m)
			default:
				break drain
			}
		}
		// While the store refuses writes (a full disk), received messages
		// are dropped unacknowledged: their senders retry, and digest sync
		// repairs later. This keeps a full node from spinning on them.
		if paused.skip(time.Now()) {
			r.refused.Add(uint64(len(batch)))
			continue
		}
		errs := r.node.StepAll(batch)
		var storeErr error
		for i, err := range errs {
			if err == nil {
				continue
			}
			if errors.Is(err, replica.ErrClosed) {
				return
			}
			if errors.Is(err, pebblestore.ErrDiskFull) || errors.Is(err, pebblestore.ErrStoreFailed) {
				storeErr = err
			}
			m := batch[i]
			r.rejected.Add(1)
			log.Debugw("message rejected", "from", peer.ID(m.From), "type", m.Body.Type(), "error", err)
			if senderAtFault(err) {
				r.fault(peer.ID(m.From), "refused message")
			}
		}
		paused.result(storeErr, time.Now())
	}
}

func (r *replication) tickLoop(ctx context.Context, every time.Duration) {
	defer r.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	var progress progressLog
	var storeErrs errorLog
	lastLog := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if r.clock != nil {
				now = r.clock()
			}
			if err := r.node.Tick(now); err != nil {
				if errors.Is(err, replica.ErrClosed) {
					log.Errorw("sync engine stopped", "error", err)
					return
				}
				// A store that refuses writes (a full disk) is a state the
				// engine recovers from; ticks go on.
				storeErrs.report(err)
			}
			if now.Sub(lastLog) >= time.Second {
				progress.update(r.node.Stats())
				lastLog = now
			}
		}
	}
}

func (r *replication) peerLoop(ctx context.Context, events <-chan dhtdiscovery.PeerEvent, unsubscribe func()) {
	defer r.wg.Done()
	defer unsubscribe()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			var err error
			if ev.Kind == dhtdiscovery.PeerJoined {
				err = r.node.PeerUp(replica.PeerID(ev.Peer))
			} else {
				err = r.node.PeerDown(replica.PeerID(ev.Peer))
			}
			if errors.Is(err, replica.ErrClosed) {
				return
			}
		}
	}
}

// storePause drops received messages, unstepped and so unacknowledged,
// for a while after the store refused a batch (a full disk): each refused
// batch costs the engine a rebuild from the store, and peers retry what was
// not acknowledged. The pause doubles from 250 ms to 4 s while refusals go
// on; after it, the next message is stepped as a probe.
type storePause struct {
	until time.Time
	wait  time.Duration
}

func (p *storePause) skip(now time.Time) bool { return now.Before(p.until) }

func (p *storePause) result(err error, now time.Time) {
	if !errors.Is(err, pebblestore.ErrDiskFull) && !errors.Is(err, pebblestore.ErrStoreFailed) {
		p.wait = 0
		return
	}
	p.wait = min(max(2*p.wait, 250*time.Millisecond), 4*time.Second)
	p.until = now.Add(p.wait)
}

// errorLog logs a recurring error once, then at most every 30 s with a
// count, so a full disk does not fill the log ten times a second.
type errorLog struct {
	last       time.Time
	suppressed int
}

func (l *errorLog) report(err error) {
	if now := time.Now(); now.Sub(l.last) >= 30*time.Second {
		log.Warnw("sync engine: store refuses writes", "error", err, "repeats_since_last_report", l.suppressed)
		l.last, l.suppressed = now, 0
		return
	}
	l.suppressed++
}

// close stops accepting messages, stops the engine and closes the store,
// which flushes it.
func (r *replication) close() error {
	var errs []error
	// Ending ctx first releases stream goroutines waiting for a peer's
	// budget or for room in the inbox, so the transport closes at once.
	r.cancel()
	r.gossip.close()
	if err := r.transport.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close transport: %w", err))
	}
	// Closing the engine makes the loops' next call fail, so they return
	// even if one is blocked in a call when ctx ends.
	r.node.Close()
	r.wg.Wait()
	if err := r.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	return errors.Join(errs...)
}

// newRand seeds the engine's randomness from the operating system; the
// simulator seeds it from its own seed instead.
func newRand() *rand.Rand {
	var b [16]byte
	if _, err := crand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("read random seed: %v", err)) // crypto/rand never fails on supported platforms
	}
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])))
}
