package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/murmur-p2p/murmur/internal/controlapi"
)

// apiToken is the daemons' API token: their APIs listen on their namespace
// addresses, which are not loopback.
const apiToken = "faults-suite-token"

// cluster is a set of murmur daemons, each in its own network namespace on
// one bridge, so the suite can cut links between any two of them with
// iptables while still reaching every API from the root namespace.
type cluster struct {
	id     string // short unique tag of this run: names of bridge, namespaces, veths
	bin    string
	dir    string
	subnet string // "10.X.Y", nodes at .1 .. .N, the bridge at .254
	nodes  []*node
}

// node is one daemon slot: its namespace, address, data dir and, while it
// runs, its process.
type node struct {
	c       *cluster
	i       int
	ns      string
	ip      string
	dataDir string
	env     []string // extra environment (MURMUR_* settings)

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error
	peerID  string
	addr    string
	client  *controlapi.Client
	logFile *os.File
}

// run executes a command, failing with its output.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// newCluster creates the bridge and n namespaces. Close removes them.
func newCluster(bin, dir string, n int) (*cluster, error) {
	pid := os.Getpid()
	c := &cluster{id: fmt.Sprintf("%d", pid%100000), bin: bin, dir: dir,
		subnet: fmt.Sprintf("10.%d.%d", 200+pid%50, (pid/50)%250)}
	br := "mfb" + c.id
	if err := run("ip", "link", "add", br, "type", "bridge"); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"ip", "addr", "add", c.subnet + ".254/24", "dev", br},
		{"ip", "link", "set", br, "up"},
	}
	for i := range n {
		nd := &node{c: c, i: i, ns: fmt.Sprintf("mf%sn%d", c.id, i), ip: fmt.Sprintf("%s.%d", c.subnet, i+1),
			dataDir: filepath.Join(dir, fmt.Sprintf("node%d", i))}
		c.nodes = append(c.nodes, nd)
		veth := fmt.Sprintf("mf%sv%d", c.id, i)
		steps = append(steps,
			[]string{"ip", "netns", "add", nd.ns},
			[]string{"ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", nd.ns},
			[]string{"ip", "link", "set", veth, "master", br, "up"},
			[]string{"ip", "-n", nd.ns, "addr", "add", nd.ip + "/24", "dev", "eth0"},
			[]string{"ip", "-n", nd.ns, "link", "set", "eth0", "up"},
			[]string{"ip", "-n", nd.ns, "link", "set", "lo", "up"},
		)
	}
	for _, s := range steps {
		if err := run(s[0], s[1:]...); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

// close kills every daemon and removes the namespaces and the bridge.
func (c *cluster) close() {
	for _, nd := range c.nodes {
		nd.kill()
	}
	for _, nd := range c.nodes {
		_ = run("ip", "netns", "del", nd.ns)
	}
	_ = run("ip", "link", "del", "mfb"+c.id)
}

// start launches the daemon with the given bootstrap addresses and waits
// until it is ready (or exits, or timeout passes).
func (nd *node) start(bootstrap []string, timeout time.Duration) error {
	if err := os.MkdirAll(nd.dataDir, 0o755); err != nil {
		return err
	}
	cmd, stdout, err := nd.launch(bootstrap)
	if err != nil {
		return err
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			nd.mu.Lock()
			switch {
			case strings.HasPrefix(line, "peer_id: "):
				nd.peerID = strings.TrimPrefix(line, "peer_id: ")
			case strings.HasPrefix(line, "addr: ") && strings.Contains(line, "/tcp/") && nd.addr == "":
				nd.addr = strings.TrimPrefix(line, "addr: ")
			}
			nd.mu.Unlock()
			if line == "ready" && !signalled {
				signalled = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
		return nil
	case <-nd.exited:
		return fmt.Errorf("node %d exited before it was ready: %v; %s", nd.i, nd.exitErr, nd.lastLog(3))
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		return fmt.Errorf("node %d not ready after %s; %s", nd.i, timeout, nd.lastLog(3))
	}
}

// launch starts the process inside the node's namespace.
func (nd *node) launch(bootstrap []string) (*exec.Cmd, io.Reader, error) {
	args := []string{"netns", "exec", nd.ns, nd.c.bin, "daemon", "--data", nd.dataDir,
		"--listen", "/ip4/" + nd.ip + "/tcp/4100", "--api-addr", nd.ip + ":4180", "--network", "faults"}
	for _, b := range bootstrap {
		args = append(args, "--bootstrap", b)
	}
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(), "GOLOG_LOG_LEVEL=warn", "MURMUR_API_TOKEN="+apiToken)
	cmd.Env = append(cmd.Env, nd.env...)
	lf, err := os.OpenFile(filepath.Join(nd.c.dir, fmt.Sprintf("node%d.log", nd.i)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(lf, "=== %s start %v\n", time.Now().Format(time.TimeOnly), bootstrap)
	cmd.Stderr = lf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		lf.Close()
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, nil, err
	}
	exited := make(chan struct{})
	nd.mu.Lock()
	nd.cmd, nd.exited, nd.exitErr, nd.logFile, nd.addr = cmd, exited, nil, lf, ""
	nd.client = controlapi.NewClient(nd.ip+":4180", apiToken)
	nd.mu.Unlock()
	go func() {
		err := cmd.Wait()
		nd.mu.Lock()
		nd.exitErr = err
		nd.mu.Unlock()
		lf.Close()
		close(exited)
	}()
	return cmd, stdout, nil
}

// startExpectingFailure launches the daemon and waits for it to exit; it
// returns the exit error, the daemon's stderr of this run and how long it
// took. It fails if the daemon is still running after timeout.
func (nd *node) startExpectingFailure(timeout time.Duration) (error, string, time.Duration, error) {
	logPath := filepath.Join(nd.c.dir, fmt.Sprintf("node%d.log", nd.i))
	before, _ := os.Stat(logPath)
	began := time.Now()
	if _, _, err := nd.launch(nil); err != nil {
		return nil, "", 0, err
	}
	select {
	case <-nd.exited:
	case <-time.After(timeout):
		nd.kill()
		return nil, "", 0, fmt.Errorf("node %d still running %s after a start that should fail", nd.i, timeout)
	}
	took := time.Since(began)
	data, _ := os.ReadFile(logPath)
	if before != nil && int64(len(data)) >= before.Size() {
		data = data[before.Size():]
	}
	return nd.exitErr, string(data), took, nil
}

// running reports whether the process is alive.
func (nd *node) running() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return false
	}
	select {
	case <-nd.exited:
		return false
	default:
		return true
	}
}

// signal sends sig to the daemon.
func (nd *node) signal(sig syscall.Signal) error {
	nd.mu.Lock()
	cmd := nd.cmd
	nd.mu.Unlock()
	if cmd == nil {
		return errors.New("not started")
	}
	return cmd.Process.Signal(sig)
}

// kill sends SIGKILL and waits for the process to end.
func (nd *node) kill() {
	if !nd.running() {
		return
	}
	_ = nd.signal(syscall.SIGCONT)
	_ = nd.signal(syscall.SIGKILL)
	<-nd.exited
}

// stop sends SIGTERM and waits up to timeout; it returns how long the exit
// took.
func (nd *node) stop(timeout time.Duration) (time.Duration, error) {
	began := time.Now()
	if err := nd.signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	select {
	case <-nd.exited:
		return time.Since(began), nil
	case <-time.After(timeout):
		nd.kill()
		return 0, fmt.Errorf("node %d ignored SIGTERM for %s", nd.i, timeout)
	}
}

// api returns the node's client (valid after start).
func (nd *node) api() *controlapi.Client {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.client
}

// bootAddr is the node's full multiaddr for --bootstrap.
func (nd *node) bootAddr() string {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.addr
}

// lastLog returns the last n lines of the node's log.
func (nd *node) lastLog(n int) string {
	data, _ := os.ReadFile(filepath.Join(nd.c.dir, fmt.Sprintf("node%d.log", nd.i)))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "log: " + strings.Join(lines, " | ")
}

// startAll starts node 0, then the others bootstrapping from it.
func (c *cluster) startAll() error {
	if err := c.nodes[0].start(nil, 30*time.Second); err != nil {
		return err
	}
	for _, nd := range c.nodes[1:] {
		if err := nd.start([]string{c.nodes[0].bootAddr()}, 60*time.Second); err != nil {
			return err
		}
	}
	return c.waitPeers(len(c.nodes)-1, 60*time.Second)
}

// waitPeers waits until every running node reports at least want peers.
func (c *cluster) waitPeers(want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		for _, nd := range c.nodes {
			if !nd.running() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			st, err := nd.api().Status(ctx)
			cancel()
			if err != nil || st.PeersConnected < want {
				ok = false
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nodes did not reach %d peers each within %s", want, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cut drops packets between node a and node b inside a's namespace: into
// a from b (in) and out of a to b (out).
func (c *cluster) cut(a, b *node, in, out bool) error {
	if in {
		if err := run("ip", "netns", "exec", a.ns, "iptables", "-A", "INPUT", "-s", b.ip, "-j", "DROP"); err != nil {
			return err
		}
	}
	if out {
		if err := run("ip", "netns", "exec", a.ns, "iptables", "-A", "OUTPUT", "-d", b.ip, "-j", "DROP"); err != nil {
			return err
		}
	}
	return nil
}

// heal removes every cut.
func (c *cluster) heal() error {
	for _, nd := range c.nodes {
		for _, chain := range []string{"INPUT", "OUTPUT"} {
			if err := run("ip", "netns", "exec", nd.ns, "iptables", "-F", chain); err != nil {
				return err
			}
		}
	}
	return nil
}

// partition cuts every link between the two groups, both ways.
func (c *cluster) partition(left, right []*node) error {
	for _, a := range left {
		for _, b := range right {
			if err := c.cut(a, b, true, true); err != nil {
				return err
			}
			if err := c.cut(b, a, true, true); err != nil {
				return err
			}
		}
	}
	return nil
}
