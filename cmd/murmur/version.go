package main

import (
	"fmt"
	"io"

	"github.com/murmur-p2p/murmur/internal/version"
)

// runVersion prints the version line: murmur <version> (<go>, go-libp2p <version>).
func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, version.String())
	return nil
}
