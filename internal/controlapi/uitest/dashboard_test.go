//go:build uitest

package uitest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/murmur-p2p/murmur/internal/controlapi"
)

// node is one daemon of the testnet, as its data dir describes it.
type node struct {
	dir, addr, token, id string
	pid                  int
}

// loadNodes reads node0..node(n-1) under dir: the API address (api.addr),
// the token the way the CLI finds it (MURMUR_API_TOKEN, else DATA/api.token)
// and the peer ID and PID (daemon.json).
func loadNodes(t *testing.T, dir string, n int) []node {
	t.Helper()
	var out []node
	for i := range n {
		d := filepath.Join(dir, fmt.Sprintf("node%d", i))
		addr, err := os.ReadFile(filepath.Join(d, "api.addr"))
		if err != nil {
			t.Fatalf("node %d: no API address (is the testnet running?): %v", i, err)
		}
		nd := node{dir: d, addr: strings.TrimSpace(string(addr)), token: os.Getenv("MURMUR_API_TOKEN")}
		if nd.token == "" {
			if b, err := os.ReadFile(filepath.Join(d, "api.token")); err == nil {
				nd.token = strings.TrimSpace(string(b))
			}
		}
		var info struct {
			PID    int    `json:"pid"`
			PeerID string `json:"peer_id"`
		}
		b, err := os.ReadFile(filepath.Join(d, "daemon.json"))
		if err == nil {
			err = json.Unmarshal(b, &info)
		}
		if err != nil {
			t.Fatalf("node %d: read daemon.json: %v", i, err)
		}
		nd.id, nd.pid = info.PeerID, info.PID
		out = append(out, nd)
	}
	return out
}

// chromiumPath finds the browser: $CHROMIUM, else chromium on the PATH.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found on PATH and CHROMIUM not set: install Debian's chromium package (make test-ui does: apt-get install -y chromium)")
	}
	return p
}

// newBrowser starts headless Chromium with a fresh profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1100),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// newTab opens a tab whose login prompts are answered as a person would:
// with the token as password (any user name), or, with token empty, by
// cancelling the prompt. It returns the tab and a count of the prompts.
// Tabs share the browser's credentials, except those given fresh, which
// open in a browser context of their own.
func newTab(t *testing.T, browser context.Context, token string, fresh bool) (context.Context, *atomic.Int32) {
	t.Helper()
	var opts []chromedp.ContextOption
	if fresh {
		opts = append(opts, chromedp.WithNewBrowserContext())
	}
	tab, cancel := chromedp.NewContext(browser, opts...)
	t.Cleanup(cancel)
	var target *chromedp.Target
	err := chromedp.Do(tab, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		target = tg
		return nil
	}))
	if err != nil {
		t.Fatalf("open tab: %v", err)
	}
	prompts := new(atomic.Int32)
	answer := &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseCancelAuth}
	if token != "" {
		answer = &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseProvideCredentials, Username: "murmur", Password: token}
	}
	// The listener runs on the tab's event loop: commands go from goroutines.
	err = chromedp.Listen(tab, func(ev any) {
		switch e := ev.(type) {
		case *fetch.EventRequestPaused:
			go func() {
				if _, err := cdp.Call(tab, target, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID}); err != nil && tab.Err() == nil {
					t.Logf("continue request %s: %v", e.Request.URL, err)
				}
			}()
		case *fetch.EventAuthRequired:
			prompts.Add(1)
			go func() {
				if _, err := cdp.Call(tab, target, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: e.RequestID, AuthChallengeResponse: answer}); err != nil && tab.Err() == nil {
					t.Logf("answer login prompt for %s: %v", e.Request.URL, err)
				}
			}()
		}
	})
	if err != nil {
		t.Fatalf("listen to tab: %v", err)
	}
	handle := true
	if _, err := cdp.Call(tab, target, fetch.Enable, fetch.EnableParams{HandleAuthRequests: &handle}); err != nil {
		t.Fatalf("enable login prompt handling: %v", err)
	}
	return tab, prompts
}

// waitJS evaluates expr in the tab until it returns a non-empty string (the
// expression's way of saying the condition holds; "" means not yet), and
// returns it. On timeout it fails with what, the last value and the banner.
func waitJS(t *testing.T, tab context.Context, timeout time.Duration, what, expr string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(tab, 10*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		cancel()
		if err == nil && v != "" {
			return v
		}
		lastErr = err
		if time.Now().After(deadline) {
			banner, _ := chromedp.Run(tab, chromedp.Evaluate[string](`(document.querySelector("#banner")||{}).textContent||""`))
			body, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ""`))
			t.Fatalf("the dashboard did not show %s within %s (last error: %v)\nbanner: %q\npage text:\n%s", what, timeout, lastErr, banner, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestDashboard(t *testing.T) {
	dir := os.Getenv("UI_TESTNET_DIR")
	if dir == "" {
		t.Fatal("UI_TESTNET_DIR is not set: run this test with `make test-ui`, which starts a 3-node testnet and points it there")
	}
	nodes := loadNodes(t, dir, 3)
	n0, n1 := nodes[0], nodes[1]
	browser := newBrowser(t)
	tab, prompts := newTab(t, browser, n0.token, false)
	url := "http://" + n0.addr + "/ui/"
	if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
		t.Fatalf("load %s: %v", url, err)
	}
	const wait = 60 * time.Second

	// The node itself.
	shown := waitJS(t, tab, wait, "the node's peer ID", `document.querySelector("#node-id").title`)
	if shown != n0.id {
		t.Fatalf("the dashboard of node 0 shows peer ID %s, want %s", shown, n0.id)
	}

	// Its peers: both other nodes, with a state and an RTT.
	got := waitJS(t, tab, wait, "both other nodes in the peer table, alive, with an RTT", `(() => {
		const rows = [...document.querySelectorAll("#peers tbody tr")];
		const ok = rows.filter(r => r.children[2].textContent === "alive" && r.children[3].textContent.endsWith("ms"));
		return ok.length >= 2 ? JSON.stringify(ok.map(r => r.dataset.peer)) : "";
	})()`)
	var listed []string
	if err := json.Unmarshal([]byte(got), &listed); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{nodes[1].id, nodes[2].id} {
		if !slices.Contains(listed, want) {
			t.Fatalf("peer table lists %v; missing %s", listed, want)
		}
	}

	// A write on node 1 reaches node 0: the feed, the key browser and the
	// spread picture all show it.
	key := fmt.Sprintf("uitest/%d", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := controlapi.NewClient(n1.addr, n1.token).Put(ctx, key, []byte("hello from node 1")); err != nil {
		t.Fatalf("put %s on node 1: %v", key, err)
	}
	sel := func(table string) string {
		return fmt.Sprintf(`document.querySelector(%s + " [data-key=\"" + CSS.escape(%s) + "\"]")`, jsString(table), jsString(key))
	}
	feed := waitJS(t, tab, wait, "the write in the live feed", `(() => { const e = `+sel("#feed")+`; return e ? e.textContent : ""; })()`)
	if !strings.Contains(feed, "hello from node 1") {
		t.Fatalf("feed entry for %s is %q; want the value", key, feed)
	}
	waitJS(t, tab, wait, "the key in the key browser", `(() => { const e = `+sel("#keys tbody")+`; return e ? e.textContent : ""; })()`)
	row := waitJS(t, tab, wait, "the write in the spread picture", `(() => { const e = `+sel("#spread tbody")+`;
		return e ? JSON.stringify({path: e.dataset.path, from: e.children[4].querySelector("code") ? e.children[4].querySelector("code").title : ""}) : ""; })()`)
	var spread struct{ Path, From string }
	if err := json.Unmarshal([]byte(row), &spread); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains([]string{"push", "pull", "sync", "ae", "gossipsub"}, spread.Path) {
		t.Fatalf("spread row of %s has path %q; want one of push, pull, sync, ae, gossipsub", key, spread.Path)
	}
	if spread.From != nodes[1].id && spread.From != nodes[2].id {
		t.Fatalf("spread row of %s: delivered by %q; want node 1 (%s) or node 2 (%s)", key, spread.From, nodes[1].id, nodes[2].id)
	}
	t.Logf("node 1's write reached node 0 by %s from %s", spread.Path, spread.From)

	// One login prompt, for the page: the browser answers the API's
	// challenges from then on by itself.
	if n := prompts.Load(); n != 1 {
		t.Fatalf("the browser showed %d login prompts; want 1 (for the page)", n)
	}

	// A write on node 0 itself shows as local.
	local := key + "-local"
	if _, err := controlapi.NewClient(n0.addr, n0.token).Put(ctx, local, []byte("written on node 0")); err != nil {
		t.Fatalf("put %s on node 0: %v", local, err)
	}
	key = local
	waitJS(t, tab, wait, "the local write in the spread picture, path local", `(() => { const e = `+sel("#spread tbody")+`; return e && e.dataset.path === "local" ? "ok" : ""; })()`)

	if p := os.Getenv("UI_SCREENSHOT"); p != "" {
		png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}

	// Without the token, the API refuses the page, and says how to get in.
	if n0.token == "" {
		t.Fatal("the testnet runs without an API token, so the dashboard's refusal cannot be checked: make test-ui starts it with one (DATA/api.token or MURMUR_API_TOKEN)")
	}
	bare, _ := newTab(t, browser, "", true)
	if err := chromedp.Do(bare, chromedp.Navigate(url)); err != nil {
		t.Fatalf("load %s without credentials: %v", url, err)
	}
	waitJS(t, bare, wait, "the API's refusal without the token", `document.body && document.body.innerText.includes("missing or wrong API token") ? "ok" : ""`)

	// When the API stops answering, the page says so. Node 2 is stopped
	// for this, last.
	n2 := nodes[2]
	tab2, _ := newTab(t, browser, n2.token, false)
	if err := chromedp.Do(tab2, chromedp.Navigate("http://"+n2.addr+"/ui/")); err != nil {
		t.Fatalf("load node 2's dashboard: %v", err)
	}
	waitJS(t, tab2, wait, "node 2's peer ID", `document.querySelector("#node-id").title`)
	if err := syscall.Kill(n2.pid, syscall.SIGTERM); err != nil {
		t.Fatalf("stop node 2 (pid %d): %v", n2.pid, err)
	}
	msg := waitJS(t, tab2, wait, "a message that the daemon is unreachable", `(() => { const b = document.querySelector("#banner"); return !b.hidden && b.textContent.includes("cannot reach the murmur daemon") ? b.textContent : ""; })()`)
	t.Logf("node 2 stopped; its dashboard says: %s", msg)
}
