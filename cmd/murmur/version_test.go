package main

import (
	"strings"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "murmur ") || !strings.Contains(out, "go-libp2p v") {
		t.Fatalf("murmur version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
