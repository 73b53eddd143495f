package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// murmurBin is the murmur binary built once for the tests in this package.
var murmurBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "murmur-bin-")
	if err != nil {
		panic(err)
	}
	murmurBin = filepath.Join(dir, "murmur")
	build := exec.Command("go", "build", "-o", murmurBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("build murmur: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is a murmur daemon process under test.
type daemon struct {
	cmd    *exec.Cmd
	addrs  []string
	peerID string
	api    string // control API host:port
	stderr *bytes.Buffer
	lines  chan string
	done   chan error
}

// startDaemon runs "murmur daemon" with args and waits until it prints
// "ready", collecting its peer ID and addresses.
func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(murmurBin, append([]string{"daemon", "--api-addr=127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "GOLOG_LOG_LEVEL=warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, stderr: new(bytes.Buffer), lines: make(chan string, 100), done: make(chan error, 1)}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-d.done
		}
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
		close(d.lines)
		d.done <- cmd.Wait()
	}()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-d.lines:
			if !ok {
				t.Fatalf("daemon exited before ready; stderr:\n%s", d.stderr)
			}
			switch {
			case strings.HasPrefix(line, "peer_id: "):
				d.peerID = strings.TrimPrefix(line, "peer_id: ")
			case strings.HasPrefix(line, "addr: "):
				d.addrs = append(d.addrs, strings.TrimPrefix(line, "addr: "))
			case strings.HasPrefix(line, "api: "):
				d.api = strings.TrimPrefix(strings.TrimPrefix(line, "api: "), "http://")
			case line == "ready":
				if d.peerID == "" || len(d.addrs) == 0 || d.api == "" {
					t.Fatalf("daemon ready without peer ID, addresses or API address")
				}
				return d
			}
		case <-deadline:
			t.Fatalf("daemon not ready after 30s; stderr:\n%s", d.stderr)
		}
	}
}

// stop sends SIGTERM and returns the exit error (nil for exit code 0).
func (d *daemon) stop(t *testing.T) error {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range d.lines {
		}
	}()
	select {
	case err := <-d.done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("daemon did not exit within 20s of SIGTERM; stderr:\n%s", d.stderr)
		return nil
	}
}

func readRuntime(t *testing.T, dataDir string) (runtimeInfo, bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir, runtimeFileName))
	if errors.Is(err, os.ErrNotExist) {
		return runtimeInfo{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	var info runtimeInfo
	if err := json.Unmarshal(data, &info); err != nil {
		t.Fatalf("runtime file: %v", err)
	}
	return info, true
}

func TestDaemonsConnectAndStopCleanly(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	loop := "--listen=/ip4/127.0.0.1/tcp/0"
	a := startDaemon(t, "--data", dirA, loop, "--network", "daemontest")
	b := startDaemon(t, "--data", dirB, loop, "--network", "daemontest", "--bootstrap", a.addrs[0])

	deadline := time.Now().Add(20 * time.Second)
	for {
		ia, okA := readRuntime(t, dirA)
		ib, okB := readRuntime(t, dirB)
		if okA && okB && ia.Peers >= 1 && ib.Peers >= 1 {
			if ia.PeerID != a.peerID || ib.PeerID != b.peerID {
				t.Fatalf("runtime files name %s and %s, daemons printed %s and %s", ia.PeerID, ib.PeerID, a.peerID, b.peerID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemons did not connect: A %+v, B %+v", ia, ib)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for name, d := range map[string]*daemon{"A": a, "B": b} {
		if err := d.stop(t); err != nil {
			t.Errorf("daemon %s exited with %v after SIGTERM; stderr:\n%s", name, err, d.stderr)
		}
	}
	if _, ok := readRuntime(t, dirA); ok {
		t.Error("runtime file left behind after a clean exit")
	}
	// The identity survives the restart: same peer ID.
	a2 := startDaemon(t, "--data", dirA, loop, "--network", "daemontest")
	if a2.peerID != a.peerID {
		t.Fatalf("peer ID changed across restart: %s -> %s", a.peerID, a2.peerID)
	}
	if err := a2.stop(t); err != nil {
		t.Fatal(err)
	}
}

// runCLI runs murmur with args and returns its exit code and output.
func runCLI(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(murmurBin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	}
	t.Fatal(err)
	return 0, "", ""
}

func TestInitAndID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	code, out, errOut := runCLI(t, nil, "init", "--data", dir)
	if code != 0 {
		t.Fatalf("init exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "peer_id: 12D3KooW") || !strings.Contains(out, "/tcp/4100/p2p/12D3KooW") {
		t.Fatalf("init output lacks the peer ID or shareable addresses:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.yaml")); err != nil {
		t.Fatal(err)
	}
	code, idOut, _ := runCLI(t, nil, "id", "--data", dir)
	if code != 0 || !strings.Contains(out, "peer_id: "+strings.TrimSpace(idOut)) {
		t.Fatalf("id printed %q (exit %d), init printed:\n%s", idOut, code, out)
	}
	// A second init keeps both the identity and the config.
	code, out2, _ := runCLI(t, nil, "init", "--data", dir)
	if code != 0 || !strings.Contains(out2, "kept existing identity") || !strings.Contains(out2, "kept existing config") {
		t.Fatalf("second init (exit %d):\n%s", code, out2)
	}
}

func TestDaemonConfigErrors(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := runCLI(t, nil, "init", "--data", dir); code != 0 {
		t.Fatal(errOut)
	}
	badFile := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badFile, []byte("fanout_x: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	corrupt := t.TempDir()
	if err := os.WriteFile(filepath.Join(corrupt, "identity.key"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"bad bootstrap flag", nil, []string{"daemon", "--data", dir, "--bootstrap", "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGNNU5Lvm13RrTnBdxrHy7yJ4gLzjKLtiu53kEi6GLGTQ", "--bootstrap", "/ip4/1.2.3/tcp"},
			1, `bootstrap[1]: invalid multiaddr "/ip4/1.2.3/tcp"`},
		{"bad listen flag", nil, []string{"daemon", "--data", dir, "--listen", "/ip4/127.0.0.1/tcp/x"}, 1, `listen[0]: invalid multiaddr "/ip4/127.0.0.1/tcp/x"`},
		{"unknown key in file", nil, []string{"daemon", "--data", dir, "--config", badFile}, 1, "fanout_x: unknown key (line 1)"},
		{"missing config file", nil, []string{"daemon", "--data", dir, "--config", badFile + ".missing"}, 1, "no such file or directory"},
		{"env overrides flags", []string{"MURMUR_TARGET_PEERS=-1"}, []string{"daemon", "--data", dir, "--target-peers", "4"}, 1, "target_peers: invalid value -1"},
		{"corrupt identity", nil, []string{"daemon", "--data", corrupt, "--listen", "/ip4/127.0.0.1/tcp/0"}, 1, "corrupt or truncated key"},
		{"no data dir", nil, []string{"daemon"}, 2, "--data DIR is required"},
		{"unknown flag", nil, []string{"daemon", "--nope"}, 2, "flag provided but not defined: -nope"},
		{"unknown command", nil, []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"id without identity", nil, []string{"id", "--data", t.TempDir()}, 1, "murmur init --data"},
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
