// Package dhtdiscovery finds the peers of a murmur network through the
// Kademlia DHT (go-libp2p-kad-dht) and keeps the node's peer table.
//
// A node joins by connecting to one or more bootstrap multiaddrs; from then on
// it finds the rest of the network through the DHT alone: every node
// advertises itself under the network's rendezvous key and looks the key up
// whenever its table is below Config.TargetPeers. The DHT runs under a
// protocol prefix derived from the network name, so networks sharing an
// address space (or even a connection) never mix: a peer enters the table
// only once identify shows it serves the network's MemberProtocol.
//
// With Config.DHT set to DHTAmino, discovery runs on the public Amino DHT
// (/ipfs/kad/1.0.0) instead, under a rendezvous key that hides the network's
// name and, with a secret, its existence (AminoRendezvousKey).
//
// The table is the set of connected members; the pool is the members most
// recently learnt of (from the DHT or a connection; up to poolSize). Layers
// above read Peers and subscribe to PeerEvent changes.
package dhtdiscovery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	logging "github.com/ipfs/go-log/v2"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
)

var log = logging.Logger("murmur/discovery")

// ErrNoBootstrapPeer is returned by Start when bootstrap peers are configured
// and none of them answered within Config.BootstrapTimeout.
var ErrNoBootstrapPeer = errors.New("no bootstrap peer answered")

// ErrBootstrapOtherNetwork is returned by Start as soon as every bootstrap
// peer has answered and shown that it is not a member of the network (a
// node of another murmur network, or another libp2p program such as kubo).
var ErrBootstrapOtherNetwork = errors.New("every bootstrap peer answered, but none is a member of network")

// PeerEventKind tells whether a peer joined or left the table.
type PeerEventKind int

const (
	// PeerJoined: a member connected and entered the table.
	PeerJoined PeerEventKind = iota + 1
	// PeerLeft: a member's last connection closed and it left the table.
	PeerLeft
)

func (k PeerEventKind) String() string {
	switch k {
	case PeerJoined:
		return "joined"
	case PeerLeft:
		return "left"
	}
	return fmt.Sprintf("PeerEventKind(%d)", int(k))
}

// PeerEvent is a change of the peer table.
type PeerEvent struct {
	Kind PeerEventKind
	Peer peer.ID
}

// Discovery runs the DHT, the bootstrap, the rendezvous and the peer table of
// one host. Create it with New, then Start; Close stops it. All methods are
// safe for concurrent use.
type Discovery struct {
	cfg       Config
	host      host.Host
	bootstrap []peer.AddrInfo
	member    protocol.ID
	dht       *dht.IpfsDHT
	rd        *drouting.RoutingDiscovery
	// admission, if set, makes the network closed (see Admission); adm
	// holds its state and gated counts streams its gate reset.
	admission Admission
	adm       *admissionState
	gated     atomic.Uint64
	// identified is closed (and replaced) whenever identify finishes with
	// a peer, waking stream handlers waiting for it.
	identMu    sync.Mutex
	identified chan struct{}
	mdns       *mdnsDiscovery // nil unless Config.MDNS and it started

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{} // wakes the discovery loop early

	mu     sync.Mutex
	table  map[peer.ID]time.Time             // member -> when it joined
	pool   *simplelru.LRU[peer.ID, struct{}] // members learnt of, connected or not (most recent poolSize)
	subs   map[int]chan PeerEvent
	nextID int
	closed bool
}

// New validates cfg and prepares discovery for h. It registers the network's
// member protocol on h; nothing touches the network until Start.
func New(h host.Host, cfg Config, opts ...Option) (*Discovery, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	boot, err := ParseBootstrap(cfg.Bootstrap)
	if err != nil {
		return nil, err
	}
	if len(boot) == 0 {
		boot = defaultBootstrap(cfg)
	}
	boot = slices.DeleteFunc(boot, func(ai peer.AddrInfo) bool { return ai.ID == h.ID() })
	d := &Discovery{
		cfg:        cfg,
		host:       h,
		bootstrap:  boot,
		member:     protocol.ID(MemberProtocol(cfg.Network)),
		kick:       make(chan struct{}, 1),
		table:      make(map[peer.ID]time.Time),
		pool:       newPool(),
		subs:       make(map[int]chan PeerEvent),
		adm:        newAdmissionState(),
		identified: make(chan struct{}),
	}
	for _, o := range opts {
		o(d)
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	h.SetStreamHandler(d.member, d.handleMember)
	return d, nil
}

// handleMember answers a member probe. In an open network the reply is the
// network name: the protocol exists to be listed by identify, and the reply
// lets tools check a peer by hand. In a closed network it is this node's
// credential (its member certificate), and the asking peer is checked in
// turn.
func (d *Discovery) handleMember(s network.Stream) {
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	if d.admission != nil {
		_, _ = s.Write(d.admission.Credential())
		_ = s.Close()
		d.startCheck(s.Conn().RemotePeer())
		return
	}
	_, _ = s.Write([]byte(d.cfg.Network + "\n"))
	_ = s.Close()
}

// Start creates the DHT, connects to the bootstrap peers and starts the
// rendezvous loops. With bootstrap peers configured it returns once one of
// them is connected, or fails with ErrNoBootstrapPeer after
// Config.BootstrapTimeout; peers that are down are retried in the background
// with backoff. The context bounds only Start itself.
func (d *Discovery) Start(ctx context.Context) error {
	mode := map[string]dht.ModeOpt{"server": dht.ModeServer, "client": dht.ModeClient, "auto": dht.ModeAuto}[d.cfg.DHTMode]
	dhtOpts := d.dhtOptions(mode)
	dhtHost := d.host
	if d.admission != nil && d.cfg.DHT != DHTAmino {
		// In a closed network murmur's own DHT serves members only, and
		// only members enter its routing table. (The public Amino DHT
		// stays public; only the rendezvous records on it are the
		// network's.)
		dhtOpts = append(dhtOpts, dht.RoutingTableFilter(d.routingTableFilter))
		dhtHost = d.GatedHost(d.host)
	}
	kad, err := dht.New(dhtHost, dhtOpts...)
	if err != nil {
		return fmt.Errorf("start DHT for network %q: %w", d.cfg.Network, err)
	}
	d.dht = kad
	d.rd = drouting.NewRoutingDiscovery(kad)
	if d.admission != nil {
		d.wg.Add(1)
		go d.recheckLoop()
	}

	sub, err := d.host.EventBus().Subscribe([]any{
		new(event.EvtPeerIdentificationCompleted),
		new(event.EvtPeerIdentificationFailed),
		new(event.EvtPeerProtocolsUpdated),
		new(event.EvtPeerConnectednessChanged),
	})
	if err != nil {
		d.cancel()
		_ = kad.Close()
		return fmt.Errorf("subscribe to host events: %w", err)
	}
	d.wg.Add(1)
	go d.watchHost(sub)
	for _, p := range d.host.Network().Peers() { // connections made before Start
		d.checkMember(p)
	}

	if d.cfg.MDNS {
		// Best effort: a node without a usable multicast interface still
		// joins through its bootstrap peers and the DHT.
		if d.mdns, err = d.startMDNS(); errors.Is(err, errNoLANInterface) {
			log.Debugw("mDNS discovery off", "reason", err)
		} else if err != nil {
			log.Warnw("mDNS discovery off", "error", err)
		}
	}
	if err := d.connectBootstrap(ctx); err != nil {
		d.Close()
		return err
	}
	if err := kad.Bootstrap(d.ctx); err != nil {
		d.Close()
		return fmt.Errorf("bootstrap DHT: %w", err)
	}
	d.wg.Add(2)
	go d.advertiseLoop()
	go d.discoverLoop()
	return nil
}

// connectBootstrap dials every bootstrap peer concurrently, retrying with
// backoff, and waits until one is connected.
func (d *Discovery) connectBootstrap(ctx context.Context) error {
	if len(d.bootstrap) == 0 {
		log.Infow("no bootstrap peers configured; starting as the first node of the network", "network", d.cfg.Network)
		return nil
	}
	connected := make(chan peer.ID, len(d.bootstrap))
	foreign := make(chan peer.ID, len(d.bootstrap))
	var mu sync.Mutex
	lastErr := make(map[peer.ID]error)
	for _, ai := range d.bootstrap {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			backoff := 250 * time.Millisecond
			for attempt := 1; ; attempt++ {
				cctx, cancel := context.WithTimeout(d.ctx, 10*time.Second)
				// Our own backoff paces retries; the swarm's dial backoff
				// (seconds, growing) would otherwise hide a peer that is back.
				cctx = network.WithForceDirectDial(cctx, "murmur bootstrap retry")
				err := d.host.Connect(cctx, ai)
				cancel()
				if err == nil && d.admission != nil && !d.bootstrapMember(ai.ID) {
					// A closed network: the peer presented no valid member
					// certificate.
					err = fmt.Errorf("peer is not an admitted member of network %q (no valid member certificate; see the log)", d.cfg.Network)
					_ = d.host.Network().ClosePeer(ai.ID)
					log.Errorw("bootstrap peer is not an admitted member; not using it", "peer", ai.ID, "error", err)
					mu.Lock()
					lastErr[ai.ID] = err
					mu.Unlock()
					foreign <- ai.ID
					return
				}
				// On the Amino DHT a bootstrap peer is any DHT peer.
				if err == nil && d.admission == nil && d.cfg.DHT != DHTAmino && !d.isMember(ai.ID) && !d.probeMember(ai.ID) {
					// Connect returns after identify, and the peer refused
					// the member protocol when asked directly.
					err = d.notMemberError(ai.ID)
					foreignPeer := d.KnownNonMember(ai.ID)
					_ = d.host.Network().ClosePeer(ai.ID)
					if foreignPeer {
						log.Errorw("bootstrap peer belongs to another network; not using it", "peer", ai.ID, "error", err)
						mu.Lock()
						lastErr[ai.ID] = err
						mu.Unlock()
						foreign <- ai.ID
						return
					}
					// Identify told us nothing (it failed or timed out): try again.
				}
				if err == nil {
					log.Infow("connected to bootstrap peer", "peer", ai.ID, "attempt", attempt)
					connected <- ai.ID
					return
				}
				mu.Lock()
				lastErr[ai.ID] = err
				mu.Unlock()
				log.Warnw("bootstrap peer did not answer; will retry", "peer", ai.ID, "attempt", attempt, "retry_in", backoff.String(), "error", err)
				select {
				case <-d.ctx.Done():
					return
				case <-time.After(jitter(backoff)):
				}
				backoff = min(2*backoff, 30*time.Second)
			}
		}()
	}
	timer := time.NewTimer(d.cfg.BootstrapTimeout)
	defer timer.Stop()
	summary := func() string {
		mu.Lock()
		defer mu.Unlock()
		var parts []string
		for _, ai := range d.bootstrap {
			parts = append(parts, fmt.Sprintf("%s: %v", ai.ID, lastErr[ai.ID]))
		}
		return strings.Join(parts, "; ")
	}
	for nForeign := 0; ; {
		select {
		case <-connected:
			return nil
		case <-foreign:
			// Fail at once when every bootstrap peer answered but none
			// belongs to this network: waiting cannot change that.
			if nForeign++; nForeign == len(d.bootstrap) {
				return fmt.Errorf("%w %q: %s", ErrBootstrapOtherNetwork, d.cfg.Network, summary())
			}
		case <-ctx.Done():
			return fmt.Errorf("connect to bootstrap peers: %w", ctx.Err())
		case <-timer.C:
			return fmt.Errorf("%w within %s (bootstrap_timeout): %s", ErrNoBootstrapPeer, d.cfg.BootstrapTimeout, summary())
		}
	}
}

// probeMember asks p for the member protocol directly. It settles what
// identify left in doubt (identify can fail or lag on a busy host); a
// peer that serves the protocol is recorded as a member.
func (d *Discovery) probeMember(p peer.ID) bool {
	ctx, cancel := context.WithTimeout(d.ctx, 10*time.Second)
	defer cancel()
	s, err := d.host.NewStream(ctx, p, d.member)
	if err != nil {
		return false
	}
	_ = s.Close()
	d.checkMember(p)
	return true
}

// notMemberError explains why p, connected and identified, is not a
// member, naming what it runs when identify said.
func (d *Discovery) notMemberError(p peer.ID) error {
	what := ""
	if av, err := d.host.Peerstore().Get(p, "AgentVersion"); err == nil {
		if s, ok := av.(string); ok && s != "" {
			what = fmt.Sprintf("; it runs %q", s)
		}
	}
	return fmt.Errorf("peer is not a member of network %q (it does not serve %s%s)", d.cfg.Network, d.member, what)
}

// bootstrapMember reports whether a connected bootstrap peer of a closed
// network presents a valid credential.
func (d *Discovery) bootstrapMember(p peer.ID) bool {
	ctx, cancel := context.WithTimeout(d.ctx, admitTimeout)
	defer cancel()
	return d.AwaitAdmission(ctx, p)
}

// advertiseLoop keeps this node advertised under the rendezvous key. An
// advertisement needs DHT peers, so failures are retried with backoff and
// retried at once when the table grows.
func (d *Discovery) advertiseLoop() {
	defer d.wg.Done()
	key := rendezvousKey(d.cfg)
	if c, err := RendezvousCID(key); err == nil {
		log.Infow("advertising this node under the network's rendezvous key", "dht", d.cfg.DHT, "network", d.cfg.Network, "cid", c.String())
	}
	backoff := 200 * time.Millisecond
	for {
		wait := backoff
		if d.dht.RoutingTable().Size() > 0 {
			ttl, err := d.rd.Advertise(d.ctx, key)
			if err == nil {
				log.Debugw("advertised", "key", key, "ttl", ttl.String())
				wait, backoff = 7*ttl/8, 200*time.Millisecond
			} else {
				if d.ctx.Err() != nil {
					return
				}
				log.Debugw("advertise failed; will retry", "key", key, "retry_in", backoff.String(), "error", err)
				backoff = min(2*backoff, 30*time.Second)
			}
		}
		select {
		case <-d.ctx.Done():
			return
		case <-time.After(jitter(wait)):
		}
	}
}

// discoverLoop looks up the rendezvous key while the table is short of
// TargetPeers and connects to the members found.
func (d *Discovery) discoverLoop() {
	defer d.wg.Done()
	key := rendezvousKey(d.cfg)
	interval := min(d.cfg.DiscoveryInterval, time.Second) // quick first rounds while joining
	for {
		// Redialing needs no DHT: a node that lost every peer (bans, an
		// outage) and with them its routing table redials the members it
		// knew, and its bootstrap peers, instead of staying alone.
		if n := d.tableSize(); n < d.cfg.TargetPeers {
			d.reconnectPool(d.cfg.TargetPeers - n)
		}
		if d.tableSize() == 0 {
			d.redialBootstrap()
		}
		if d.dht.RoutingTable().Size() > 0 {
			if n := d.tableSize(); n < d.cfg.TargetPeers {
				d.findAndConnect(key, d.cfg.TargetPeers-n)
			}
		}
		select {
		case <-d.ctx.Done():
			return
		case <-d.kick:
		case <-time.After(jitter(interval)):
		}
		interval = min(2*interval, d.cfg.DiscoveryInterval)
	}
}

// reconnectPool dials up to 2*want members of the pool that are not
// connected, in random order, using the addresses the peerstore still
// holds. After a partition heals the DHT alone may not lead back: the
// routing table dropped the other side, and the rendezvous records of the
// other side may live only there.
func (d *Discovery) reconnectPool(want int) {
	var candidates []peer.ID
	for _, p := range d.Known() {
		if d.host.Network().Connectedness(p) != network.Connected && len(d.host.Peerstore().Addrs(p)) > 0 {
			candidates = append(candidates, p)
		}
	}
	rand.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	for i, p := range candidates {
		if want <= 0 || i >= 2*want || d.ctx.Err() != nil {
			return
		}
		ctx, cancel := context.WithTimeout(d.ctx, 5*time.Second)
		ctx = network.WithForceDirectDial(ctx, "murmur pool reconnect")
		err := d.host.Connect(ctx, peer.AddrInfo{ID: p})
		cancel()
		if err == nil {
			want--
		}
	}
}

// redialBootstrap dials the bootstrap peers once each (a node with no
// peers left).
func (d *Discovery) redialBootstrap() {
	for _, ai := range d.bootstrap {
		if d.ctx.Err() != nil || d.host.Network().Connectedness(ai.ID) == network.Connected {
			continue
		}
		ctx, cancel := context.WithTimeout(d.ctx, 5*time.Second)
		ctx = network.WithForceDirectDial(ctx, "murmur bootstrap redial")
		if err := d.host.Connect(ctx, ai); err != nil {
			log.Debugw("bootstrap redial failed", "peer", ai.ID, "error", err)
		}
		cancel()
	}
}

func (d *Discovery) findAndConnect(key string, want int) {
	// Connect to members as the lookup streams them in: the lookup itself
	// may run on for seconds (slow or unreachable DHT peers, for instance
	// across a partition), and the first providers are usually local
	// records that are ready at once.
	ctx, cancel := context.WithTimeout(d.ctx, 30*time.Second)
	defer cancel()
	found, err := d.rd.FindPeers(ctx, key)
	if err != nil {
		log.Debugw("rendezvous lookup failed", "key", key, "error", err)
		return
	}
	for ai := range found {
		if ai.ID == d.host.ID() || len(ai.Addrs) == 0 {
			continue
		}
		d.addToPool(ai.ID)
		if want <= 0 || d.host.Network().Connectedness(ai.ID) == network.Connected {
			continue // keep draining: the pool still learns of members
		}
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		// This loop paces its own dials (discovery_interval); the swarm's
		// dial backoff, grown while a partition refused every dial, would
		// otherwise keep a healed peer unreachable for minutes.
		cctx = network.WithForceDirectDial(cctx, "murmur discovery")
		err := d.host.Connect(cctx, ai)
		ccancel()
		if err != nil {
			log.Debugw("could not connect to discovered peer", "peer", ai.ID, "error", err)
			continue
		}
		want--
	}
}

// watchHost keeps the table in step with identify and connection events.
func (d *Discovery) watchHost(sub event.Subscription) {
	defer d.wg.Done()
	defer sub.Close()
	for {
		select {
		case <-d.ctx.Done():
			return
		case e, ok := <-sub.Out():
			if !ok {
				return
			}
			switch ev := e.(type) {
			case event.EvtPeerIdentificationCompleted:
				d.wakeIdentified()
				d.checkMember(ev.Peer)
			case event.EvtPeerIdentificationFailed:
				d.wakeIdentified()
			case event.EvtPeerProtocolsUpdated:
				d.checkMember(ev.Peer)
			case event.EvtPeerConnectednessChanged:
				if ev.Connectedness != network.Connected {
					d.leave(ev.Peer)
				} else {
					d.checkMember(ev.Peer)
				}
			}
		}
	}
}

// wakeIdentified wakes the stream handlers waiting for identify.
func (d *Discovery) wakeIdentified() {
	d.identMu.Lock()
	close(d.identified)
	d.identified = make(chan struct{})
	d.identMu.Unlock()
}

// checkMember adds p to the table if it is connected and a member: in an
// open network, if it serves the network's member protocol; in a closed
// one, once admitted (the check starts here).
func (d *Discovery) checkMember(p peer.ID) {
	if p == d.host.ID() || d.host.Network().Connectedness(p) != network.Connected {
		return
	}
	if d.admission != nil {
		if !d.Admitted(p) {
			if protos, err := d.host.Peerstore().GetProtocols(p); err == nil && len(protos) > 0 {
				d.startCheck(p) // identified: ask for its credential
			}
			return
		}
	} else if !d.isMember(p) {
		return
	}
	d.host.ConnManager().Protect(p, "murmur-table")
	d.mu.Lock()
	d.pool.Add(p, struct{}{})
	if _, ok := d.table[p]; ok || d.closed {
		d.mu.Unlock()
		return
	}
	d.table[p] = time.Now()
	d.publishLocked(PeerEvent{Kind: PeerJoined, Peer: p})
	d.mu.Unlock()
	log.Debugw("peer joined", "peer", p)
	// A new member means a better-filled routing table: advertise and look
	// again if still short.
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// isMember reports whether identify has shown p to serve the network's member
// protocol.
func (d *Discovery) isMember(p peer.ID) bool {
	protos, err := d.host.Peerstore().SupportsProtocols(p, d.member)
	return err == nil && len(protos) > 0
}

// KnownNonMember reports whether identify has shown that p does not serve
// the network's member protocol. It is false while p's protocols are not
// known yet, so that a member's first messages on a new connection are not
// lost to the race with identify. In a closed network it is true of every
// peer not admitted.
func (d *Discovery) KnownNonMember(p peer.ID) bool {
	if d.admission != nil {
		return !d.Admitted(p)
	}
	protos, err := d.host.Peerstore().GetProtocols(p)
	return err == nil && len(protos) > 0 && !d.isMember(p)
}

func (d *Discovery) leave(p peer.ID) {
	if d.host.Network().Connectedness(p) != network.Connected {
		d.forget(p)
	}
	d.host.ConnManager().Unprotect(p, "murmur-table")
	d.mu.Lock()
	if _, ok := d.table[p]; !ok {
		d.mu.Unlock()
		return
	}
	delete(d.table, p)
	if !d.closed {
		d.publishLocked(PeerEvent{Kind: PeerLeft, Peer: p})
	}
	d.mu.Unlock()
	log.Debugw("peer left", "peer", p)
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *Discovery) addToPool(p peer.ID) {
	d.mu.Lock()
	d.pool.Add(p, struct{}{})
	d.mu.Unlock()
}

// publishLocked delivers ev to every subscriber. A subscriber that does not
// keep up loses events rather than stalling discovery; Peers is the truth.
func (d *Discovery) publishLocked(ev PeerEvent) {
	for _, ch := range d.subs {
		select {
		case ch <- ev:
		default:
			log.Warnw("peer event subscriber is not keeping up; dropping event", "event", ev.Kind, "peer", ev.Peer)
		}
	}
}

func (d *Discovery) tableSize() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.table)
}

// Peers returns the connected members of the network, sorted by peer ID.
func (d *Discovery) Peers() []peer.ID {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]peer.ID, 0, len(d.table))
	for p := range d.table {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Known returns the members learnt of (the most recent poolSize),
// connected or not, sorted by peer ID.
func (d *Discovery) Known() []peer.ID {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.pool.Keys() // a fresh slice
	slices.Sort(out)
	return out
}

// Subscribe returns a channel of table changes, buffered with room for
// buffer events, and a function that ends the subscription. Events that do
// not fit are dropped (and logged); the subscriber can always re-read Peers.
func (d *Discovery) Subscribe(buffer int) (<-chan PeerEvent, func()) {
	ch := make(chan PeerEvent, max(buffer, 1))
	d.mu.Lock()
	id := d.nextID
	d.nextID++
	d.subs[id] = ch
	d.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			d.mu.Lock()
			delete(d.subs, id)
			d.mu.Unlock()
		})
	}
}

// FindPeer resolves the addresses of a peer through the DHT.
func (d *Discovery) FindPeer(ctx context.Context, id peer.ID) (peer.AddrInfo, error) {
	if d.dht == nil {
		return peer.AddrInfo{}, errors.New("find peer: discovery not started")
	}
	ai, err := d.dht.FindPeer(ctx, id)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("find peer %s: %w", id, err)
	}
	return ai, nil
}

// DHT returns the underlying DHT (nil before Start), for routing-level use.
func (d *Discovery) DHT() *dht.IpfsDHT { return d.dht }

// Close stops discovery and the DHT. It is idempotent. It does not close the
// host.
func (d *Discovery) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	d.host.RemoveStreamHandler(d.member)
	d.cancel()
	if d.mdns != nil {
		d.mdns.close()
	}
	d.wg.Wait()
	if d.dht != nil {
		if err := d.dht.Close(); err != nil {
			return fmt.Errorf("close DHT: %w", err)
		}
	}
	return nil
}

// poolSize bounds the pool: provider records can be published at will, so
// the pool keeps only the members learnt of most recently.
const poolSize = 4096

func newPool() *simplelru.LRU[peer.ID, struct{}] {
	pool, err := simplelru.NewLRU[peer.ID, struct{}](poolSize, nil)
	if err != nil {
		panic(err) // only for a non-positive size
	}
	return pool
}

// jitter spreads periodic work of many nodes apart: d plus up to 20%.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d + rand.N(d/5+1)
}
