package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/murmur-p2p/murmur/internal/controlapi"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// murmurCluster is N murmur daemons on loopback; node 0 is everyone's
// bootstrap peer.
type murmurCluster struct {
	cmds    []*exec.Cmd
	clients []*controlapi.Client
	apis    []string
	tokens  []string // API tokens (DATA/api.token), by node
	ids     []string // peer IDs, by node
}

// startMurmur starts n daemons under dir on ports base..base+n-1 and waits
// until each is connected to all others. With pprof set, the daemons serve
// Go's profiling endpoints on their control API ($MURMUR_PPROF).
func startMurmur(bin, dir string, n, base int, pprof bool) (*murmurCluster, error) {
	c := &murmurCluster{}
	boot := ""
	for i := 0; i < n; i++ {
		d := filepath.Join(dir, fmt.Sprintf("node%d", i))
		if out, err := exec.Command(bin, "init", "--data", d).CombinedOutput(); err != nil {
			c.stop()
			return nil, fmt.Errorf("murmur init %s: %w: %s", d, err, out)
		}
		port := base + i
		args := []string{"daemon", "--data", d, "--network", "loadbench",
			"--listen", fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port), "--api-addr", "127.0.0.1:0"}
		if boot != "" {
			args = append(args, "--bootstrap", boot)
		}
		cmd := exec.Command(bin, args...)
		if pprof {
			cmd.Env = append(os.Environ(), "MURMUR_PPROF=1")
		}
		logf, err := os.Create(filepath.Join(d, "daemon.log"))
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("create daemon log: %w", err)
		}
		cmd.Stderr = logf
		out, err := cmd.StdoutPipe()
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("daemon stdout: %w", err)
		}
		if err := cmd.Start(); err != nil {
			c.stop()
			return nil, fmt.Errorf("start %s: %w", bin, err)
		}
		c.cmds = append(c.cmds, cmd)
		addr, err := waitReady(out)
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("node %d: %w (log %s)", i, err, logf.Name())
		}
		if boot == "" {
			boot = addr
		}
		api, err := os.ReadFile(filepath.Join(d, "api.addr"))
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("node %d: read api address: %w", i, err)
		}
		a := strings.TrimSpace(string(api))
		tok, err := os.ReadFile(filepath.Join(d, "api.token"))
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("node %d: read api token: %w", i, err)
		}
		t := strings.TrimSpace(string(tok))
		c.apis = append(c.apis, a)
		c.tokens = append(c.tokens, t)
		cl := controlapi.NewClient(a, t)
		cl.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
		c.clients = append(c.clients, cl)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, cl := range c.clients {
		for {
			actx, acancel := context.WithTimeout(ctx, 5*time.Second)
			st, err := cl.Status(actx)
			acancel()
			if err == nil && st.PeersConnected >= n-1 {
				c.ids = append(c.ids, st.PeerID)
				break
			}
			if ctx.Err() != nil {
				c.stop()
				return nil, fmt.Errorf("node %d not connected to all %d others within a minute (connected %d, last error %v)", i, n-1, st.PeersConnected, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return c, nil
}

// waitReady reads a daemon's stdout up to its "ready" line and returns its
// TCP address; the rest of stdout is drained in the background.
func waitReady(out io.Reader) (string, error) {
	sc := bufio.NewScanner(out)
	addr := ""
	for sc.Scan() {
		line := sc.Text()
		if a, ok := strings.CutPrefix(line, "addr: "); ok && addr == "" && strings.Contains(a, "/tcp/") {
			addr = a
		}
		if line == "ready" {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return addr, nil
		}
	}
	return "", errors.New("daemon exited before it was ready")
}

func (c *murmurCluster) size() int { return len(c.clients) }

func (c *murmurCluster) write(ctx context.Context, via, i int, value []byte) (int, uint64, error) {
	res, err := c.clients[via].Put(ctx, fmt.Sprintf("load/%08d", i), value)
	var apiErr *controlapi.APIError
	if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusTooManyRequests || apiErr.StatusCode == http.StatusServiceUnavailable) {
		return 0, 0, &busyError{after: 10 * time.Millisecond}
	}
	if err != nil {
		return 0, 0, err
	}
	return via, res.Seq, nil
}

func (c *murmurCluster) writeMany(ctx context.Context, via int, keys []int, value []byte) (int, []uint64, error) {
	items := make([]replica.KV, len(keys))
	for j, k := range keys {
		items[j] = replica.KV{Key: fmt.Sprintf("load/%08d", k), Value: value}
	}
	res, err := c.clients[via].PutMany(ctx, items)
	var apiErr *controlapi.APIError
	if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusTooManyRequests || apiErr.StatusCode == http.StatusServiceUnavailable) {
		return 0, nil, &busyError{after: 10 * time.Millisecond}
	}
	if err != nil {
		return 0, nil, err
	}
	tickets := make([]uint64, len(res))
	for j, r := range res {
		tickets[j] = r.Seq
	}
	return via, tickets, nil
}

func (c *murmurCluster) progress(ctx context.Context, j int) ([]uint64, error) {
	st, err := c.clients[j].Status(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(c.ids))
	for o, id := range c.ids {
		out[o] = st.VersionVector[id]
	}
	return out, nil
}

func (c *murmurCluster) wireBytes(ctx context.Context) (uint64, error) {
	var total uint64
	for _, cl := range c.clients {
		st, err := cl.Status(ctx)
		if err != nil {
			return 0, err
		}
		total += st.Engine.BytesSent
	}
	return total, nil
}

func (c *murmurCluster) pids() []int {
	var out []int
	for _, cmd := range c.cmds {
		out = append(out, cmd.Process.Pid)
	}
	return out
}

// counters prints each node's main engine counters (with -v).
func (c *murmurCluster) counters(ctx context.Context) {
	for i, cl := range c.clients {
		st, err := cl.Status(ctx)
		if err != nil {
			continue
		}
		e := st.Engine
		fmt.Printf("  node %d: created %d accepted %d dup %d payloads recv %d sent %d msgs sent %d pulls %d sync rounds %d timeouts %d inbox dropped %d\n",
			i, e.Created, e.Accepted, e.Duplicates, e.PayloadsReceived, e.PayloadsSent, e.MessagesSent, e.Pulls, e.SyncRounds, e.SyncTimeouts, e.InboxDropped)
	}
}

func (c *murmurCluster) health(ctx context.Context) (int, int) {
	peers, banned := -1, 0
	for i, cl := range c.clients {
		st, err := cl.Status(ctx)
		if err == nil && (peers < 0 || st.PeersConnected < peers) {
			peers = st.PeersConnected
		}
		banned += int(metric(c.apis[i], c.tokens[i], "murmur_peers_banned"))
	}
	return peers, banned
}

// metric reads one unlabelled gauge or counter from a /metrics endpoint.
func metric(addr, token, name string) float64 {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	return sumMetric(resp.Body, name)
}

// sumMetric adds up every sample of the named metric in a Prometheus text
// exposition.
func sumMetric(r io.Reader, name string) float64 {
	total := 0.0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			total += v
		}
	}
	return total
}

func (c *murmurCluster) stop() { stopAll(c.cmds) }

// profile records a CPU profile of every node for the given time into
// dir/murmur-N-nodeI.prof (go tool pprof reads them); it returns when all
// are written. Errors are printed, not fatal: the run's numbers stand
// without a profile.
func (c *murmurCluster) profile(dir string, d time.Duration) {
	var wg sync.WaitGroup
	for i := range c.apis {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := filepath.Join(dir, fmt.Sprintf("murmur-%d-node%d.prof", len(c.apis), i))
			if err := fetchProfile(c.apis[i], c.tokens[i], d, path); err != nil {
				fmt.Fprintf(os.Stderr, "loadbench: profile of node %d: %v\n", i, err)
			}
		}()
	}
	wg.Wait()
}

// fetchProfile saves a daemon's CPU profile over d to path.
func fetchProfile(addr, token string, d time.Duration, path string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(d.Seconds()))
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("profile request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s: %s (is the daemon started with MURMUR_PPROF=1?)", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create profile file: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
