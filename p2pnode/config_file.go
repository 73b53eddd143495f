package p2pnode

import (
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/murmur-p2p/murmur/internal/config"
)

// EnvPrefix starts the environment variables that override config keys:
// MURMUR_ followed by the key in capitals, dots as underscores
// (MURMUR_TARGET_PEERS, MURMUR_NAT_AUTONAT, MURMUR_BOOTSTRAP as a
// comma-separated list).
const EnvPrefix = "MURMUR_"

// ConfigFileName is the config file murmur init writes into a data dir.
const ConfigFileName = "config.yaml"

// LoadConfig builds a config the way the daemon does, each step overriding
// the one before: the defaults of the preset (named by MURMUR_PRESET, else
// by the file's preset key, else "default"); the YAML file at path, if path
// is not empty; overrides (command-line flags), if not nil; the MURMUR_*
// variables of environ. The result is validated; errors name the key (and
// the file).
func LoadConfig(path string, environ []string, overrides func(*Config)) (Config, error) {
	var data []byte
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return Config{}, fmt.Errorf("read config %s: %w", path, err)
		}
	}
	where := func(err error) error {
		if path != "" {
			return fmt.Errorf("config %s: %w", path, err)
		}
		return fmt.Errorf("config: %w", err)
	}
	preset := "default"
	var head struct {
		Preset string `yaml:"preset"`
	}
	if yaml.Unmarshal(data, &head) == nil && head.Preset != "" {
		preset = head.Preset
	}
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, EnvPrefix+"PRESET="); ok {
			preset = v
		}
	}
	cfg, err := PresetConfig(preset)
	if err != nil {
		return cfg, where(err)
	}
	if err := ParseConfig(data, &cfg); err != nil {
		return cfg, where(err)
	}
	if overrides != nil {
		overrides(&cfg)
	}
	if err := ApplyEnv(&cfg, environ); err != nil {
		return cfg, where(err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, where(err)
	}
	return cfg, nil
}

// ParseConfig decodes a YAML config over cfg. Unknown keys and bad values are
// errors naming the key; the result is not yet validated.
func ParseConfig(data []byte, cfg *Config) error {
	return config.DecodeYAML(data, cfg)
}

// ApplyEnv applies MURMUR_* overrides from environ (os.Environ's form).
func ApplyEnv(cfg *Config, environ []string) error {
	return config.ApplyEnv(cfg, EnvPrefix, environ)
}

// ConfigKeys lists every key a config file may set, as dotted paths.
func ConfigKeys() []string {
	var c Config
	return config.Keys(&c)
}

// DefaultConfigYAML is the commented default config that murmur init writes.
// Every setting is present but commented out ('#key: value', prose comments
// being '# text'), so the file documents the defaults without pinning them,
// and a preset chosen later still applies. TestDefaultConfigYAML checks that
// uncommenting every setting gives exactly DefaultConfig.
const DefaultConfigYAML = `# murmur node configuration.
# Every setting is shown commented out with its default value (for the
# default preset): remove the leading '#' to change one. Command-line flags
# override this file, and MURMUR_* environment variables override both
# (MURMUR_TARGET_PEERS=12, MURMUR_BOOTSTRAP=addr1,addr2, MURMUR_NAT_AUTONAT=true).

# A preset sets the defaults of the replication and resource settings below;
# explicit settings still win. default, high-throughput (wider fanout, shorter
# intervals), low-resource (narrow fanout, long intervals, small caches) or
# server (no mDNS).
preset: default

# Multiaddrs to listen on. Port 0 picks a free port.
#listen: [/ip4/0.0.0.0/tcp/4100, /ip4/0.0.0.0/udp/4100/quic-v1]

# Stream multiplexers offered on TCP, in order of preference: yamux, mplex
# (for peers that speak only mplex, such as some js-libp2p configurations).
#muxers: [yamux, mplex]

# Name of the murmur network to join. Nodes only see peers of the same network.
#network: murmur

# Full multiaddrs (ending in /p2p/<peer ID>) of nodes to join through, for
# example /ip4/192.0.2.7/tcp/4100/p2p/12D3KooW... Empty for the first node.
#bootstrap: []

# Start fails if bootstrap peers are set and none answers within this time.
#bootstrap_timeout: 30s

# Connected peers to keep in the peer table (found through the DHT).
#target_peers: 8

# How often to look for more peers while the table is below target_peers.
#discovery_interval: 10s

# DHT mode: server (answers DHT queries), client, or auto.
#dht_mode: server

# Find nodes of the same network on the local network by multicast DNS, with
# no bootstrap peer. Runs on the non-loopback interfaces the node listens on.
# Off in the server preset.
#mdns: true

# DHT to meet other members on: murmur (the network's own DHT, reached through
# bootstrap peers) or amino (the public IPFS DHT, /ipfs/kad/1.0.0, to meet
# across the internet; its public bootstrap peers are used when bootstrap is
# empty, and dht_mode auto or client suits most nodes there).
#dht: murmur

# Connection manager: trim to conn_low_water when above conn_high_water.
#conn_low_water: 32
#conn_high_water: 96

# NAT traversal, all off by default: port_map asks the router for a mapping
# (UPnP / NAT-PMP), autonat learns whether this node is publicly reachable,
# hole_punching enables DCUtR, relay reaches and is reached through circuit relays.
#nat: {port_map: false, autonat: false, hole_punching: false, relay: false}

# libp2p resource manager limits: memory (MiB) and file descriptors libp2p may
# use, and caps on connections and streams.
#resources: {max_memory_mb: 512, max_file_descriptors: 1024, max_connections: 400, max_streams: 4096, max_streams_per_peer: 256}

# How long a graceful shutdown may take.
#shutdown_timeout: 10s

# Where replicated state is kept: pebble (on disk in DATA/store), memory
# (nothing survives a restart) or postgres (tables in postgres_schema of the
# database postgres_dsn names; see docs/postgres.md).
#store: pebble
# Below this many MiB free on the store's file system, writes are refused
# (API 507, peers' events not acknowledged) until space returns, and the
# daemon does not start.
#store_min_free_mb: 64
#postgres_dsn: ""
#postgres_schema: murmur

# Frame compression: none, snappy or zstd, negotiated with each peer (peers
# that do not offer it get uncompressed frames). Frame bodies under
# compression_threshold bytes are sent as they are.
#compression: none
#compression_threshold: 512

# How new events spread: pushpull (push/ack with pull-sync fallback on
# murmur's own protocol) or gossipsub (a GossipSub topic per network).
# Digest sync runs under both.
#dissemination: pushpull

# Global order (off by default): with ordering: raft, the voters run Raft on
# /murmur/order/1.0.0 and every event gets one index of a global order,
# consistent with causality (GET /v1/order, murmur watch --ordered). Voters
# are peer IDs, the same list on every node (3 or 5; 1 for development);
# other nodes with ordering: raft follow as learners.
#ordering: none
#order_voters: []

# Replication: push/ack with pull-sync fallback, and digest sync.
#fanout: 3                    # peers each new event is pushed to
#pull_extra: 2                # ID-only announcements go to fanout + pull_extra peers
#push_hops: 1                 # hops of random payload push for an origin's first event (no push tree yet)
#max_hops: 32                 # announcements stop after this many hops
#max_events_per_message: 100
#max_message_size: 1114112    # bytes; a larger frame is refused before it is read
#dedup_cache_size: 4096       # recently seen event IDs kept in memory
#max_pending_events: 4096     # out-of-order events held while a gap is filled
#sync_interval: 1s            # digest sync with one chosen peer this often
#ack_timeout: 500ms           # a push is judged (majority rule) after this
#pull_timeout: 500ms          # a pull not answered by then asks another announcer
#suspect_timeout: 2s          # a peer that leaves a request unanswered this long is suspected
#fail_timeout: 6s             # ... and failed after this long; any message revives it
#probe_failed: 0.1            # share of digest syncs sent to failed peers (heals partitions)
#max_clock_skew: 1m           # remote clock readings further ahead are not adopted
#peer_selection: random       # random, round-robin, least-recently-contacted, most-reliable
#anti_entropy_interval: 15s   # Merkle anti-entropy with one chosen peer this often
#merkle_tree_depth: 16        # levels of the store's Merkle tree (2^depth leaves)
#full_sync_threshold: 0.1     # share of differing leaves past which a snapshot is pulled
#gc_interval: 1m              # garbage collection of superseded events and old tombstones
#tombstone_ttl: 24h           # a deleted key's tombstones are kept this long (the delete's evidence)
#gc_stall_timeout: 10m        # a peer whose vector lags without advancing this long stops holding GC back
#peer_forget_timeout: 30m     # a peer silent this long leaves the peer table
#max_origins: 8192            # origins (writers) tracked; events of further new origins are dropped
#max_origins_per_peer: 4096   # new origins one peer may introduce
#tick_interval: 100ms         # how often the engine's timers run
#inbox_size: 4096             # received messages waiting for the engine before drops

# Misbehaving peers: ban_threshold faults (malformed, oversize or invalid
# messages, stalls, refused events: what no honest node sends) within
# ban_window ban a peer for ban_duration (0 disables banning).
#ban_threshold: 20
#ban_window: 1m
#ban_duration: 10m
# Flow control, not bans, for load: each peer may cost peer_byte_rate bytes
# per second (bursts of peer_byte_burst), an event counting peer_event_cost
# bytes besides its own; a peer over it is slowed down (its stream is not
# read) for up to peer_rate_max_wait per message, then the message is dropped.
#peer_byte_rate: 67108864
#peer_byte_burst: 16777216
#peer_event_cost: 1024
#peer_rate_max_wait: 5s

# When not empty, the only peer IDs this node connects with.
#allow_peers: []

# Control API (HTTP/JSON, /metrics, /healthz) for the murmur CLI. Loopback only
# by default; any other address requires api_token (clients send
# "Authorization: Bearer TOKEN"). Port 0 picks a free port.
#api_addr: 127.0.0.1:4180
#api_token: ""
# The API requires a token even on loopback: api_token, else the one murmur
# init writes to DATA/api.token (0600), which the CLI reads by itself with
# --data. api_no_token: true lets loopback clients in without one (opt-in:
# any local process could then drive the node).
#api_no_token: false

# Closed networks (docs/architecture.md has the trust model). A private
# network key lets only nodes that hold it connect (TCP only: QUIC listen
# addresses are dropped, since QUIC cannot carry a pre-shared key). Set at
# most one: psk (64 hex digits), swarm_key_file (kubo's swarm.key format,
# relative to data_dir; murmur keygen writes one) or psk_passphrase (Argon2id:
# time 3, 64 MiB, 4 threads, salt "murmur/psk/v1/" + network).
#psk: ""
#swarm_key_file: ""
#psk_passphrase: ""
# Further keys (swarm.key files) accepted from peers during a key rotation,
# while this node still sends with its own (README: rotating the key).
#accept_swarm_key_files: []
# Connection security offered, most preferred first: noise, tls (TLS 1.3).
#security: [noise, tls]
# Authority key IDs whose member certificates this network trusts (murmur
# network create prints one; list two while rotating). Setting one closes the
# network: peers need a certificate (murmur network admit), reads and writes
# follow its role (reader, writer, admin) and key prefixes.
#network_authorities: []
# Authorities rotated out, as ID@2006-01-02T15:04:05Z: events their members
# signed before that time stay valid (history); they admit no one.
#retired_network_authorities: []
#member_cert_file: member.cert
`
