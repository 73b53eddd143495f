package main

import (
	"errors"
	"flag"
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
	// extra, if set, applies more flags (the daemon's API flags).
	extra func(*p2pnode.Config)
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

// load builds the config with p2pnode.LoadConfig: the preset's defaults, the
// config file (which must exist when named with --config; DATA/config.yaml
// is optional), flags, then MURMUR_* environment variables.
func (f *nodeFlags) load(environ []string) (p2pnode.Config, error) {
	if f.dataDir == "" {
		return p2pnode.Config{}, errors.New("--data DIR is required")
	}
	path := f.configFile
	if path == "" {
		path = filepath.Join(f.dataDir, p2pnode.ConfigFileName)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			path = ""
		}
	}
	return p2pnode.LoadConfig(path, environ, func(c *p2pnode.Config) {
		c.DataDir = f.dataDir
		f.applyFlags(c)
	})
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
	if f.extra != nil {
		f.extra(cfg)
	}
}
