package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/internal/controlapi"
	"github.com/murmur-p2p/murmur/sync/pgstore/pgtest"
)

// TestDaemonOnPostgresSurvivesKill runs a daemon with store: postgres and
// zstd compression beside one with Pebble and snappy, writes keys through
// the CLI, kills the Postgres daemon with SIGKILL, restarts it on the same
// schema and finds every acknowledged write, on it and on its peer, which
// received them compressed.
func TestDaemonOnPostgresSurvivesKill(t *testing.T) {
	srv, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	dirA, dirB := t.TempDir(), t.TempDir()
	loop := "--listen=/ip4/127.0.0.1/tcp/0"
	cfg := fmt.Sprintf("store: postgres\npostgres_dsn: %q\npostgres_schema: node_a\ncompression: zstd\ncompression_threshold: 64\n", srv.DSN())
	if err := os.WriteFile(filepath.Join(dirA, "config.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirB, "config.yaml"), []byte("compression: snappy\ncompression_threshold: 64\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startDaemon(t, "--data", dirA, loop, "--network", "pgtest")
	b := startDaemon(t, "--data", dirB, loop, "--network", "pgtest", "--bootstrap", a.addrs[0])
	const n = 20
	for i := 0; i < n; i++ {
		value := fmt.Sprintf(`{"n":%d,"text":"%s"}`, i, strings.Repeat("compressible ", 20))
		if code, _, errOut := runCLI(t, nil, "put", "--data", dirA, fmt.Sprintf("doc/%02d", i), value); code != 0 {
			t.Fatalf("put %d: %s", i, errOut)
		}
	}
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range a.lines {
		}
	}()
	<-a.done
	// The restarted daemon listens on a new port, so it bootstraps from B:
	// the last writes before the kill may have reached only A's store, and
	// they travel to B once the two are connected again (whether A saved
	// B's address in its peerstore before the kill is a race this test is
	// not about).
	a2 := startDaemon(t, "--data", dirA, loop, "--network", "pgtest", "--bootstrap", b.addrs[0])
	for i := 0; i < n; i++ {
		code, out, errOut := runCLI(t, nil, "get", "--api", a2.api, "--data", dirA, fmt.Sprintf("doc/%02d", i))
		if code != 0 || !strings.Contains(out, fmt.Sprintf(`{"n":%d,`, i)) {
			t.Fatalf("acknowledged write doc/%02d lost across kill -9: exit %d %q %q", i, code, out, errOut)
		}
	}
	eventually(t, 30*time.Second, "the writes to reach B", []string{"ls", "doc/", "--api", b.api, "--data", dirB},
		func(code int, out, _ string) bool {
			return code == 0 && strings.Contains(out, "doc/00") && strings.Contains(out, fmt.Sprintf("doc/%02d", n-1))
		})

	code, out, errOut := runCLI(t, nil, "status", "--api", a2.api, "--data", dirA)
	if code != 0 || !strings.Contains(out, "postgres, ") || !strings.Contains(out, "schema node_a") || !strings.Contains(out, "compression zstd") {
		t.Fatalf("status of the Postgres daemon: exit %d %q %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t, nil, "status", "--api", b.api, "--data", dirB, "--json")
	var st controlapi.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("status --json of B: exit %d %q %q", code, out, errOut)
	}
	if w := st.Wire; w.Compression != "snappy" || w.WireBytesReceived == 0 || w.WireBytesReceived >= w.BytesReceived {
		t.Fatalf("B received no compressed frames: %+v", w)
	}
	t.Logf("B: %+v", st.Wire)
}
