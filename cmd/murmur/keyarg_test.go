package main

import (
	"strings"
	"testing"
)

// Keys the API's URL path would rewrite are refused with exit 2 instead of
// writing (and overwriting) another key.
func TestCLIRefusesKeysThePathWouldRewrite(t *testing.T) {
	dir := t.TempDir()
	startDaemon(t, "--data", dir, "--listen=/ip4/127.0.0.1/tcp/0", "--network", "keyargtest")
	if code, _, errOut := runCLI(t, nil, "put", "--data", dir, "bar", "original"); code != 0 {
		t.Fatalf("put bar: exit %d %s", code, errOut)
	}
	for _, key := range []string{"foo/../bar", "x//y", "/lead", "a/./b", "..", "a\xffb"} {
		for _, args := range [][]string{{"put", key, "v"}, {"get", key}, {"del", key}} {
			code, _, errOut := runCLI(t, nil, append(append([]string(nil), args...), "--data", dir)...)
			if code != exitUsage || !strings.Contains(errOut, "key") {
				t.Errorf("murmur %s %q: exit %d, stderr %q; want exit 2 explaining the key", args[0], key, code, errOut)
			}
		}
	}
	code, out, errOut := runCLI(t, nil, "get", "--data", dir, "bar")
	if code != 0 || !strings.Contains(out, "original") {
		t.Fatalf("bar after the refused writes: exit %d %q %q", code, out, errOut)
	}
	// Keys with slashes in ordinary places still work.
	if code, _, errOut := runCLI(t, nil, "put", "--data", dir, "app/x/", "v"); code != 0 {
		t.Fatalf("put app/x/: exit %d %s", code, errOut)
	}
}
