package controlapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDashboardPagesNeedTheToken(t *testing.T) {
	node := startNode(t)
	_, ts, _ := serve(t, node, Config{Token: "s3cret"})
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}

	// Without the token: 401, with a Basic challenge so a browser prompts,
	// and a message that says how to get in.
	resp, err := http.Get(ts.URL + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	challenges := resp.Header.Values("WWW-Authenticate")
	if resp.StatusCode != http.StatusUnauthorized || !slices.ContainsFunc(challenges, func(c string) bool { return strings.HasPrefix(c, "Basic ") }) {
		t.Fatalf("GET /ui/ without token: %d %q; want 401 with a Basic challenge", resp.StatusCode, challenges)
	}
	if code, body := request(t, "GET", ts.URL+"/ui/", "", "Authorization", basic("x", "wrong")); code != http.StatusUnauthorized || !strings.Contains(body, "login prompt") {
		t.Fatalf("GET /ui/ with a wrong password: %d %s", code, body)
	}

	// With the token as the password (any user name): the page, the
	// script, and the API behind them.
	code, body := request(t, "GET", ts.URL+"/ui/", "", "Authorization", basic("anyone", "s3cret"))
	if code != http.StatusOK || !strings.Contains(body, "<title>murmur dashboard</title>") || !strings.Contains(body, `src="app.js"`) {
		t.Fatalf("GET /ui/ with the token: %d %.200s", code, body)
	}
	req, _ := http.NewRequest("GET", ts.URL+"/ui/app.js", nil)
	req.Header.Set("Authorization", basic("", "s3cret"))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("GET /ui/app.js: %d, content type %q, CSP %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"))
	}
	if code, body := request(t, "GET", ts.URL+"/v1/status", "", "Authorization", basic("", "s3cret")); code != http.StatusOK {
		t.Fatalf("GET /v1/status with the token as Basic password: %d %s", code, body)
	}
	if code, body := request(t, "GET", ts.URL+"/v1/status", "", "Authorization", "Basic !!!"); code != http.StatusUnauthorized {
		t.Fatalf("GET /v1/status with malformed Basic credentials: %d %s", code, body)
	}

	// /ui redirects to the page.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ = http.NewRequest("GET", ts.URL+"/ui", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err = noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/ui/" {
		t.Fatalf("GET /ui: %d to %q; want 301 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// deliveriesOf reads GET /v1/deliveries.
func deliveriesOf(t *testing.T, url string) DeliveriesResult {
	t.Helper()
	code, body := request(t, "GET", url+"/v1/deliveries?limit=1000", "")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/deliveries: %d %s", code, body)
	}
	var res DeliveriesResult
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestDeliveriesShowPathAndDeliveringPeer(t *testing.T) {
	n0 := startNode(t)
	n1 := startNode(t, n0.Addrs()[0].String())
	_, ts0, c0 := serve(t, n0, Config{})
	_, _, c1 := serve(t, n1, Config{})
	waitFor(t, 30*time.Second, "the nodes to see each other", func() bool { return len(n0.Peers()) == 1 && len(n1.Peers()) == 1 })
	_ = deliveriesOf(t, ts0.URL) // recording starts with the first use

	if _, err := c1.Put(ctx(t), "spread/remote", []byte("from n1")); err != nil {
		t.Fatal(err)
	}
	if _, err := c0.Put(ctx(t), "spread/local", []byte("from n0")); err != nil {
		t.Fatal(err)
	}
	byKey := map[string]Delivery{}
	waitFor(t, 30*time.Second, "both writes in n0's deliveries", func() bool {
		for _, d := range deliveriesOf(t, ts0.URL).Deliveries {
			byKey[d.Key] = d
		}
		return byKey["spread/remote"].Key != "" && byKey["spread/local"].Key != ""
	})
	remote, local := byKey["spread/remote"], byKey["spread/local"]
	if !slices.Contains([]string{PathPush, PathPull, PathSync, PathAE}, remote.Path) || remote.From != n1.ID().String() ||
		remote.Origin != n1.ID().String() || remote.Seq != 1 || remote.Op != "put" {
		t.Fatalf("n1's write as n0 received it: %+v; want a push, pull, sync or ae delivery from %s", remote, n1.ID())
	}
	if remote.Received.Before(remote.Written.Add(-time.Minute)) || remote.DelayMS > 60_000 {
		t.Fatalf("n1's write: written %s, received %s, delay %v ms: not plausible on one machine (%+v)", remote.Written, remote.Received, remote.DelayMS, remote)
	}
	if local.Path != PathLocal || local.From != "" || local.Origin != n0.ID().String() {
		t.Fatalf("n0's own write: %+v; want path local, no delivering peer", local)
	}
	res := deliveriesOf(t, ts0.URL)
	if res.Paths[PathLocal] != 1 || res.Paths[remote.Path] < 1 {
		t.Fatalf("counts %v; want one local write and the remote one", res.Paths)
	}
	for i := 1; i < len(res.Deliveries); i++ {
		if res.Deliveries[i].Received.After(res.Deliveries[i-1].Received) {
			t.Fatalf("deliveries not newest first: %+v before %+v", res.Deliveries[i-1], res.Deliveries[i])
		}
	}
	for _, bad := range []string{"0", "1001", "x"} {
		if code, body := request(t, "GET", ts0.URL+"/v1/deliveries?limit="+bad, ""); code != http.StatusBadRequest || !strings.Contains(body, "limit") {
			t.Fatalf("limit=%s: %d %s; want 400 naming limit", bad, code, body)
		}
	}
}

func TestPeersPingMeasuresRTT(t *testing.T) {
	n0 := startNode(t)
	n1 := startNode(t, n0.Addrs()[0].String())
	_, ts0, _ := serve(t, n0, Config{})
	waitFor(t, 30*time.Second, "the nodes to see each other", func() bool { return len(n0.Peers()) == 1 && len(n1.Peers()) == 1 })
	code, body := request(t, "GET", ts0.URL+"/v1/peers?ping=1", "")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/peers?ping=1: %d %s", code, body)
	}
	var res PeersResult
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Peers) != 1 || res.Peers[0].ID != n1.ID().String() || res.Peers[0].RTTMillis <= 0 {
		t.Fatalf("peers after a ping: %+v; want n1 with an RTT", res.Peers)
	}
}

func TestDeliveryLogKeepsTheNewest(t *testing.T) {
	d := newDeliveryLog(nil, nil)
	for i := range deliveryLogSize + 10 {
		d.add(Delivery{Seq: uint64(i + 1), Path: PathPush})
	}
	res := d.recent(deliveryLogSize)
	if len(res.Deliveries) != deliveryLogSize || res.Deliveries[0].Seq != deliveryLogSize+10 || res.Deliveries[deliveryLogSize-1].Seq != 11 {
		t.Fatalf("after %d adds: %d kept, newest seq %d, oldest seq %d", deliveryLogSize+10, len(res.Deliveries), res.Deliveries[0].Seq, res.Deliveries[len(res.Deliveries)-1].Seq)
	}
	if res.Paths[PathPush] != deliveryLogSize+10 {
		t.Fatalf("push count %d", res.Paths[PathPush])
	}
	if got := d.recent(3).Deliveries; len(got) != 3 || got[2].Seq != deliveryLogSize+8 {
		t.Fatalf("recent(3): %+v", got)
	}
}
