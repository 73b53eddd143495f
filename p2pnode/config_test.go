package p2pnode

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// uncomment turns every commented-out setting of the template ('#key: v',
// '#  - item') into a live one, leaving prose comments ('# text').
func uncomment(tmpl string) string {
	lines := strings.Split(tmpl, "\n")
	for i, ln := range lines {
		if strings.HasPrefix(ln, "#") && len(ln) > 1 && ln[1] != ' ' && ln[1] != '#' {
			lines[i] = ln[1:]
		}
	}
	return strings.Join(lines, "\n")
}

func TestDefaultConfigYAML(t *testing.T) {
	var asIs Config
	if err := ParseConfig([]byte(DefaultConfigYAML), &asIs); err != nil {
		t.Fatalf("default config template does not parse: %v", err)
	}
	if asIs.Preset != "default" || asIs.Discovery.TargetPeers != 0 {
		t.Fatalf("the template should set only the preset, got %+v", asIs)
	}
	var fromFile Config
	if err := ParseConfig([]byte(uncomment(DefaultConfigYAML)), &fromFile); err != nil {
		t.Fatalf("uncommented template does not parse: %v", err)
	}
	want := DefaultConfig()
	if !reflect.DeepEqual(fromFile, want) {
		t.Fatalf("template differs from DefaultConfig:\n got %+v\nwant %+v", fromFile, want)
	}
	for _, key := range ConfigKeys() {
		if key == "data_dir" {
			continue // given by --data, not written into the file
		}
		leaf := key[strings.LastIndex(key, ".")+1:]
		if !strings.Contains(DefaultConfigYAML, leaf+":") {
			t.Errorf("key %s is missing from DefaultConfigYAML", key)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name, yaml, env, want string
	}{
		{"unknown key", "target_peer: 3\n", "", `target_peer: unknown key (line 1); did you mean "target_peers"?`},
		{"unknown nested key", "nat:\n  autonatt: true\n", "", `nat.autonatt: unknown key (line 2)`},
		{"bad int", "target_peers: lots\n", "", `target_peers: invalid value "lots": want an integer`},
		{"bad bool", "nat:\n  relay: maybe\n", "", `nat.relay: invalid value "maybe": want true or false`},
		{"bad duration", "bootstrap_timeout: 5 minutes\n", "", `bootstrap_timeout: invalid value "5 minutes": want a duration`},
		{"list expected", "listen: /ip4/1.2.3.4/tcp/1\n", "", `listen: want a list (line 1)`},
		{"bad bootstrap multiaddr", "bootstrap:\n  - /ip4/127.0.0.1/tcp/1/p2p/12D3KooWGNNU5Lvm13RrTnBdxrHy7yJ4gLzjKLtiu53kEi6GLGTQ\n  - /ip4/1.2.3/tcp\n", "",
			`bootstrap[1]: invalid multiaddr "/ip4/1.2.3/tcp": `},
		{"bootstrap without peer ID", "bootstrap: [/ip4/127.0.0.1/tcp/4100]\n", "", `bootstrap[0]: multiaddr "/ip4/127.0.0.1/tcp/4100" must end in /p2p/<peer ID>`},
		{"bad listen", "listen: [/ip4/0.0.0.0/tcp/notaport]\n", "", `listen[0]: invalid multiaddr "/ip4/0.0.0.0/tcp/notaport"`},
		{"zero target", "target_peers: 0\n", "", `target_peers: invalid value 0: must be at least 1`},
		{"bad network", "network: Has Spaces\n", "", `network: invalid value "Has Spaces"`},
		{"bad dht mode", "dht_mode: peer\n", "", `dht_mode: invalid value "peer": want server, client or auto`},
		{"water order", "conn_low_water: 50\nconn_high_water: 40\n", "", `conn_high_water: invalid value 40: must be above conn_low_water (50)`},
		{"env bad int", "", "MURMUR_TARGET_PEERS=many", `target_peers (environment MURMUR_TARGET_PEERS): invalid value "many": want an integer`},
		{"env bad bootstrap", "", "MURMUR_BOOTSTRAP=/ip4/1.2.3/tcp", `bootstrap[0]: invalid multiaddr "/ip4/1.2.3/tcp"`},
		{"not a mapping", "- a\n- b\n", "", `want a mapping of keys to values`},
		{"bad api addr", "api_addr: localhost\n", "", `api_addr: invalid value "localhost": want host:port`},
		{"public api without token", "api_addr: 0.0.0.0:4180\n", "", `api_token: required when api_addr ("0.0.0.0:4180") is not a loopback address`},
		{"bad allow list", "allow_peers: [nobody]\n", "", `allow_peers[0]: invalid peer ID "nobody"`},
		{"negative ban threshold", "ban_threshold: -1\n", "", `ban_threshold: invalid value -1`},
		{"bad store", "store: sqlite\n", "", `store: invalid value "sqlite": want pebble, memory or postgres`},
		{"postgres without dsn", "store: postgres\n", "", `postgres_dsn: required with store: postgres`},
		{"bad compression", "compression: gzip\n", "", `compression: invalid value "gzip": want none, snappy or zstd`},
		{"zero compression threshold", "compression_threshold: 0\n", "", `compression_threshold: invalid value 0: must be at least 1`},
		{"bad peer selection", "peer_selection: best\n", "", `peer_selection: invalid value "best"`},
		{"engine key named", "fanout: -2\n", "", `fanout: invalid value -2: must not be negative`},
		{"two documents", "network: a\n---\nnetwork: b\n", "", `more than one YAML document`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.DataDir = t.TempDir()
			err := ParseConfig([]byte(tc.yaml), &cfg)
			if err == nil && tc.env != "" {
				err = ApplyEnv(&cfg, []string{tc.env})
			}
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil {
				t.Fatalf("expected an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestConfigOverrides(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	file := "target_peers: 5\nnat:\n  autonat: true\nbootstrap_timeout: 3s\n"
	if err := ParseConfig([]byte(file), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Discovery.TargetPeers != 5 || !cfg.NAT.AutoNAT || cfg.Discovery.BootstrapTimeout != 3*time.Second {
		t.Fatalf("file not applied: %+v", cfg)
	}
	if cfg.ConnHighWater != DefaultConfig().ConnHighWater {
		t.Fatal("a key absent from the file lost its default")
	}
	env := []string{
		"MURMUR_TARGET_PEERS=7",
		"MURMUR_LISTEN=/ip4/127.0.0.1/tcp/0, /ip4/127.0.0.1/udp/0/quic-v1",
		"MURMUR_NAT_RELAY=true",
		"MURMUR_API=127.0.0.1:1", // not a config key: left for the CLI
		"HOME=/root",
	}
	if err := ApplyEnv(&cfg, env); err != nil {
		t.Fatal(err)
	}
	if cfg.Discovery.TargetPeers != 7 || !cfg.NAT.Relay || len(cfg.Listen) != 2 || cfg.Listen[1] != "/ip4/127.0.0.1/udp/0/quic-v1" {
		t.Fatalf("environment not applied: %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestPresets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	withDir := func(c *Config) { c.DataDir = dir }

	// The file init writes, with the preset switched, takes the preset's values.
	write(strings.Replace(DefaultConfigYAML, "preset: default", "preset: low-resource", 1))
	cfg, err := LoadConfig(path, nil, withDir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sync.Fanout != 2 || cfg.Sync.SyncInterval != 5*time.Second || cfg.Discovery.TargetPeers != 4 {
		t.Fatalf("low-resource preset not applied: fanout %d, sync_interval %s, target_peers %d",
			cfg.Sync.Fanout, cfg.Sync.SyncInterval, cfg.Discovery.TargetPeers)
	}
	// Explicit settings win over the preset.
	write("preset: high-throughput\nfanout: 4\n")
	cfg, err = LoadConfig(path, nil, withDir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sync.Fanout != 4 || cfg.Sync.SyncInterval != 500*time.Millisecond {
		t.Fatalf("high-throughput with fanout 4: got fanout %d, sync_interval %s", cfg.Sync.Fanout, cfg.Sync.SyncInterval)
	}
	// MURMUR_PRESET chooses the preset over the file; flags and env still win.
	cfg, err = LoadConfig(path, []string{"MURMUR_PRESET=low-resource", "MURMUR_SYNC_INTERVAL=2s"}, withDir)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Preset != "low-resource" || cfg.Sync.Fanout != 4 || cfg.Sync.SyncInterval != 2*time.Second || cfg.Sync.DedupCacheSize != 512 {
		t.Fatalf("env preset: %+v", cfg.Sync)
	}
	write("preset: turbo\n")
	if _, err := LoadConfig(path, nil, withDir); err == nil || !strings.Contains(err.Error(), `preset: invalid value "turbo": want default, high-throughput, low-resource`) {
		t.Fatalf("bad preset: %v", err)
	}
	if _, err := LoadConfig(path+".missing", nil, withDir); err == nil || !strings.Contains(err.Error(), "read config") {
		t.Fatalf("missing file: %v", err)
	}
}
