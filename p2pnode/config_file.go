package p2pnode

import (
	"fmt"
	"os"

	"github.com/murmur-p2p/murmur/internal/config"
)

// EnvPrefix starts the environment variables that override config keys:
// MURMUR_ followed by the key in capitals, dots as underscores
// (MURMUR_TARGET_PEERS, MURMUR_NAT_AUTONAT, MURMUR_BOOTSTRAP as a
// comma-separated list).
const EnvPrefix = "MURMUR_"

// ConfigFileName is the config file murmur init writes into a data dir.
const ConfigFileName = "config.yaml"

// ParseConfig decodes a YAML config over cfg. Unknown keys and bad values are
// errors naming the key; the result is not yet validated.
func ParseConfig(data []byte, cfg *Config) error {
	return config.DecodeYAML(data, cfg)
}

// LoadConfigFile decodes the YAML file at path over cfg.
func LoadConfigFile(path string, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config %s: %w", path, err)
	}
	if err := ParseConfig(data, cfg); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
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
// Every key is present with its default value, so the file documents itself;
// TestDefaultConfigYAML keeps it equal to DefaultConfig.
const DefaultConfigYAML = `# murmur node configuration.
# Every key is shown with its default. Command-line flags override this file,
# and MURMUR_* environment variables override both (MURMUR_TARGET_PEERS=12,
# MURMUR_BOOTSTRAP=addr1,addr2, MURMUR_NAT_AUTONAT=true).

# Multiaddrs to listen on. Port 0 picks a free port.
listen:
  - /ip4/0.0.0.0/tcp/4100
  - /ip4/0.0.0.0/udp/4100/quic-v1

# Name of the murmur network to join. Nodes only see peers of the same network.
network: murmur

# Full multiaddrs (ending in /p2p/<peer ID>) of nodes to join through, for
# example /ip4/192.0.2.7/tcp/4100/p2p/12D3KooW... Empty for the first node.
bootstrap: []

# Start fails if bootstrap peers are set and none answers within this time.
bootstrap_timeout: 30s

# Connected peers to keep in the peer table (found through the DHT).
target_peers: 8

# How often to look for more peers while the table is below target_peers.
discovery_interval: 10s

# DHT mode: server (answers DHT queries), client, or auto.
dht_mode: server

# Connection manager: trim to conn_low_water when above conn_high_water.
conn_low_water: 32
conn_high_water: 96

# NAT traversal, all off by default.
nat:
  port_map: false       # ask the router for a port mapping (UPnP / NAT-PMP)
  autonat: false        # learn whether this node is publicly reachable
  hole_punching: false  # DCUtR hole punching
  relay: false          # reach and be reached through circuit relays

# libp2p resource manager limits.
resources:
  max_memory_mb: 512
  max_file_descriptors: 1024
  max_connections: 400
  max_streams: 4096
  max_streams_per_peer: 256

# How long a graceful shutdown may take.
shutdown_timeout: 10s

# Where replicated state is kept: pebble (on disk in DATA/store) or memory
# (nothing survives a restart).
store: pebble

# Replication: push/ack with pull-sync fallback, and digest sync.
fanout: 3                    # peers each new event is pushed to
pull_extra: 2                # ID-only announcements go to fanout + pull_extra peers
push_hops: 2                 # hops of eager payload push before announce/pull takes over
max_hops: 32                 # announcements stop after this many hops
max_events_per_message: 100
max_message_size: 1048576    # bytes; a larger frame is refused before it is read
dedup_cache_size: 4096       # recently seen event IDs kept in memory
max_pending_events: 4096     # out-of-order events held while a gap is filled
sync_interval: 1s            # digest sync with one chosen peer this often
ack_timeout: 500ms           # a push is judged (majority rule) after this
pull_timeout: 500ms          # a pull not answered by then asks another announcer
suspect_timeout: 2s          # a peer that leaves a request unanswered this long is suspected
fail_timeout: 6s             # ... and failed after this long; any message revives it
probe_failed: 0.1            # share of digest syncs sent to failed peers (heals partitions)
max_clock_skew: 1m           # remote clock readings further ahead are not adopted
peer_selection: random       # random, round-robin, least-recently-contacted, most-reliable
tick_interval: 100ms         # how often the engine's timers run
inbox_size: 4096             # received messages waiting for the engine before drops
`
