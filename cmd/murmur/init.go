package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/pnet"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/murmur-p2p/murmur/p2pnode"
	"github.com/murmur-p2p/murmur/security"
)

func runInit(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("init", stderr)
	dataDir := fs.String("data", "", "data directory to create (required)")
	newPSK := fs.Bool("psk", false, "make the node's network private: write a new pre-shared key to DATA/"+security.SwarmKeyFileName+" (give it to every other node with --swarm-key)")
	swarmKey := fs.String("swarm-key", "", "make the node's network private with this existing swarm.key (copied to DATA/"+security.SwarmKeyFileName+")")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dataDir == "" {
		fmt.Fprintln(stderr, "murmur init: --data DIR is required")
		fs.Usage()
		return errUsage
	}
	if *newPSK && *swarmKey != "" {
		fmt.Fprintln(stderr, "murmur init: --psk and --swarm-key exclude each other")
		return errUsage
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	pskLine, err := initSwarmKey(*dataDir, *newPSK, *swarmKey, stdout)
	if err != nil {
		return err
	}
	key, created, err := security.LoadOrCreateIdentity(security.IdentityPath(*dataDir))
	if err != nil {
		return err
	}
	id, err := security.PeerIDFromKey(key)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(*dataDir, p2pnode.ConfigFileName)
	wroteConfig, err := writeNewFile(cfgPath, []byte(p2pnode.DefaultConfigYAML+pskLine))
	if err != nil {
		return err
	}
	if !wroteConfig && pskLine != "" {
		fmt.Fprintf(stdout, "add to %s to use the key:\n  %s", cfgPath, pskLine)
	}
	_, tokenCreated, err := ensureAPIToken(*dataDir)
	if err != nil {
		return err
	}
	if tokenCreated {
		fmt.Fprintf(stdout, "wrote API token %s (mode 0600; the CLI reads it with --data)\n", filepath.Join(*dataDir, apiTokenFileName))
	}
	cfg, err := p2pnode.LoadConfig(cfgPath, nil, func(c *p2pnode.Config) { c.DataDir = *dataDir })
	if err != nil {
		return err
	}

	if created {
		fmt.Fprintf(stdout, "created identity %s\n", security.IdentityPath(*dataDir))
	} else {
		fmt.Fprintf(stdout, "kept existing identity %s\n", security.IdentityPath(*dataDir))
	}
	if wroteConfig {
		fmt.Fprintf(stdout, "wrote config %s\n", cfgPath)
	} else {
		fmt.Fprintf(stdout, "kept existing config %s\n", cfgPath)
	}
	fmt.Fprintf(stdout, "peer_id: %s\n", id)
	fmt.Fprintln(stdout, "addresses to share once the daemon runs (give one to other nodes as --bootstrap):")
	for _, a := range shareableAddrs(cfg.Listen, id) {
		fmt.Fprintf(stdout, "  %s\n", a)
	}
	fmt.Fprintf(stdout, "start it with: murmur daemon --data %s\n", *dataDir)
	return nil
}

// writeNewFile writes data to path unless a file is already there; it
// reports whether it wrote.
func writeNewFile(path string, data []byte) (bool, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}

// shareableAddrs expands listen multiaddrs on unspecified addresses
// (0.0.0.0, ::) into this machine's interface addresses and appends /p2p/id.
// Port 0 stays 0: the real port is known only once the daemon listens.
func shareableAddrs(listen []string, id peer.ID) []string {
	var in []ma.Multiaddr
	for _, s := range listen {
		if a, err := ma.NewMultiaddr(s); err == nil {
			in = append(in, a)
		}
	}
	ifaces, err := manet.InterfaceMultiaddrs()
	var addrs []ma.Multiaddr
	if err == nil {
		addrs, err = manet.ResolveUnspecifiedAddresses(in, ifaces)
	}
	if err != nil {
		addrs = in
	}
	var out []string
	for _, a := range addrs {
		out = append(out, a.Encapsulate(ma.StringCast("/p2p/"+id.String())).String())
	}
	return out
}

// initSwarmKey writes DATA/swarm.key for murmur init --psk (a new key) or
// --swarm-key FILE (a copy), and returns the config line that uses it ("" if
// neither flag is given).
func initSwarmKey(dataDir string, generate bool, from string, stdout io.Writer) (string, error) {
	if !generate && from == "" {
		return "", nil
	}
	path := filepath.Join(dataDir, security.SwarmKeyFileName)
	if _, err := os.Stat(path); err == nil {
		fmt.Fprintf(stdout, "kept existing private network key %s\n", path)
		return "swarm_key_file: " + security.SwarmKeyFileName + "\n", nil
	}
	var psk pnet.PSK
	var err error
	if generate {
		psk, err = security.GeneratePSK()
	} else {
		psk, err = security.LoadSwarmKey(from)
	}
	if err != nil {
		return "", err
	}
	if err := security.WriteSwarmKey(path, psk); err != nil {
		return "", err
	}
	fmt.Fprintf(stdout, "wrote private network key %s (mode 0600; TCP only: QUIC cannot carry it)\n", path)
	return "swarm_key_file: " + security.SwarmKeyFileName + "\n", nil
}
