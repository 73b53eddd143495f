package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/internal/controlapi"
)

// eventually runs the CLI until check accepts its result or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, args []string, check func(code int, out, errOut string) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, out, errOut := runCLI(t, nil, args...)
		if check(code, out, errOut) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: murmur %s still gives exit %d, stdout %q, stderr %q", what, strings.Join(args, " "), code, out, errOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestCLIAgainstTwoDaemons(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	loop := "--listen=/ip4/127.0.0.1/tcp/0"
	a := startDaemon(t, "--data", dirA, loop, "--network", "clitest")
	b := startDaemon(t, "--data", dirB, loop, "--network", "clitest", "--bootstrap", a.addrs[0])

	// Put on A (found through its data dir), get on B (through --api).
	code, out, errOut := runCLI(t, nil, "put", "--data", dirA, "greeting", "hello world")
	if code != 0 || !strings.Contains(out, "put greeting") {
		t.Fatalf("put: exit %d, %q %q", code, out, errOut)
	}
	// --api says where; the token comes from B's data dir.
	eventually(t, 20*time.Second, "the write to reach B", []string{"get", "greeting", "--api", b.api, "--data", dirB},
		func(code int, out, _ string) bool { return code == 0 && out == "hello world\n" })
	// Flags after the arguments, MURMUR_API and MURMUR_API_TOKEN in the environment.
	tokenB, err := readAPIToken(dirB)
	if err != nil || tokenB == "" {
		t.Fatalf("daemon B's API token: %q %v", tokenB, err)
	}
	code, out, _ = runCLI(t, []string{"MURMUR_API=" + b.api, "MURMUR_API_TOKEN=" + tokenB}, "get", "greeting", "--json")
	var e controlapi.Entry
	if code != 0 || json.Unmarshal([]byte(out), &e) != nil || e.Value != "hello world" || e.Origin != a.peerID {
		t.Fatalf("get --json via MURMUR_API: exit %d %q", code, out)
	}

	for _, k := range []string{"app/x", "app/y"} {
		if code, _, errOut := runCLI(t, nil, "put", "--data", dirB, k, "v-"+k); code != 0 {
			t.Fatalf("put %s: %s", k, errOut)
		}
	}
	eventually(t, 20*time.Second, "B's writes to reach A", []string{"ls", "app/", "--data", dirA},
		func(code int, out, _ string) bool {
			return code == 0 && strings.Contains(out, "KEY") && strings.Contains(out, "app/x") && strings.Contains(out, "app/y") && !strings.Contains(out, "greeting")
		})
	code, out, _ = runCLI(t, nil, "ls", "--data", dirA, "--json")
	var list controlapi.ListResult
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Keys) != 3 {
		t.Fatalf("ls --json: exit %d %q", code, out)
	}

	if code, out, _ := runCLI(t, nil, "del", "--data", dirA, "app/x"); code != 0 || !strings.Contains(out, "deleted app/x") {
		t.Fatalf("del: exit %d %q", code, out)
	}
	eventually(t, 20*time.Second, "the delete to reach B", []string{"get", "--data", dirB, "app/x"},
		func(code int, _, errOut string) bool {
			return code == exitNotFound && strings.Contains(errOut, "not found")
		})

	if code, out, _ := runCLI(t, nil, "publish", "--data", dirA, "alerts", "disk full"); code != 0 || !strings.Contains(out, "published alerts") {
		t.Fatalf("publish: exit %d %q", code, out)
	}

	eventually(t, 20*time.Second, "A to list B as a connected alive peer", []string{"peers", "--data", dirA},
		func(code int, out, _ string) bool {
			return code == 0 && strings.Contains(out, b.peerID) && strings.Contains(out, "yes") && strings.Contains(out, "alive")
		})
	code, out, _ = runCLI(t, nil, "status", "--data", dirA, "--json")
	var st controlapi.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.PeerID != a.peerID || st.Store.Kind != "pebble" || st.Store.SizeBytes <= 0 {
		t.Fatalf("status --json: exit %d %q", code, out)
	}
	code, out, _ = runCLI(t, nil, "status", "--data", dirA)
	if code != 0 || !strings.Contains(out, "peer_id:") || !strings.Contains(out, a.peerID) || !strings.Contains(out, "store:") {
		t.Fatalf("status: exit %d %q", code, out)
	}
	code, out, errOut = runCLI(t, nil, "sync", b.peerID, "--data", dirA)
	if code != 0 || !strings.Contains(out, "sync with "+b.peerID) {
		t.Fatalf("sync: exit %d %q %q", code, out, errOut)
	}

	// Meaningful exit codes and errors that say what to do.
	cases := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"missing key", nil, []string{"get", "--data", dirA, "nope"}, exitNotFound, `key "nope": not found`},
		{"delete missing key", nil, []string{"del", "--data", dirA, "nope"}, exitNotFound, "not found"},
		{"no daemon for data dir", nil, []string{"get", "--data", t.TempDir(), "k"}, exitNoDaemon, "start one with: murmur daemon --data"},
		{"nothing at --api", nil, []string{"status", "--api", "127.0.0.1:1"}, exitNoDaemon, "no murmur daemon answering at 127.0.0.1:1; is the daemon running? start one with: murmur daemon --data DIR"},
		{"unknown peer", nil, []string{"sync", "--data", dirA, "12D3KooWGNNU5Lvm13RrTnBdxrHy7yJ4gLzjKLtiu53kEi6GLGTQ"}, exitNotFound, "unknown to this node"},
		{"bad peer ID", nil, []string{"sync", "--data", dirA, "xyz"}, exitUsage, `invalid peer ID "xyz"`},
		{"empty value", nil, []string{"put", "--data", dirA, "k", ""}, exitUsage, "value: empty"},
		{"oversize key", nil, []string{"put", "--data", dirA, strings.Repeat("k", 1025), "v"}, exitUsage, "over the limit of 1024"},
		{"missing argument", nil, []string{"put", "--data", dirA, "k"}, exitUsage, "wrong number of arguments"},
		{"unknown flag", nil, []string{"get", "--nope", "k"}, exitUsage, "flag provided but not defined: -nope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, tc.env, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d (want %d), stderr:\n%s\nwant it to contain %q", code, tc.code, errOut, tc.want)
			}
		})
	}
}

func TestCLITokenOffLoopback(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runCLI(t, nil, "daemon", "--data", dir, "--listen=/ip4/127.0.0.1/tcp/0", "--api-addr", "0.0.0.0:0"); code != 1 || !strings.Contains(errOut, "api_token: required") {
		t.Fatalf("daemon off loopback without a token: exit %d, %s", code, errOut)
	}
	d := startDaemon(t, "--data", dir, "--listen=/ip4/127.0.0.1/tcp/0", "--network", "tokentest", "--api-addr", "0.0.0.0:0", "--api-token", "t0ken")
	port := d.api[strings.LastIndex(d.api, ":")+1:]
	api := "127.0.0.1:" + port
	if code, _, errOut := runCLI(t, nil, "status", "--api", api); code != exitUnauthorized || !strings.Contains(errOut, "MURMUR_API_TOKEN") {
		t.Fatalf("no token: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, []string{"MURMUR_API_TOKEN=t0ken"}, "status", "--api", api); code != 0 {
		t.Fatalf("token from the environment: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, nil, "put", "--api", api, "--token", "t0ken", "k", "v"); code != 0 {
		t.Fatalf("token flag: exit %d, %s", code, errOut)
	}
}

// watcher is a "murmur watch --json" process whose changes arrive on a
// channel.
type watcher struct {
	changes chan controlapi.Change
	stderr  *bytes.Buffer
}

func startWatch(t *testing.T, args ...string) *watcher {
	t.Helper()
	cmd := exec.Command(murmurBin, append([]string{"watch", "--json"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{changes: make(chan controlapi.Change, 100), stderr: new(bytes.Buffer)}
	cmd.Stderr = w.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	go func() {
		defer close(w.changes)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var c controlapi.Change
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				t.Errorf("watch printed a line that is not a change: %q", sc.Text())
				return
			}
			w.changes <- c
		}
	}()
	return w
}

// expect reads the next changes and checks their keys, in order.
func (w *watcher) expect(t *testing.T, keys ...string) {
	t.Helper()
	for _, k := range keys {
		select {
		case c, ok := <-w.changes:
			if !ok {
				t.Fatalf("watch exited; stderr:\n%s", w.stderr)
			}
			if c.Key != k {
				t.Fatalf("watch printed %s (seq %d), want %s; stderr:\n%s", c.Key, c.Seq, k, w.stderr)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("watch printed nothing within 20s, want %s; stderr:\n%s", k, w.stderr)
		}
	}
}

func TestWatchSpansDaemonRestart(t *testing.T) {
	dir := t.TempDir()
	loop := "--listen=/ip4/127.0.0.1/tcp/0"
	a := startDaemon(t, "--data", dir, loop, "--network", "watchtest")
	put := func(k string) {
		t.Helper()
		if code, _, errOut := runCLI(t, nil, "put", "--data", dir, k, "v-"+k); code != 0 {
			t.Fatalf("put %s: %s", k, errOut)
		}
	}
	put("before")
	w := startWatch(t, "--data", dir, "--from-start")
	w.expect(t, "before")
	put("k1")
	w.expect(t, "k1")

	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	// Written right after the restart, before the watcher (retrying with
	// backoff) is back: it must still get them, once, from the store.
	a2 := startDaemon(t, "--data", dir, loop, "--network", "watchtest")
	t.Cleanup(func() { _ = a2.stop(t) })
	put("k2")
	put("k3")
	w.expect(t, "k2", "k3")
	put("k4")
	w.expect(t, "k4")
	select {
	case c := <-w.changes:
		t.Fatalf("unexpected extra change %+v", c)
	case <-time.After(300 * time.Millisecond):
	}
	if !strings.Contains(w.stderr.String(), "reconnected") {
		t.Fatalf("watch never reported the reconnection; stderr:\n%s", w.stderr)
	}
}
