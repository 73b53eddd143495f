// Package p2pnode is the embeddable murmur node: it assembles a go-libp2p
// host (TCP and QUIC, Noise, yamux and mplex, identify, ping, resource and connection
// managers) with DHT discovery, and is what the daemon and other Go programs
// run.
//
// Typical use:
//
//	cfg := p2pnode.DefaultConfig()
//	cfg.DataDir = "/var/lib/murmur"
//	cfg.Discovery.Bootstrap = []string{"/ip4/192.0.2.7/tcp/4100/p2p/12D3KooW..."}
//	n, err := p2pnode.New(cfg)
//	if err != nil { ... }
//	if err := n.Start(ctx); err != nil { ... }
//	defer n.Close()
//	fmt.Println(n.ID(), n.Addrs())
package p2pnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	logging "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	cmgr "github.com/libp2p/go-libp2p/p2p/net/connmgr"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/murmur-p2p/murmur/dhtdiscovery"
	"github.com/murmur-p2p/murmur/internal/version"
	"github.com/murmur-p2p/murmur/security"
	"github.com/murmur-p2p/murmur/sync/order"
)

var log = logging.Logger("murmur/node")

// ErrClosed is returned by operations on a node that has been closed.
var ErrClosed = errors.New("node is closed")

// Option adjusts a node beyond its Config, in the manner of libp2p.New's
// options: things a config file cannot hold, such as keys and callbacks.
type Option func(*options) error

type options struct {
	identity crypto.PrivKey
	gater    connmgr.ConnectionGater
	registry prometheus.Registerer
	extra    []libp2p.Option
	// host is a host given by WithHost; recvLoss the WithReceiveLoss hook.
	host     host.Host
	recvLoss func(peer.ID) bool
	// orderTune adjusts the ordering core's config (tests).
	orderTune func(*order.Config)
	// storeFS is the pebble store's file system (WithStoreFS).
	storeFS vfs.FS
	// clock is the engine's time source (WithClock).
	clock func() time.Time
}

// WithClock makes now the replication engine's clock (its ticks, hybrid
// logical clock and timeouts) instead of the system clock: for fault tests
// that jump a node's clock. Other timers of the node keep the system clock.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return errors.New("WithClock: nil clock")
		}
		o.clock = now
		return nil
	}
}

// WithStoreFS runs the pebble store on fs instead of the operating system's
// file system: an encrypting or instrumented file system, or, in tests, one
// that injects faults or reports little free space.
func WithStoreFS(fs vfs.FS) Option {
	return func(o *options) error {
		if fs == nil {
			return errors.New("WithStoreFS: nil file system")
		}
		o.storeFS = fs
		return nil
	}
}

// WithIdentity uses key as the node's identity instead of the key file in
// the data directory.
func WithIdentity(key crypto.PrivKey) Option {
	return func(o *options) error {
		if key == nil {
			return errors.New("WithIdentity: nil key")
		}
		o.identity = key
		return nil
	}
}

// WithConnectionGater installs a libp2p connection gater (allow-lists,
// partitions in tests).
func WithConnectionGater(g connmgr.ConnectionGater) Option {
	return func(o *options) error { o.gater = g; return nil }
}

// WithPrometheusRegisterer registers go-libp2p's metrics with reg. Without
// it, libp2p's metrics are off.
func WithPrometheusRegisterer(reg prometheus.Registerer) Option {
	return func(o *options) error { o.registry = reg; return nil }
}

// WithLibp2pOptions appends raw go-libp2p options, applied after murmur's
// own (so they win).
func WithLibp2pOptions(opts ...libp2p.Option) Option {
	return func(o *options) error { o.extra = append(o.extra, opts...); return nil }
}

// Node is a running murmur node. Create it with New, then Start it; Close
// stops it. Methods are safe for concurrent use.
type Node struct {
	cfg  Config
	opts options
	key  crypto.PrivKey
	id   peer.ID

	// bans scores peers by their faults and refuses banned (or, with an
	// allow-list, unlisted) peers' connections.
	bans *security.Banlist
	// psk is the private network key (nil: none); access the closed
	// network's rules (nil: an open network).
	psk       pnet.PSK
	pskAccept []pnet.PSK // further keys accepted during a rotation
	access    *security.Access
	// liveHost is the host from its creation in Start, readable without mu:
	// fault reports arrive from stream goroutines while Start still holds mu
	// (waiting for bootstrap peers).
	liveHost atomic.Pointer[host.Host]

	mu      sync.Mutex
	started bool
	closed  bool
	host    host.Host
	disc    *dhtdiscovery.Discovery
	repl    *replication
	ord     *ordering // nil unless ordering: raft
	// saver keeps DataDir/peers.json (peerstore.go).
	saver *peerSaver
}

// New validates cfg, loads (or, on first use, creates) the identity in
// cfg.DataDir and prepares the node. Nothing listens until Start.
func New(cfg Config, opts ...Option) (*Node, error) {
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	key := o.identity
	if key == nil {
		var created bool
		var err error
		key, created, err = security.LoadOrCreateIdentity(security.IdentityPath(cfg.DataDir))
		if err != nil {
			return nil, err
		}
		if created {
			log.Infow("created a new identity", "file", security.IdentityPath(cfg.DataDir))
		}
		// An identity that ran before may have written: with an empty
		// store the engine learns its own sequence from peers first
		// (replica.Config.ResumeIdentity). A marker beside the key says
		// it ran; `murmur daemon --reset-identity` removes both.
		used := IdentityUsedPath(cfg.DataDir)
		if _, err := os.Stat(used); err == nil && !created {
			cfg.Sync.ResumeIdentity = true
		} else if err := os.WriteFile(used, nil, 0o600); err != nil {
			return nil, fmt.Errorf("mark identity %s as used: %w", security.IdentityPath(cfg.DataDir), err)
		}
	}
	id, err := security.PeerIDFromKey(key)
	if err != nil {
		return nil, err
	}
	allow, err := cfg.allowList()
	if err != nil {
		return nil, err
	}
	bans := security.NewBanlist(cfg.Ban, nil, allow)
	psk, err := cfg.loadPSK()
	if err != nil {
		return nil, err
	}
	pskAccept, err := cfg.loadAcceptedPSKs()
	if err != nil {
		return nil, err
	}
	access, err := cfg.loadAccess(id)
	if err != nil {
		return nil, err
	}
	return &Node{cfg: cfg, opts: o, key: key, id: id, bans: bans, psk: psk, pskAccept: pskAccept, access: access}, nil
}

// IdentityUsedPath is the marker file that says the identity in dataDir
// has run a node (so it may have written events).
func IdentityUsedPath(dataDir string) string { return filepath.Join(dataDir, "identity.used") }

// ID returns the node's peer ID.
func (n *Node) ID() peer.ID { return n.id }

// Config returns the configuration the node was created with.
func (n *Node) Config() Config { return n.cfg }

// Start opens the listeners and joins the network: it returns once the node
// listens and, with bootstrap peers configured, one of them is connected
// (see dhtdiscovery.Discovery.Start).
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if n.started {
		return errors.New("start node: already started")
	}
	h, err := n.hostToUse()
	if err != nil {
		return err
	}
	n.liveHost.Store(&h)
	// Members remembered from the last run join the bootstrap peers
	// (peerstore.go).
	remembered := loadPeers(n.cfg.DataDir, n.id, time.Now())
	dcfg, err := withRememberedPeers(n.cfg.Discovery, addrInfos(remembered))
	if err != nil {
		h.Close()
		return err
	}
	var discOpts []dhtdiscovery.Option
	if n.access != nil {
		discOpts = append(discOpts, dhtdiscovery.WithAdmission(n.access))
	}
	disc, err := dhtdiscovery.New(h, dcfg, discOpts...)
	if err != nil {
		h.Close()
		return err
	}
	// Replication starts before discovery connects anywhere, so the first
	// peers already find the protocol handlers.
	if n.access != nil {
		n.access.OnRevoke(func(p peer.ID) {
			log.Warnw("member revoked; disconnecting", "peer", p)
			disc.Evict(p)
		})
	}
	repl, err := startReplication(n.cfg, n.key, h, disc, n.fault, n.opts, n.access)
	if err != nil {
		disc.Close()
		h.Close()
		return err
	}
	var ord *ordering
	if n.cfg.Ordering == OrderingRaft {
		if ord, err = startOrdering(n.cfg, n.id, disc.GatedHost(h), repl, disc.Peers, n.fault, n.opts.orderTune); err != nil {
			repl.close()
			disc.Close()
			h.Close()
			return err
		}
	}
	if err := disc.Start(ctx); err != nil {
		if ord != nil {
			_ = ord.close()
		}
		repl.close()
		disc.Close()
		h.Close()
		return fmt.Errorf("join network %q: %w", n.cfg.Discovery.Network, err)
	}
	n.host, n.disc, n.repl, n.ord, n.started = h, disc, repl, ord, true
	n.saver = startPeerSaver(n.cfg.DataDir, h, disc, remembered)
	if len(n.cfg.Discovery.Bootstrap) == 0 && len(remembered) > 0 {
		dialRemembered(context.Background(), h, addrInfos(remembered))
	}
	log.Infow("node started", "peer", n.id, "network", n.cfg.Discovery.Network, "addrs", h.Addrs())
	return nil
}

func (n *Node) newHost() (host.Host, error) {
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(n.resourceLimits()))
	if err != nil {
		return nil, fmt.Errorf("create resource manager: %w", err)
	}
	cm, err := cmgr.NewConnManager(n.cfg.ConnLowWater, n.cfg.ConnHighWater)
	if err != nil {
		return nil, fmt.Errorf("create connection manager: %w", err)
	}
	muxers, err := muxerOptions(n.cfg.Muxers)
	if err != nil {
		return nil, err
	}
	secOpts, listen, quicOK := n.securityOptions()
	opts := []libp2p.Option{
		libp2p.Identity(n.key),
		libp2p.ListenAddrStrings(listen...),
	}
	if quicOK {
		opts = append(opts, libp2p.Transport(quic.NewTransport))
	}
	opts = append(opts, secOpts...)
	opts = append(opts,
		libp2p.ChainOptions(muxers...),
		libp2p.UserAgent(version.Agent()),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.Ping(true),
	)
	nat := n.cfg.NAT
	if nat.PortMap {
		opts = append(opts, libp2p.NATPortMap())
	}
	if nat.AutoNAT {
		opts = append(opts, libp2p.EnableAutoNATv2())
	}
	if nat.HolePunching {
		opts = append(opts, libp2p.EnableHolePunching())
	}
	if nat.Relay {
		opts = append(opts, libp2p.EnableRelay())
	} else {
		opts = append(opts, libp2p.DisableRelay())
	}
	gate := gaters{n.bans}
	if n.opts.gater != nil {
		gate = append(gate, n.opts.gater)
	}
	opts = append(opts, libp2p.ConnectionGater(gate))
	if n.opts.registry != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(n.opts.registry))
	} else {
		opts = append(opts, libp2p.DisableMetrics())
	}
	opts = append(opts, n.opts.extra...)
	h, err := libp2p.New(opts...)
	if err != nil {
		rm.Close()
		cm.Close()
		return nil, fmt.Errorf("create libp2p host (listen %v): %w", n.cfg.Listen, err)
	}
	return h, nil
}

// resourceLimits scales libp2p's default limits to the configured memory and
// file descriptors, then caps connections and streams explicitly.
func (n *Node) resourceLimits() rcmgr.ConcreteLimitConfig {
	r := n.cfg.Resources
	scaling := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&scaling)
	base := scaling.Scale(int64(r.MaxMemoryMB)<<20, r.MaxFileDescriptors)
	partial := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Conns:   rcmgr.LimitVal(r.MaxConnections),
			Streams: rcmgr.LimitVal(r.MaxStreams),
		},
		PeerDefault: rcmgr.ResourceLimits{
			Streams: rcmgr.LimitVal(r.MaxStreamsPerPeer),
		},
	}
	return partial.Build(base)
}

// fault records a fault of p; a peer that reaches the ban threshold is
// disconnected and refused until its ban ends.
func (n *Node) fault(p peer.ID, what string) {
	if !n.bans.Fault(p) {
		return
	}
	log.Warnw("banning misbehaving peer", "peer", p, "last_fault", what, "for", n.cfg.Ban.Duration.String())
	if h := n.liveHost.Load(); h != nil {
		_ = (*h).Network().ClosePeer(p)
	}
}

// Banned lists the peers banned now, with when each ban ends.
func (n *Node) Banned() map[peer.ID]time.Time { return n.bans.BannedPeers() }

// Host returns the libp2p host, or nil before Start.
func (n *Node) Host() host.Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.host
}

// Discovery returns the node's discovery service, or nil before Start.
func (n *Node) Discovery() *dhtdiscovery.Discovery {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.disc
}

// Addrs returns the node's full multiaddrs, each ending in /p2p/<peer ID>,
// ready to give to other nodes as bootstrap addresses. Empty before Start.
func (n *Node) Addrs() []ma.Multiaddr {
	h := n.Host()
	if h == nil {
		return nil
	}
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.id, Addrs: h.Addrs()})
	if err != nil {
		return nil
	}
	return addrs
}

// Peers returns the connected members of the network (the peer table).
func (n *Node) Peers() []peer.ID {
	d := n.Discovery()
	if d == nil {
		return nil
	}
	return d.Peers()
}

// Close stops replication (no more messages are accepted or sent), closes
// the store, which flushes it, stops discovery and closes the host, ending
// every connection. It is idempotent and safe to call on a node that never
// started.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	h, d, r, o, saver := n.host, n.disc, n.repl, n.ord, n.saver
	n.mu.Unlock()
	var errs []error
	if saver != nil {
		saver.stop() // while the peer table is still there
	}
	if o != nil {
		if err := o.close(); err != nil {
			errs = append(errs, fmt.Errorf("close ordering: %w", err))
		}
	}
	// Stop accepting and replicating first, flush and close the store, then
	// leave the network.
	if r != nil {
		if err := r.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if d != nil {
		if err := d.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close discovery: %w", err))
		}
	}
	if h != nil {
		if err := h.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close host: %w", err))
		}
		log.Infow("node stopped", "peer", n.id)
	}
	return errors.Join(errs...)
}
