package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/murmur-p2p/murmur/internal/controlapi"
	"github.com/murmur-p2p/murmur/p2pnode"
)

// apiFlags are the daemon's control API flags.
type apiFlags struct {
	addr  string
	token string
}

func (f *apiFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "api-addr", "", "control API address host:port (default "+controlapi.DefaultAddr+"; port 0 picks a free port; not loopback requires --api-token)")
	fs.StringVar(&f.token, "api-token", "", "bearer token the control API requires (default $"+envAPIToken+"; required off loopback)")
}

// config builds the control API config: defaults, then flags, then the
// MURMUR_API_ADDR and MURMUR_API_TOKEN environment variables.
func (f *apiFlags) config(environ []string) (controlapi.Config, error) {
	c := controlapi.DefaultConfig()
	if f.addr != "" {
		c.Addr = f.addr
	}
	if f.token != "" {
		c.Token = f.token
	}
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, p2pnode.EnvPrefix+"API_ADDR="); ok && v != "" {
			c.Addr = v
		}
		if v, ok := strings.CutPrefix(kv, envAPIToken+"="); ok && v != "" {
			c.Token = v
		}
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// apiServer is the daemon's running control API and the file that tells
// clients where it is.
type apiServer struct {
	*controlapi.Server
	addrFile string
}

// startAPI serves the control API for node and records its address in
// DATA/api.addr.
func startAPI(node *p2pnode.Node, cfg controlapi.Config, reg *prometheus.Registry) (*apiServer, error) {
	cfg.Metrics = reg
	if l, ok := any(node).(controlapi.EventLog); ok {
		cfg.Log = l
	}
	srv, err := controlapi.NewServer(node, cfg)
	if err != nil {
		return nil, err
	}
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
