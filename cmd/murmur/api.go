package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/murmur-p2p/murmur/internal/controlapi"
	"github.com/murmur-p2p/murmur/p2pnode"
)

// apiFlags are the daemon's control API flags; they override the config
// file's api_addr and api_token (MURMUR_API_ADDR and MURMUR_API_TOKEN
// override both).
type apiFlags struct {
	addr  string
	token string
}

func (f *apiFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "api-addr", "", "control API address host:port (default "+controlapi.DefaultAddr+"; port 0 picks a free port; not loopback requires an API token)")
	fs.StringVar(&f.token, "api-token", "", "bearer token the control API requires (prefer api_token in the config or $"+envAPIToken+": flags show in ps)")
}

func (f *apiFlags) apply(cfg *p2pnode.Config) {
	if f.addr != "" {
		cfg.APIAddr = f.addr
	}
	if f.token != "" {
		cfg.APIToken = f.token
	}
}

// apiServer is the daemon's running control API and the file that tells
// clients where it is.
type apiServer struct {
	*controlapi.Server
	addrFile string
}

// startAPI serves the control API for node at the node config's api_addr
// and records the bound address in DATA/api.addr.
func startAPI(node *p2pnode.Node, reg *prometheus.Registry) (*apiServer, error) {
	nc := node.Config()
	token, err := daemonAPIToken(nc)
	if err != nil {
		return nil, err
	}
	cfg := controlapi.DefaultConfig()
	cfg.Addr, cfg.Token, cfg.Metrics = nc.APIAddr, token, reg
	srv, err := controlapi.NewServer(node, cfg)
	if err != nil {
		return nil, err
	}
	mountPprof(srv, os.Getenv)
	if err := srv.Start(); err != nil {
		return nil, err
	}
	a := &apiServer{Server: srv, addrFile: filepath.Join(node.Config().DataDir, apiAddrFileName)}
	tmp := a.addrFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(srv.Addr()+"\n"), 0o600); err != nil {
		srv.Close()
		return nil, fmt.Errorf("record API address: %w", err)
	}
	if err := os.Rename(tmp, a.addrFile); err != nil {
		srv.Close()
		return nil, fmt.Errorf("record API address: %w", err)
	}
	return a, nil
}

// Close stops the server and removes the address file.
func (a *apiServer) Close() error {
	os.Remove(a.addrFile)
	return a.Server.Close()
}
