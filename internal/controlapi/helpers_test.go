package controlapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/p2pnode"
)

// startNode starts a loopback node with a memory store in network
// "apitest", bootstrapping from the given addresses.
func startNode(t *testing.T, bootstrap ...string) *p2pnode.Node {
	t.Helper()
	cfg := p2pnode.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.Discovery.Network = "apitest"
	cfg.Discovery.Bootstrap = bootstrap
	cfg.Discovery.DiscoveryInterval = 250 * time.Millisecond
	cfg.Store = "memory"
	cfg.Sync.SyncInterval = 200 * time.Millisecond
	cfg.TickInterval = 20 * time.Millisecond
	n, err := p2pnode.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// serve runs a Server for node on an httptest server and returns a client
// for it.
func serve(t *testing.T, node Node, cfg Config) (*Server, *httptest.Server, *Client) {
	t.Helper()
	srv, err := NewServer(node, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		srv.Close() // ends watch streams so ts.Close does not wait for them
		ts.Close()
	})
	return srv, ts, NewClient(strings.TrimPrefix(ts.URL, "http://"), cfg.Token)
}

// request sends a raw request and returns the status and body.
func request(t *testing.T, method, url, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}
