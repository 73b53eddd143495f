package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	logging "github.com/ipfs/go-log/v2"

	"github.com/murmur-p2p/murmur/internal/metrics"
	"github.com/murmur-p2p/murmur/p2pnode"
	"github.com/murmur-p2p/murmur/security"
)

// runtimeFileName is the file in the data dir where a running daemon records
// its PID, peer ID, addresses and peer count. It is checked every second,
// rewritten only when something in it changed, and removed on a clean exit.
// Scripts (testnet/status.sh) read it.
const runtimeFileName = "daemon.json"

// runtimeInfo is the content of the runtime file.
type runtimeInfo struct {
	PID     int      `json:"pid"`
	PeerID  string   `json:"peer_id"`
	Network string   `json:"network"`
	Addrs   []string `json:"addrs"`
	Peers   int      `json:"peers"`
	// Updated is when the content last changed.
	Updated time.Time `json:"updated"`
}

func runDaemon(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("daemon", stderr)
	var nf nodeFlags
	nf.register(fs, true)
	var af apiFlags
	af.register(fs)
	resetIdentity := fs.Bool("reset-identity", false, "discard the identity key and start as a new node (after losing the store, when no peer holds the old identity's writes)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if nf.dataDir == "" {
		fmt.Fprintln(stderr, "murmur daemon: --data DIR is required (create one with: murmur init --data DIR)")
		fs.Usage()
		return errUsage
	}
	if os.Getenv("GOLOG_LOG_LEVEL") == "" {
		_ = logging.SetLogLevelRegex("murmur/.*", "info")
	}
	nf.extra = af.apply
	cfg, err := nf.load(os.Environ())
	if err != nil {
		return err
	}
	if *resetIdentity {
		for _, f := range []string{security.IdentityPath(cfg.DataDir), p2pnode.IdentityUsedPath(cfg.DataDir)} {
			if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("reset identity: %w", err)
			}
		}
		fmt.Fprintf(stderr, "murmur daemon: identity reset; this node starts as a new peer\n")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	reg := metrics.NewRegistry()
	node, err := p2pnode.New(cfg, append(testClockOption(os.Environ()), p2pnode.WithPrometheusRegisterer(reg))...)
	if err != nil {
		return err
	}
	defer node.Close()
	if err := node.Start(ctx); err != nil {
		return err
	}
	reg.MustRegister(metrics.NewNodeCollector(node))
	api, err := startAPI(node, reg)
	if err != nil {
		return err
	}
	defer api.Close()

	fmt.Fprintf(stdout, "peer_id: %s\n", node.ID())
	fmt.Fprintf(stdout, "network: %s\n", cfg.Discovery.Network)
	for _, a := range node.Addrs() {
		fmt.Fprintf(stdout, "addr: %s\n", a)
	}
	fmt.Fprintf(stdout, "api: http://%s\n", api.Addr())
	fmt.Fprintln(stdout, "ready")

	runtimePath := filepath.Join(cfg.DataDir, runtimeFileName)
	defer os.Remove(runtimePath)
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	var written runtimeInfo
	for {
		if err := writeRuntime(runtimePath, node, &written); err != nil {
			fmt.Fprintf(stderr, "murmur daemon: %v\n", err)
		}
		select {
		case <-ctx.Done():
			stop() // a second signal now kills the process the default way
			fmt.Fprintln(stdout, "shutting down")
			if err := api.Close(); err != nil {
				fmt.Fprintf(stderr, "murmur daemon: %v\n", err)
			}
			done := make(chan error, 1)
			go func() { done <- node.Close() }()
			select {
			case err := <-done:
				if err != nil {
					return fmt.Errorf("shut down: %w", err)
				}
				fmt.Fprintln(stdout, "stopped")
				return nil
			case <-time.After(cfg.ShutdownTimeout):
				return fmt.Errorf("shut down: not finished after %s (shutdown_timeout)", cfg.ShutdownTimeout)
			}
		case <-ticker.C:
		}
	}
}

// writeRuntime records the daemon's state atomically (temp file + rename)
// when it differs from what was last written (*last, updated on success).
func writeRuntime(path string, node *p2pnode.Node, last *runtimeInfo) error {
	info := runtimeInfo{
		PID:     os.Getpid(),
		PeerID:  node.ID().String(),
		Network: node.Config().Discovery.Network,
		Peers:   len(node.Peers()),
	}
	for _, a := range node.Addrs() {
		info.Addrs = append(info.Addrs, a.String())
	}
	if info.PID == last.PID && info.Peers == last.Peers && slices.Equal(info.Addrs, last.Addrs) {
		return nil
	}
	info.Updated = time.Now().UTC()
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("encode runtime info: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write runtime info %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write runtime info %s: %w", path, err)
	}
	*last = info
	return nil
}
