package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// etcdCluster is an n-member etcd cluster on loopback, written through the
// v3 JSON gateway of member 0 (a write is acknowledged once a majority has
// it durably).
type etcdCluster struct {
	cmds    []*exec.Cmd
	clients []string // client URLs
	http    *http.Client
}

// startEtcd starts n members under dir, member i on client port
// base+2i and peer port base+2i+1, and waits until the cluster answers.
func startEtcd(bin, dir string, n, base int) (*etcdCluster, error) {
	c := &etcdCluster{http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}}
	var initial []string
	for i := 0; i < n; i++ {
		initial = append(initial, fmt.Sprintf("e%d=http://127.0.0.1:%d", i, base+2*i+1))
	}
	for i := 0; i < n; i++ {
		client := fmt.Sprintf("http://127.0.0.1:%d", base+2*i)
		peerURL := fmt.Sprintf("http://127.0.0.1:%d", base+2*i+1)
		d := filepath.Join(dir, fmt.Sprintf("e%d", i))
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("etcd data dir: %w", err)
		}
		cmd := exec.Command(bin, "--name", fmt.Sprintf("e%d", i), "--data-dir", d,
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "loadbench", "--log-level", "error")
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("e%d.log", i)))
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("create etcd log: %w", err)
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			c.stop()
			return nil, fmt.Errorf("start %s: %w", bin, err)
		}
		c.cmds = append(c.cmds, cmd)
		c.clients = append(c.clients, client)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		if _, _, err := c.write(ctx, 0, -1, []byte("x")); err == nil {
			break
		}
		if ctx.Err() != nil {
			c.stop()
			return nil, fmt.Errorf("etcd cluster not serving writes within a minute (logs in %s)", dir)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return c, nil
}

// header is the response header of the v3 gateway (int64s as strings).
type header struct {
	Header struct {
		Revision string `json:"revision"`
	} `json:"header"`
}

func (c *etcdCluster) call(ctx context.Context, member int, path string, body any) (uint64, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.clients[member]+path, bytes.NewReader(b))
	if err != nil {
		return 0, fmt.Errorf("request %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("etcd %s: %w", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		return 0, &busyError{after: 10 * time.Millisecond}
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("etcd %s: HTTP %d: %s", path, resp.StatusCode, raw)
	}
	var h header
	if err := json.Unmarshal(raw, &h); err != nil {
		return 0, fmt.Errorf("etcd %s: decode: %w", path, err)
	}
	rev, err := strconv.ParseUint(h.Header.Revision, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("etcd %s: revision %q: %w", path, h.Header.Revision, err)
	}
	return rev, nil
}

func (c *etcdCluster) size() int { return len(c.clients) }

func (c *etcdCluster) write(ctx context.Context, via, i int, value []byte) (int, uint64, error) {
	key := fmt.Sprintf("load/%08d", i)
	rev, err := c.call(ctx, via, "/v3/kv/put", map[string]string{
		"key": base64.StdEncoding.EncodeToString([]byte(key)), "value": base64.StdEncoding.EncodeToString(value)})
	return 0, rev, err // one revision counter for the whole cluster
}

// progress is the member's own revision (a serializable read, answered
// locally).
func (c *etcdCluster) progress(ctx context.Context, j int) ([]uint64, error) {
	rev, err := c.call(ctx, j, "/v3/kv/range", map[string]any{
		"key": base64.StdEncoding.EncodeToString([]byte("load/")), "serializable": true, "count_only": true})
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(c.clients))
	out[0] = rev
	return out, nil
}

func (c *etcdCluster) wireBytes(ctx context.Context) (uint64, error) {
	total := 0.0
	for _, u := range c.clients {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/metrics", nil)
		if err != nil {
			return 0, err
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return 0, fmt.Errorf("etcd metrics: %w", err)
		}
		total += sumMetric(resp.Body, "etcd_network_peer_sent_bytes_total")
		resp.Body.Close()
	}
	return uint64(total), nil
}

func (c *etcdCluster) pids() []int {
	var out []int
	for _, cmd := range c.cmds {
		out = append(out, cmd.Process.Pid)
	}
	return out
}

func (c *etcdCluster) health(context.Context) (int, int) { return -1, -1 }

func (c *etcdCluster) stop() { stopAll(c.cmds) }
