package p2pnode

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/murmur-p2p/murmur/dhtdiscovery"
	"github.com/murmur-p2p/murmur/protocol"
	"github.com/murmur-p2p/murmur/security"
	"github.com/murmur-p2p/murmur/sync/pebblestore"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// Config is the configuration of a node. Its yaml tags are the keys of the
// daemon's config file (see docs/config.md); DefaultConfig documents the
// defaults. Discovery's keys (network, bootstrap, target_peers, ...) sit at
// the top level of the file.
type Config struct {
	// Preset names the preset the defaults came from (see PresetConfig).
	Preset string `yaml:"preset"`
	// DataDir holds the identity key and, later, the store. Required.
	DataDir string `yaml:"data_dir"`
	// Listen lists the multiaddrs to listen on; port 0 picks a free port.
	Listen []string `yaml:"listen"`
	// Muxers lists the stream multiplexers offered on TCP connections, in
	// order of preference: "yamux", "mplex" (QUIC multiplexes natively).
	Muxers []string `yaml:"muxers"`
	// Discovery configures the DHT, bootstrap and the peer table.
	Discovery dhtdiscovery.Config `yaml:",inline"`
	// ConnLowWater and ConnHighWater bound the connection manager: above
	// high water it trims connections down to low water (table peers are
	// protected from trimming).
	ConnLowWater  int `yaml:"conn_low_water"`
	ConnHighWater int `yaml:"conn_high_water"`
	// NAT configures NAT traversal; all off by default.
	NAT NATConfig `yaml:"nat"`
	// Resources sets the libp2p resource manager's system-wide limits.
	Resources ResourceConfig `yaml:"resources"`
	// ShutdownTimeout bounds a graceful Close.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`

	// Store is "pebble" (on disk in DataDir/store; the default) or "memory"
	// (nothing survives a restart; for tests and ephemeral nodes), or
	// "postgres" (tables in PostgresSchema of the PostgreSQL database at
	// PostgresDSN; see docs/postgres.md).
	Store string `yaml:"store"`
	// StoreMinFreeMB: the pebble store refuses writes (the API answers 507,
	// peers' events are not acknowledged) while its file system has fewer
	// MiB free, takes them again by itself once space returns, and the
	// node does not start below it. Default 64: room for the store to
	// flush and compact after its last accepted write (see
	// pebblestore.DefaultMinFreeBytes).
	StoreMinFreeMB int `yaml:"store_min_free_mb"`
	// PostgresDSN is the connection string of store: postgres, in libpq's
	// keyword/value or URL form. Empty by default: there is no server to
	// assume; required with store: postgres.
	PostgresDSN string `yaml:"postgres_dsn"`
	// PostgresSchema is the schema holding the node's tables with store:
	// postgres. Default "murmur"; nodes sharing a database need one each
	// (a schema is locked by the node that has it open).
	PostgresSchema string `yaml:"postgres_schema"`
	// Compression is what this node compresses its frames with: "none"
	// (the default: murmur's own frames are mostly signatures, hashes and
	// IDs, which do not compress, so only nodes carrying compressible
	// values gain), "snappy" or "zstd". It is negotiated per stream with
	// each peer (docs/protocol.md, "Compression"): a peer that does not
	// offer it gets uncompressed frames, so mixed versions interoperate.
	Compression string `yaml:"compression"`
	// CompressionThreshold is the smallest frame body, in bytes, that is
	// compressed; smaller ones are sent as they are. Default 512: below it
	// the saving is a few bytes and not worth the CPU.
	CompressionThreshold int `yaml:"compression_threshold"`
	// Dissemination is how new events spread: "pushpull" (the engine's
	// push/ack with announce/pull fallback on /murmur/push/1.0.0; the
	// default) or "gossipsub" (a GossipSub topic per network, EventsTopic).
	// Digest sync runs unchanged under both.
	Dissemination string `yaml:"dissemination"`
	// Ordering is "none" (the default: no global order, nothing extra runs)
	// or "raft": the voters in OrderVoters run Raft on /murmur/order/1.0.0
	// and every event gets one global order index (package sync/order).
	Ordering string `yaml:"ordering"`
	// OrderVoters lists the peer IDs of the ordering group's initial voters:
	// 1 (development only), 3, 5 or 7, the same list on every node. Other
	// nodes with ordering: raft join as learners.
	OrderVoters []string `yaml:"order_voters"`
	// Sync tunes the replication engine; its keys (fanout, sync_interval,
	// max_message_size, ...) sit at the top level of the file.
	Sync replica.Config `yaml:",inline"`
	// TickInterval is how often the engine's timers run (timeouts, the
	// failure detector, digest sync scheduling).
	TickInterval time.Duration `yaml:"tick_interval"`
	// InboxSize bounds received messages waiting for the engine; beyond it
	// they are dropped and recovered by the protocols.
	InboxSize int `yaml:"inbox_size"`

	// Ban bans peers that commit too many faults (malformed, oversize or
	// invalid messages, stalls, refused events, rate-limit breaches).
	Ban security.BanConfig `yaml:",inline"`
	// Rate limits the messages accepted from each peer.
	Rate security.RateConfig `yaml:",inline"`
	// AllowPeers, when not empty, is the only set of peer IDs this node
	// connects with.
	AllowPeers []string `yaml:"allow_peers"`
	// APIAddr is the host:port of the daemon's control API (HTTP/JSON,
	// /metrics, /healthz); port 0 picks a free port. Loopback by default.
	APIAddr string `yaml:"api_addr"`
	// APIToken is the bearer token clients must send; required when APIAddr
	// is not a loopback address.
	APIToken string `yaml:"api_token"`

	// Access says who may connect (private network key, security
	// transports) and what members may do (network authorities, member
	// certificate); open by default. Its keys sit at the top level.
	Access AccessConfig `yaml:",inline"`
}

// NATConfig switches NAT traversal features on. They need a reachable
// network and are off by default, and in tests.
type NATConfig struct {
	// PortMap asks the router for a port mapping (UPnP / NAT-PMP).
	PortMap bool `yaml:"port_map"`
	// AutoNAT runs AutoNAT v2 to learn whether this node is reachable.
	AutoNAT bool `yaml:"autonat"`
	// HolePunching enables DCUtR hole punching through relayed connections.
	HolePunching bool `yaml:"hole_punching"`
	// Relay lets the node reach and be reached through circuit relays.
	Relay bool `yaml:"relay"`
}

// ResourceConfig holds the resource manager's explicit limits.
type ResourceConfig struct {
	// MaxMemoryMB caps the memory libp2p may reserve for connections and
	// streams, in MiB.
	MaxMemoryMB int `yaml:"max_memory_mb"`
	// MaxFileDescriptors caps the file descriptors libp2p may use.
	MaxFileDescriptors int `yaml:"max_file_descriptors"`
	// MaxConnections caps open connections, inbound and outbound together.
	MaxConnections int `yaml:"max_connections"`
	// MaxStreams caps open streams across all connections.
	MaxStreams int `yaml:"max_streams"`
	// MaxStreamsPerPeer caps open streams to any one peer.
	MaxStreamsPerPeer int `yaml:"max_streams_per_peer"`
}

// DefaultConfig returns the defaults: TCP and QUIC on all IPv4 interfaces at
// port 4100, discovery's defaults, and modest resource limits.
func DefaultConfig() Config {
	return Config{
		Preset: "default",
		Listen: []string{
			"/ip4/0.0.0.0/tcp/4100",
			"/ip4/0.0.0.0/udp/4100/quic-v1",
		},
		// yamux first (flow control per stream); mplex for peers that speak
		// only mplex, such as some js-libp2p configurations.
		Muxers:          []string{MuxerYamux, MuxerMplex},
		Discovery:       dhtdiscovery.DefaultConfig(),
		ConnLowWater:    32, // well above target_peers: DHT queries need connections too
		ConnHighWater:   96,
		Resources:       DefaultResourceConfig(),
		ShutdownTimeout: 10 * time.Second,
		Store:           "pebble",
		StoreMinFreeMB:  pebblestore.DefaultMinFreeBytes >> 20,
		Dissemination:   DisseminationPushPull,
		Ordering:        OrderingNone, // ordering costs a Raft group; only applications that need one order pay for it
		Sync:            replica.DefaultConfig(),
		TickInterval:    100 * time.Millisecond, // a fifth of the engine's shortest timeout
		InboxSize:       4096,                   // a burst of ~40 full batches before dropping
		Ban:             security.DefaultBanConfig(),
		Rate:            security.DefaultRateConfig(),
		APIAddr:         "127.0.0.1:4180", // loopback: only local programs reach the API

		// store: postgres and frame compression (see the fields).
		PostgresSchema:       "murmur",
		Compression:          "none",
		CompressionThreshold: 512,

		// closed networks: open by default, Noise and TLS offered (see AccessConfig).
		Access: DefaultAccessConfig(),
	}
}

// DefaultResourceConfig returns limits that let a node hold a few hundred
// peers while bounding what a flood of connections can take.
func DefaultResourceConfig() ResourceConfig {
	return ResourceConfig{
		MaxMemoryMB:        512,
		MaxFileDescriptors: 1024, // half of a common 'ulimit -n' of 2048 or more
		MaxConnections:     400,
		MaxStreams:         4096,
		MaxStreamsPerPeer:  256,
	}
}

// Presets lists the preset names PresetConfig accepts.
var presetNames = []string{"default", "high-throughput", "low-resource", "server"}

// PresetConfig returns the defaults of a named preset, after the Dart seed's
// presets:
//   - "default": DefaultConfig.
//   - "high-throughput": favours latency and volume: fanout 5, two hops of
//     first-event push, digest sync every 500 ms, 500 events per message, timers
//     every 50 ms, 12 peers.
//   - "low-resource": favours bandwidth, memory and file descriptors:
//     fanout 2, one first-event push hop, digest sync every 5 s, small caches, 4 peers
//     and tighter libp2p limits.
//   - "server": a node in a data centre, joined through bootstrap peers and
//     the DHT: mDNS off (a server's LAN is not where its peers are, and
//     multicast there is unwelcome).
func PresetConfig(name string) (Config, error) {
	c := DefaultConfig()
	c.Preset = name
	switch name {
	case "default":
	case "high-throughput":
		c.Sync = replica.HighThroughputConfig()
		c.TickInterval = 50 * time.Millisecond
		c.Discovery.TargetPeers = 12
	case "low-resource":
		c.Sync = replica.LowResourceConfig()
		c.TickInterval = 250 * time.Millisecond
		c.Discovery.TargetPeers = 4
		c.ConnLowWater, c.ConnHighWater = 16, 48
		c.Resources = ResourceConfig{MaxMemoryMB: 128, MaxFileDescriptors: 256, MaxConnections: 128, MaxStreams: 1024, MaxStreamsPerPeer: 64}
		c.InboxSize = 1024
	case "server":
		c.Discovery.MDNS = false
	default:
		return c, fmt.Errorf("preset: invalid value %q: want %s", name, strings.Join(presetNames, ", "))
	}
	return c, nil
}

// Validate checks every field and names the key and value at fault.
func (c Config) Validate() error {
	if !slices.Contains(presetNames, c.Preset) {
		return fmt.Errorf("preset: invalid value %q: want %s", c.Preset, strings.Join(presetNames, ", "))
	}
	if c.DataDir == "" {
		return fmt.Errorf("data_dir: required (the directory that holds the node's identity and store)")
	}
	if len(c.Listen) == 0 {
		return fmt.Errorf("listen: at least one multiaddr is required")
	}
	for i, s := range c.Listen {
		if _, err := ma.NewMultiaddr(s); err != nil {
			return fmt.Errorf("listen[%d]: invalid multiaddr %q: %w", i, s, err)
		}
	}
	if err := validateMuxers(c.Muxers); err != nil {
		return err
	}
	if err := c.Discovery.Validate(); err != nil {
		return err
	}
	if c.ConnLowWater < 1 {
		return fmt.Errorf("conn_low_water: invalid value %d: must be at least 1", c.ConnLowWater)
	}
	if c.ConnHighWater <= c.ConnLowWater {
		return fmt.Errorf("conn_high_water: invalid value %d: must be above conn_low_water (%d)", c.ConnHighWater, c.ConnLowWater)
	}
	if c.ConnLowWater < c.Discovery.TargetPeers {
		return fmt.Errorf("conn_low_water: invalid value %d: must be at least target_peers (%d)", c.ConnLowWater, c.Discovery.TargetPeers)
	}
	r := c.Resources
	for _, f := range []struct {
		key string
		val int
	}{
		{"resources.max_memory_mb", r.MaxMemoryMB},
		{"resources.max_file_descriptors", r.MaxFileDescriptors},
		{"resources.max_connections", r.MaxConnections},
		{"resources.max_streams", r.MaxStreams},
		{"resources.max_streams_per_peer", r.MaxStreamsPerPeer},
	} {
		if f.val < 1 {
			return fmt.Errorf("%s: invalid value %d: must be at least 1", f.key, f.val)
		}
	}
	if r.MaxConnections < c.ConnHighWater {
		return fmt.Errorf("resources.max_connections: invalid value %d: must be at least conn_high_water (%d)", r.MaxConnections, c.ConnHighWater)
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("shutdown_timeout: invalid value %s: must be positive", c.ShutdownTimeout)
	}
	if c.StoreMinFreeMB < 0 {
		return fmt.Errorf("store_min_free_mb: invalid value %d: must not be negative", c.StoreMinFreeMB)
	}
	if c.Store != "pebble" && c.Store != "memory" && c.Store != "postgres" {
		return fmt.Errorf("store: invalid value %q: want pebble, memory or postgres", c.Store)
	}
	if c.Store == "postgres" && c.PostgresDSN == "" {
		return fmt.Errorf("postgres_dsn: required with store: postgres (for example host=/run/postgresql dbname=murmur)")
	}
	if _, err := protocol.ParseCompression(c.Compression); err != nil {
		return fmt.Errorf("compression: %w", err)
	}
	if c.CompressionThreshold < 1 {
		return fmt.Errorf("compression_threshold: invalid value %d: must be at least 1 (bytes)", c.CompressionThreshold)
	}
	if c.Dissemination != DisseminationPushPull && c.Dissemination != DisseminationGossipSub {
		return fmt.Errorf("dissemination: invalid value %q: want %s or %s", c.Dissemination, DisseminationPushPull, DisseminationGossipSub)
	}
	if err := c.validateOrdering(); err != nil {
		return err
	}
	if err := c.Sync.Validate(); err != nil {
		return err
	}
	if c.TickInterval < time.Millisecond || c.TickInterval > time.Second {
		return fmt.Errorf("tick_interval: invalid value %s: must be between 1ms and 1s", c.TickInterval)
	}
	if c.InboxSize < 1 {
		return fmt.Errorf("inbox_size: invalid value %d: must be at least 1", c.InboxSize)
	}
	if c.Ban.Threshold < 0 {
		return fmt.Errorf("ban_threshold: invalid value %d: must not be negative (0 disables banning)", c.Ban.Threshold)
	}
	if c.Ban.Threshold > 0 && (c.Ban.Window <= 0 || c.Ban.Duration <= 0) {
		return fmt.Errorf("ban_window, ban_duration: invalid values %s, %s: must be positive", c.Ban.Window, c.Ban.Duration)
	}
	if err := c.Rate.Validate(); err != nil {
		return err
	}
	if _, err := c.allowList(); err != nil {
		return err
	}
	if err := c.Access.validate(); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(c.APIAddr)
	if err != nil {
		return fmt.Errorf("api_addr: invalid value %q: want host:port (%v)", c.APIAddr, err)
	}
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" && c.APIToken == "" {
		return fmt.Errorf("api_token: required when api_addr (%q) is not a loopback address", c.APIAddr)
	}
	return nil
}

// allowList parses AllowPeers.
func (c Config) allowList() ([]peer.ID, error) {
	var out []peer.ID
	for i, s := range c.AllowPeers {
		p, err := peer.Decode(s)
		if err != nil {
			return nil, fmt.Errorf("allow_peers[%d]: invalid peer ID %q: %w", i, s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func (c Config) validateOrdering() error {
	switch c.Ordering {
	case OrderingNone:
		return nil
	case OrderingRaft:
	default:
		return fmt.Errorf("ordering: invalid value %q: want %s or %s", c.Ordering, OrderingNone, OrderingRaft)
	}
	if n := len(c.OrderVoters); n != 1 && n != 3 && n != 5 && n != 7 {
		return fmt.Errorf("order_voters: %d voters: want 3 or 5 (1 for development, 7 at most)", n)
	}
	seen := map[peer.ID]bool{}
	for i, v := range c.OrderVoters {
		p, err := peer.Decode(v)
		if err != nil {
			return fmt.Errorf("order_voters[%d]: invalid peer ID %q: %w", i, v, err)
		}
		if seen[p] {
			return fmt.Errorf("order_voters[%d]: %s is listed twice", i, v)
		}
		seen[p] = true
	}
	return nil
}
