package controlapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/sync/replica"
)

func TestKeyValueRoundTrip(t *testing.T) {
	node := startNode(t)
	_, _, c := serve(t, node, Config{})

	res, err := c.Put(ctx(t), "app/greeting", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Op != "put" || res.Key != "app/greeting" || res.Origin != node.ID().String() || res.Seq != 1 {
		t.Fatalf("put result %+v", res)
	}
	binary := []byte{0, 0xff, 0xfe, 'x'}
	if _, err := c.Put(ctx(t), "app/blob", binary); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx(t), "other", []byte("x")); err != nil {
		t.Fatal(err)
	}

	e, err := c.Get(ctx(t), "app/greeting")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := e.Bytes(); string(v) != "hello" || e.Encoding != EncodingUTF8 || e.Conflict || len(e.Versions) != 1 {
		t.Fatalf("get: %+v", e)
	}
	e, err = c.Get(ctx(t), "app/blob")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := e.Bytes(); !bytes.Equal(v, binary) || e.Encoding != EncodingBase64 {
		t.Fatalf("binary value came back as %+v", e)
	}
	// The node itself agrees with what the API wrote.
	if v, err := node.Get("app/blob"); err != nil || !bytes.Equal(v, binary) {
		t.Fatalf("node.Get = %q, %v", v, err)
	}

	list, err := c.List(ctx(t), "app/", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Keys) != 2 || list.Keys[0].Key != "app/blob" || list.Keys[1].Key != "app/greeting" || list.Truncated {
		t.Fatalf("list app/: %+v", list)
	}
	list, err = c.List(ctx(t), "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Keys) != 2 || !list.Truncated {
		t.Fatalf("list with limit 2 of 3 keys: %+v", list)
	}

	if _, err := c.Delete(ctx(t), "app/greeting"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx(t), "app/greeting"); !IsStatus(err, http.StatusNotFound) {
		t.Fatalf("get after delete: %v, want 404", err)
	}
	if _, err := c.Delete(ctx(t), "app/greeting"); !IsStatus(err, http.StatusNotFound) {
		t.Fatalf("second delete: %v, want 404", err)
	}
	if _, err := c.Get(ctx(t), "never/written"); !IsStatus(err, http.StatusNotFound) {
		t.Fatalf("get of a missing key: %v, want 404", err)
	}

	pub, err := c.Publish(ctx(t), "alerts", []byte("disk full"))
	if err != nil {
		t.Fatal(err)
	}
	if pub.Op != "publish" || pub.Key != "alerts" || pub.Seq != 5 {
		t.Fatalf("publish result %+v (want seq 5 after 3 puts and a delete)", pub)
	}
}

func TestBadInputGets4xx(t *testing.T) {
	node := startNode(t)
	_, ts, _ := serve(t, node, Config{})
	u := ts.URL
	bigKey := strings.Repeat("k", replica.MaxKeySize+1)
	bigValue, _ := json.Marshal(PutRequest{Value: strings.Repeat("v", replica.MaxValueSize+1)})
	hugeBody := `{"value":"` + strings.Repeat("v", maxBodySize) + `"}`
	unknownPeer := "12D3KooWGNNU5Lvm13RrTnBdxrHy7yJ4gLzjKLtiu53kEi6GLGTQ"
	cases := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"bad JSON", "PUT", "/v1/kv/k", `{"value":`, 400, "bad JSON"},
		{"empty body", "PUT", "/v1/kv/k", ``, 400, "bad JSON: empty body"},
		{"unknown field", "PUT", "/v1/kv/k", `{"valeu":"x"}`, 400, `unknown field "valeu"`},
		{"trailing data", "PUT", "/v1/kv/k", `{"value":"x"} {}`, 400, "more than one JSON value"},
		{"wrong type", "PUT", "/v1/kv/k", `{"value":3}`, 400, "bad JSON"},
		{"empty key", "PUT", "/v1/kv/", `{"value":"x"}`, 400, "key: empty"},
		{"empty key get", "GET", "/v1/kv/", ``, 400, "key: empty"},
		{"oversize key", "PUT", "/v1/kv/" + bigKey, `{"value":"x"}`, 413, "over the limit of 1024"},
		{"empty value", "PUT", "/v1/kv/k", `{"value":""}`, 400, "value: empty"},
		{"oversize value", "PUT", "/v1/kv/k", string(bigValue), 413, "over the limit of 1048576"},
		{"oversize body", "PUT", "/v1/kv/k", hugeBody, 413, "request body over"},
		{"bad encoding", "PUT", "/v1/kv/k", `{"value":"x","encoding":"hex"}`, 400, `encoding: invalid value "hex"`},
		{"bad base64", "PUT", "/v1/kv/k", `{"value":"!!","encoding":"base64"}`, 400, "value: invalid base64"},
		{"empty topic", "POST", "/v1/publish", `{"topic":"","payload":"x"}`, 400, "topic: empty"},
		{"oversize topic", "POST", "/v1/publish", `{"topic":"` + bigKey + `"}`, 413, "topic: 1025 bytes"},
		{"sync without peer", "POST", "/v1/sync", `{}`, 400, "peer: required"},
		{"sync bad peer ID", "POST", "/v1/sync", `{"peer":"not-a-peer"}`, 400, `invalid peer ID "not-a-peer"`},
		{"sync unknown peer", "POST", "/v1/sync", `{"peer":"` + unknownPeer + `"}`, 404, "unknown to this node"},
		{"sync bad wait", "POST", "/v1/sync?wait=forever", `{"peer":"` + unknownPeer + `"}`, 400, "wait: invalid value"},
		{"list bad limit", "GET", "/v1/kv?limit=0", ``, 400, "limit: invalid value"},
		{"watch bad cursor", "GET", "/v1/watch?cursor=abc", ``, 400, "cursor: entry 0"},
		{"unknown endpoint", "GET", "/v2/everything", ``, 404, "no endpoint GET /v2/everything"},
		{"wrong method", "POST", "/v1/status", `{}`, 405, "method not allowed (allowed: GET)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := request(t, tc.method, u+tc.path, tc.body, "Content-Type", "application/json")
			var eb ErrorBody
			if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error == "" {
				t.Fatalf("%s %s: status %d, error body is not {\"error\": ...}: %.200q", tc.method, tc.path, status, body)
			}
			if status != tc.status || !strings.Contains(eb.Error, tc.want) {
				t.Fatalf("%s %s: status %d error %.200q; want %d containing %q", tc.method, tc.path, status, eb.Error, tc.status, tc.want)
			}
		})
	}
	// Nothing of the refused writes reached the node.
	if st, err := node.Stats(); err != nil || st.Engine.Created != 0 {
		t.Fatalf("refused requests created %d events (err %v)", st.Engine.Created, err)
	}
}

func TestTokenRequired(t *testing.T) {
	if _, err := NewServer(nil, Config{Addr: "0.0.0.0:4180"}); err == nil || !strings.Contains(err.Error(), "api_token: required") {
		t.Fatalf("non-loopback address without a token: %v", err)
	}
	if _, err := NewServer(nil, Config{Addr: "localhost"}); err == nil || !strings.Contains(err.Error(), "api_addr: invalid value") {
		t.Fatalf("address without a port: %v", err)
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:4180", "localhost:4180"} {
		if err := (Config{Addr: addr, SyncWait: time.Second, Heartbeat: time.Second}).Validate(); err != nil {
			t.Errorf("loopback %s without a token: %v", addr, err)
		}
	}

	node := startNode(t)
	_, ts, c := serve(t, node, Config{Addr: "0.0.0.0:0", Token: "s3cret"})
	if status, body := request(t, "GET", ts.URL+"/v1/status", ""); status != 401 || !strings.Contains(body, "API token") {
		t.Fatalf("no token: %d %s", status, body)
	}
	if status, _ := request(t, "GET", ts.URL+"/v1/status", "", "Authorization", "Bearer wrong"); status != 401 {
		t.Fatalf("wrong token: %d", status)
	}
	if status, _ := request(t, "GET", ts.URL+"/metrics", ""); status != 401 && status != 404 {
		t.Fatalf("metrics without token: %d", status)
	}
	if status, _ := request(t, "GET", ts.URL+"/healthz", ""); status != 200 {
		t.Fatalf("healthz needs no token: %d", status)
	}
	if _, err := c.Put(ctx(t), "k", []byte("v")); err != nil {
		t.Fatalf("client with the token: %v", err)
	}
	noToken := NewClient(strings.TrimPrefix(ts.URL, "http://"), "")
	if _, err := noToken.Get(ctx(t), "k"); !IsStatus(err, http.StatusUnauthorized) {
		t.Fatalf("client without the token: %v", err)
	}
}

func TestHealthAndReady(t *testing.T) {
	node := startNode(t)
	_, ts, _ := serve(t, node, Config{})
	if status, _ := request(t, "GET", ts.URL+"/readyz", ""); status != 200 {
		t.Fatalf("readyz on a running node: %d", status)
	}
	node.Close()
	if status, body := request(t, "GET", ts.URL+"/readyz", ""); status != 503 || !strings.Contains(body, "not ready") {
		t.Fatalf("readyz on a closed node: %d %s", status, body)
	}
	if status, _ := request(t, "GET", ts.URL+"/healthz", ""); status != 200 {
		t.Fatalf("healthz: %d", status)
	}
	if status, body := request(t, "PUT", ts.URL+"/v1/kv/k", `{"value":"v"}`, "Content-Type", "application/json"); status != 503 || !strings.Contains(body, "not running") {
		t.Fatalf("put on a closed node: %d %s", status, body)
	}
}

func TestNoDaemon(t *testing.T) {
	c := NewClient("127.0.0.1:1", "")
	if _, err := c.Status(ctx(t)); !errors.Is(err, ErrNoDaemon) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("nothing listening: %v", err)
	}
}

func TestPeersStatusAndSync(t *testing.T) {
	a := startNode(t)
	b := startNode(t, a.Addrs()[0].String())
	_, _, ca := serve(t, a, Config{})
	waitFor(t, 15*time.Second, "A to see B as a connected, alive peer", func() bool {
		peers, err := ca.Peers(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range peers {
			if p.ID == b.ID().String() && p.Connected && p.State == "alive" {
				return true
			}
		}
		return false
	})
	if _, err := b.Put("from-b", []byte("1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "B's write to reach A", func() bool {
		_, err := ca.Get(ctx(t), "from-b")
		return err == nil
	})
	res, err := ca.Sync(ctx(t), b.ID().String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Pending || !res.Match || res.Peer != b.ID().String() {
		t.Fatalf("sync of two converged nodes: %+v, want a finished match", res)
	}
	st, err := ca.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.PeerID != a.ID().String() || st.Network != "apitest" || st.PeersConnected != 1 || len(st.Addrs) == 0 ||
		st.Store.Kind != "memory" || st.Store.Events != 1 || st.Engine.Accepted != 1 {
		t.Fatalf("status: %+v", st)
	}
	if _, err := peer.Decode(st.PeerID); err != nil {
		t.Fatal(err)
	}
}
