package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mustRun runs the CLI and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(t, nil, args...)
	if code != 0 {
		t.Fatalf("murmur %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// checkPrivate fails unless path has mode 0600.
func checkPrivate(t *testing.T, path string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %s, want 0600", path, info.Mode().Perm())
	}
}

// TestCLIClosedNetworkWalkthrough is the README's walk-through: a closed
// network of three nodes (private network key and member certificates), a
// fourth admitted as a reader whose write is refused, then revoked.
func TestCLIClosedNetworkWalkthrough(t *testing.T) {
	const network = "walkthrough"
	top := t.TempDir()
	authKey := filepath.Join(top, "authority.key")
	out := mustRun(t, "network", "create", "--out", authKey)
	checkPrivate(t, authKey)
	var authority string
	for _, ln := range strings.Split(out, "\n") {
		if a, ok := strings.CutPrefix(ln, "authority: "); ok {
			authority = a
		}
	}
	if authority == "" {
		t.Fatalf("network create printed no authority:\n%s", out)
	}
	swarmKey := filepath.Join(top, "swarm.key")
	mustRun(t, "keygen", "--out", swarmKey)
	checkPrivate(t, swarmKey)

	// node sets up a data dir: private network key, API token, certificate.
	node := func(name, role string, prefixes ...string) (dir, id string) {
		dir = filepath.Join(top, name)
		mustRun(t, "init", "--data", dir, "--swarm-key", swarmKey)
		checkPrivate(t, filepath.Join(dir, "swarm.key"))
		checkPrivate(t, filepath.Join(dir, apiTokenFileName))
		id = strings.TrimSpace(mustRun(t, "id", "--data", dir))
		args := []string{"network", "admit", id, "--authority-key", authKey, "--network", network, "--role", role,
			"--expires", "1h", "--out", filepath.Join(dir, "member.cert")}
		for _, p := range prefixes {
			args = append(args, "--prefix", p)
		}
		mustRun(t, args...)
		f, err := os.OpenFile(filepath.Join(dir, "config.yaml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString("network_authorities: [" + authority + "]\n"); err != nil {
			t.Fatal(err)
		}
		return dir, id
	}
	daemonArgs := func(dir string, boot ...string) []string {
		a := []string{"--data", dir, "--listen=/ip4/127.0.0.1/tcp/0", "--network", network}
		for _, b := range boot {
			a = append(a, "--bootstrap", b)
		}
		return a
	}
	dir0, _ := node("n0", "admin")
	dir1, _ := node("n1", "writer", "app/")
	dir2, _ := node("n2", "writer", "app/")
	d0 := startDaemon(t, daemonArgs(dir0)...)
	startDaemon(t, daemonArgs(dir1, d0.addrs[0])...)
	startDaemon(t, daemonArgs(dir2, d0.addrs[0])...)

	mustRun(t, "put", "--data", dir1, "app/greeting", "hello")
	eventually(t, 30*time.Second, "the write to reach n2", []string{"get", "--data", dir2, "app/greeting"},
		func(code int, out, _ string) bool { return code == 0 && out == "hello\n" })
	if code, _, errOut := runCLI(t, nil, "put", "--data", dir1, "other/x", "v"); code != exitUsage || !strings.Contains(errOut, "may write only under app/") {
		t.Fatalf("writer outside its prefix: exit %d, %s", code, errOut)
	}

	// A fourth node, admitted as a reader: it reads, and its write is refused.
	dir3, id3 := node("n3", "reader")
	startDaemon(t, daemonArgs(dir3, d0.addrs[0])...)
	eventually(t, 30*time.Second, "the reader to read", []string{"get", "--data", dir3, "app/greeting"},
		func(code int, out, _ string) bool { return code == 0 && out == "hello\n" })
	if code, _, errOut := runCLI(t, nil, "put", "--data", dir3, "app/greeting", "mine"); code != exitUsage || !strings.Contains(errOut, "is a reader") {
		t.Fatalf("reader write: exit %d, %s", code, errOut)
	}

	// Revoke it through the admin node: every node disconnects it.
	mustRun(t, "network", "revoke", id3, "--authority-key", authKey, "--network", network, "--data", dir0)
	for _, dir := range []string{dir0, dir1, dir2} {
		eventually(t, 30*time.Second, "the reader to be cut off", []string{"peers", "--data", dir},
			func(code int, out, _ string) bool { return code == 0 && !strings.Contains(out, id3) })
	}
}
