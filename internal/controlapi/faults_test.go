package controlapi

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/murmur-p2p/murmur/p2pnode"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// startNodeWith starts a node like startNode after adjust changed its config.
func startNodeWith(t *testing.T, adjust func(*p2pnode.Config), opts ...p2pnode.Option) *p2pnode.Node {
	t.Helper()
	cfg := p2pnode.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.Discovery.Network = "apitest"
	cfg.Store = "memory"
	cfg.TickInterval = 20 * time.Millisecond
	adjust(&cfg)
	n, err := p2pnode.New(cfg, opts...)
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

// The documented value limit fits whatever the key: a value of exactly
// MaxValueSize under a key of MaxKeySize is written and read back.
func TestLargestValueFitsWithLargestKey(t *testing.T) {
	node := startNode(t)
	_, _, c := serve(t, node, Config{})
	key := strings.Repeat("k", replica.MaxKeySize)
	value := []byte(strings.Repeat("v", replica.MaxValueSize))
	if _, err := c.Put(ctx(t), key, value); err != nil {
		t.Fatalf("put of a %d-byte value under a %d-byte key: %v", len(value), len(key), err)
	}
	e, err := c.Get(ctx(t), key)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := e.Bytes(); len(v) != replica.MaxValueSize {
		t.Fatalf("read back %d bytes", len(v))
	}
}

// A write whose event does not fit a configured max_message_size is the
// client's to fix: 413, not 500.
func TestEventOverMessageSizeIs413(t *testing.T) {
	node := startNodeWith(t, func(c *p2pnode.Config) { c.Sync.MaxMessageSize = 64 << 10 })
	_, ts, _ := serve(t, node, Config{})
	body := `{"value":"` + strings.Repeat("v", 100<<10) + `"}`
	code, resp := request(t, "PUT", ts.URL+"/v1/kv/big", body, "Content-Type", "application/json")
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(resp, "max_message_size") {
		t.Fatalf("PUT of an event over max_message_size: %d %s, want 413 naming max_message_size", code, resp)
	}
}

// Keys and JSON strings that are not valid UTF-8 are refused, not stored
// with replacement characters.
func TestInvalidUTF8Refused(t *testing.T) {
	node := startNode(t)
	_, ts, _ := serve(t, node, Config{})
	cases := []struct {
		name, method, path, body string
	}{
		{"key", "PUT", "/v1/kv/a%FFb", `{"value":"x"}`},
		{"get key", "GET", "/v1/kv/a%FFb", ""},
		{"value", "PUT", "/v1/kv/k", "{\"value\":\"a\xffb\"}"},
		{"topic", "POST", "/v1/publish", "{\"topic\":\"t\xfe\",\"payload\":\"x\"}"},
	}
	for _, tc := range cases {
		code, resp := request(t, tc.method, ts.URL+tc.path, tc.body, "Content-Type", "application/json")
		if code != http.StatusBadRequest || !strings.Contains(resp, "UTF-8") {
			t.Errorf("%s: %d %s, want 400 naming UTF-8", tc.name, code, resp)
		}
	}
	if _, err := node.Get("k"); err == nil {
		t.Fatal("a value with invalid UTF-8 was stored")
	}
	code, resp := request(t, "GET", ts.URL+"/v1/kv?prefix="+url.QueryEscape("a\xff"), "")
	if code != http.StatusBadRequest {
		t.Errorf("list with a non-UTF-8 prefix: %d %s, want 400", code, resp)
	}
}

// lowSpaceFS is the operating system's file system reporting, while low is
// set, only 1000 bytes free.
type lowSpaceFS struct {
	vfs.FS
	low atomic.Bool
}

func (f *lowSpaceFS) GetDiskUsage(path string) (vfs.DiskUsage, error) {
	du, err := f.FS.GetDiskUsage(path)
	if f.low.Load() {
		du.AvailBytes = 1000
	}
	return du, err
}

// A full disk is a state: writes get 507 "disk full: N bytes free in DIR",
// reads and the API go on, and writes are taken again once space returns.
func TestDiskFullIs507ThenRecovers(t *testing.T) {
	fs := &lowSpaceFS{FS: vfs.Default}
	node := startNodeWith(t, func(c *p2pnode.Config) { c.Store = "pebble"; c.StoreMinFreeMB = 1 }, p2pnode.WithStoreFS(fs))
	_, ts, c := serve(t, node, Config{})
	if _, err := c.Put(ctx(t), "k1", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	fs.low.Store(true)
	code, resp := request(t, "PUT", ts.URL+"/v1/kv/k2", `{"value":"v2"}`, "Content-Type", "application/json")
	if code != http.StatusInsufficientStorage || !strings.Contains(resp, "disk full: 1000 bytes free in "+node.Config().DataDir) {
		t.Fatalf("PUT on a full disk: %d %s, want 507 disk full: 1000 bytes free in the store directory", code, resp)
	}
	if e, err := c.Get(ctx(t), "k1"); err != nil || e.Value != "v1" {
		t.Fatalf("GET on a full disk: %+v %v", e, err)
	}
	if code, resp := request(t, "GET", ts.URL+"/v1/status", ""); code != http.StatusOK {
		t.Fatalf("status on a full disk: %d %s", code, resp)
	}
	fs.low.Store(false)
	res, err := c.Put(ctx(t), "k2", []byte("v2"))
	if err != nil {
		t.Fatalf("PUT after space returned: %v", err)
	}
	if res.Seq != 2 {
		t.Fatalf("the write after recovery has seq %d, want 2", res.Seq)
	}
}
