package main

import (
	"fmt"
	"io"

	"github.com/murmur-p2p/murmur/security"
)

func runID(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("id", stderr)
	dataDir := fs.String("data", "", "data directory of the node (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dataDir == "" {
		fmt.Fprintln(stderr, "murmur id: --data DIR is required")
		fs.Usage()
		return errUsage
	}
	key, err := security.LoadIdentity(security.IdentityPath(*dataDir))
	if err != nil {
		return fmt.Errorf("%w (create one with: murmur init --data %s)", err, *dataDir)
	}
	id, err := security.PeerIDFromKey(key)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, id)
	return nil
}
