package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/murmur-p2p/murmur/p2pnode"
)

// nodeFlags are the flags shared by commands that build a node config.
// Flags override the config file; MURMUR_* environment variables override
// both.
type nodeFlags struct {
	dataDir     string
	configFile  string
	listen      listFlag
	bootstrap   listFlag
	network     string
	targetPeers int
}

func (f *nodeFlags) register(fs *flag.FlagSet, withConfigFile bool) {
	fs.StringVar(&f.dataDir, "data", "", "data directory holding the identity and config (required)")
	if withConfigFile {
		fs.StringVar(&f.configFile, "config", "", "config file (default DATA/config.yaml)")
	}
	fs.Var(&f.listen, "listen", "multiaddr to listen on (repeatable; port 0 picks a free port)")
	fs.Var(&f.bootstrap, "bootstrap", "full /p2p/ multiaddr of a node to join through (repeatable)")
	fs.StringVar(&f.network, "network", "", "network name (default murmur)")
	fs.IntVar(&f.targetPeers, "target-peers", 0, "connected peers to keep (default 8)")
}

// load builds the config: defaults, then the config file (which must exist
// when named with --config; DATA/config.yaml is optional), then flags, then
// the environment, and validates it.
func (f *nodeFlags) load(environ []string) (p2pnode.Config, error) {
	cfg := p2pnode.DefaultConfig()
	if f.dataDir == "" {
		return cfg, errors.New("--data DIR is required")
	}
	cfg.DataDir = f.dataDir
	path := f.configFile
	if path == "" {
		path = filepath.Join(f.dataDir, p2pnode.ConfigFileName)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			path = ""
		}
	}
	if path != "" {
		if err := p2pnode.LoadConfigFile(path, &cfg); err != nil {
			return cfg, err
		}
	}
	f.applyFlags(&cfg)
	if err := p2pnode.ApplyEnv(&cfg, environ); err != nil {
		return cfg, err
	}
	cfg.DataDir = f.dataDir
	if err := cfg.Validate(); err != nil {
		if path != "" {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

func (f *nodeFlags) applyFlags(cfg *p2pnode.Config) {
	if len(f.listen) > 0 {
		cfg.Listen = append([]string(nil), f.listen...)
	}
	if len(f.bootstrap) > 0 {
		cfg.Discovery.Bootstrap = append([]string(nil), f.bootstrap...)
	}
	if f.network != "" {
		cfg.Discovery.Network = f.network
	}
	if f.targetPeers != 0 {
		cfg.Discovery.TargetPeers = f.targetPeers
	}
}
