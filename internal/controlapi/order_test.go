package controlapi

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/p2pnode"
)

// startOrderedNode starts a loopback node that is the only voter of its
// ordering group (the development setting).
func startOrderedNode(t *testing.T) *p2pnode.Node {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(k)
	cfg := p2pnode.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.Discovery.Network = "apitest-order"
	cfg.Store = "memory"
	cfg.TickInterval = 20 * time.Millisecond
	cfg.Ordering, cfg.OrderVoters = p2pnode.OrderingRaft, []string{id.String()}
	n, err := p2pnode.New(cfg, p2pnode.WithIdentity(k))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// TestOrderRoute: GET /v1/order returns the global order from an index,
// resumes from Next, long-polls with wait, validates its parameters, is
// behind the token like every other route, and answers 409 when ordering
// is off.
func TestOrderRoute(t *testing.T) {
	n := startOrderedNode(t)
	_, ts, c := serve(t, n, Config{Token: "secret"})
	ctx := context.Background()
	for i := range 5 {
		if _, err := n.Put(fmt.Sprintf("k%d", i), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	var res OrderResult
	waitFor(t, 30*time.Second, "5 ordered events", func() bool {
		var err error
		res, err = c.Order(ctx, 1, 0, 0)
		return err == nil && len(res.Events) == 5
	})
	for i, e := range res.Events {
		if e.Index != uint64(i+1) || e.Key != fmt.Sprintf("k%d", i) || e.Value != fmt.Sprint(i) || e.Origin != n.ID().String() {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
	if res.Next != 6 || res.Group.Role != "StateLeader" || res.Group.Leader != n.ID().String() || len(res.Group.Voters) != 1 {
		t.Fatalf("next %d group %+v", res.Next, res.Group)
	}
	if res, err := c.Order(ctx, 4, 1, 0); err != nil || len(res.Events) != 1 || res.Events[0].Key != "k3" || res.Next != 5 {
		t.Fatalf("from 4 limit 1: %+v %v", res, err)
	}
	// A long poll past the end returns when the next event is ordered.
	done := make(chan OrderResult, 1)
	go func() {
		r, err := c.Order(ctx, 6, 0, 30*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	if _, err := n.Put("late", []byte("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if len(r.Events) != 1 || r.Events[0].Key != "late" || r.Events[0].Index != 6 {
			t.Fatalf("long poll: %+v", r)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("long poll did not return")
	}
	for _, q := range []string{"from=0", "from=x", "limit=0", "limit=5000", "wait=2m", "wait=-1s"} {
		if code, body := request(t, http.MethodGet, ts.URL+"/v1/order?"+q, "", "Authorization", "Bearer secret"); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", q, code, body)
		}
	}
	if code, _ := request(t, http.MethodGet, ts.URL+"/v1/order", ""); code != http.StatusUnauthorized {
		t.Errorf("without the token: %d", code)
	}

	off := startNode(t)
	_, ts2, _ := serve(t, off, Config{})
	if code, body := request(t, http.MethodGet, ts2.URL+"/v1/order", ""); code != http.StatusConflict || !strings.Contains(body, "ordering: raft") {
		t.Errorf("ordering off: %d %s", code, body)
	}
}
