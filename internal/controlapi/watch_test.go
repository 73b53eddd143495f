package controlapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// collect runs a watch in the background and returns its changes.
func collect(t *testing.T, c *Client, opts WatchOptions) (<-chan Change, context.CancelFunc) {
	t.Helper()
	ch := make(chan Change, 100)
	wctx, cancel := context.WithCancel(context.Background())
	connected := make(chan struct{})
	opts.OnState = func(up bool, _ error) {
		if up {
			select {
			case <-connected:
			default:
				close(connected)
			}
		}
	}
	go func() {
		_, _ = c.Watch(wctx, opts, func(ch2 Change) error { ch <- ch2; return nil })
		close(ch)
	}()
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not connect")
	}
	t.Cleanup(cancel)
	return ch, cancel
}

func next(t *testing.T, ch <-chan Change) Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("watch ended")
		}
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no change within 10s")
	}
	return Change{}
}

func TestWatchStreamsLiveChanges(t *testing.T) {
	node := startNode(t)
	_, _, c := serve(t, node, Config{})
	changes, _ := collect(t, c, WatchOptions{Prefix: "app/"})

	if _, err := c.Put(ctx(t), "other", []byte("not watched")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx(t), "app/a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx(t), "app/events", []byte{0xff}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx(t), "app/a"); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		op, key string
		seq     uint64
	}{{"put", "app/a", 2}, {"publish", "app/events", 3}, {"delete", "app/a", 4}}
	for _, w := range want {
		got := next(t, changes)
		if got.Op != w.op || got.Key != w.key || got.Seq != w.seq || got.Origin != node.ID().String() || got.Cursor == "" {
			t.Fatalf("change %+v, want %s %s seq %d", got, w.op, w.key, w.seq)
		}
	}
	// The cursor of the last change covers everything the node wrote.
	c2, _ := collect(t, c, WatchOptions{})
	if _, err := c.Put(ctx(t), "app/b", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if got := next(t, c2); got.Key != "app/b" || got.Seq != 5 {
		t.Fatalf("a watch from now got %+v first, want app/b seq 5", got)
	}
}

func TestWatchCallbackErrorEndsWatch(t *testing.T) {
	node := startNode(t)
	_, _, c := serve(t, node, Config{})
	stop := errors.New("stop here")
	done := make(chan error, 1)
	go func() {
		_, err := c.Watch(ctx(t), WatchOptions{Reconnect: true}, func(Change) error { return stop })
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := node.Put("k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if !errors.Is(err, stop) {
				t.Fatalf("Watch returned %v, want the callback's error", err)
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("watch did not end on the callback's error")
		}
	}
}

func TestKeysWithSlashesAndEscapes(t *testing.T) {
	node := startNode(t)
	_, ts, c := serve(t, node, Config{})
	for _, key := range []string{"a/b/c", "with space", "q?x=1#frag", "ünïcode"} {
		if _, err := c.Put(ctx(t), key, []byte(key)); err != nil {
			t.Fatalf("put %q: %v", key, err)
		}
		e, err := c.Get(ctx(t), key)
		if err != nil || e.Key != key || e.Value != key {
			t.Fatalf("get %q: %+v %v", key, e, err)
		}
		if v, err := node.Get(key); err != nil || string(v) != key {
			t.Fatalf("node.Get(%q) = %q, %v", key, v, err)
		}
	}
	if status, _ := request(t, "GET", ts.URL+"/v1/kv/a%2Fb%2Fc", ""); status != http.StatusOK {
		t.Fatalf("escaped slashes: status %d", status)
	}
	if _, err := node.Get("a%2Fb%2Fc"); !errors.Is(err, replica.ErrNotFound) {
		t.Fatalf("the escaped form is not a key of its own: %v", err)
	}
}

func TestWatchResumesFromCursor(t *testing.T) {
	a := startNode(t)
	b := startNode(t, a.Addrs()[0].String())
	_, _, c := serve(t, a, Config{})
	for _, k := range []string{"k1", "k2"} {
		if _, err := c.Put(ctx(t), k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	// From the start: both writes, replayed from the store.
	changes, cancel := collect(t, c, WatchOptions{Cursor: CursorStart})
	var cursor string
	for _, k := range []string{"k1", "k2"} {
		got := next(t, changes)
		if got.Key != k || !got.Replayed {
			t.Fatalf("replay from the start: got %+v, want %s replayed", got, k)
		}
		cursor = got.Cursor
	}
	cancel()
	for range changes {
	}

	// Written while no one watches: two local writes and one from B.
	if _, err := c.Put(ctx(t), "k3", []byte("k3")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put("b1", []byte("b1")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx(t), "k4", []byte("k4")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "B's write to reach A", func() bool { _, err := a.Get("b1"); return err == nil })

	changes, _ = collect(t, c, WatchOptions{Cursor: cursor})
	got := map[string]Change{}
	for range 3 {
		ch := next(t, changes)
		if _, dup := got[ch.Key]; dup {
			t.Fatalf("%s delivered twice", ch.Key)
		}
		got[ch.Key] = ch
	}
	for _, k := range []string{"k3", "k4", "b1"} {
		if ch, ok := got[k]; !ok || !ch.Replayed {
			t.Fatalf("resumed watch got %v, want k3, k4 and b1 replayed", got)
		}
	}
	if got["b1"].Origin != b.ID().String() {
		t.Fatalf("b1 from origin %s, want B", got["b1"].Origin)
	}
	// Then live changes, nothing repeated.
	if _, err := c.Put(ctx(t), "k5", []byte("k5")); err != nil {
		t.Fatal(err)
	}
	if ch := next(t, changes); ch.Key != "k5" || ch.Replayed || ch.Seq != 5 {
		t.Fatalf("after the replay got %+v, want k5 live with seq 5", ch)
	}
	// The final cursor is the node's version vector.
	st, err := c.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if vv, _ := DecodeCursor(st.Cursor); vv.Get(replica.PeerID(a.ID())) != 5 || vv.Get(replica.PeerID(b.ID())) != 1 {
		t.Fatalf("status cursor %s", st.Cursor)
	}
}

func TestWatchLastEventIDHeader(t *testing.T) {
	node := startNode(t)
	_, ts, c := serve(t, node, Config{})
	first, err := c.Put(ctx(t), "a", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx(t), "b", []byte("2")); err != nil {
		t.Fatal(err)
	}
	cur := EncodeCursor(replica.VersionVector{replica.PeerID(node.ID()): first.Seq})
	req, _ := http.NewRequestWithContext(ctx(t), "GET", ts.URL+"/v1/watch", nil)
	req.Header.Set("Last-Event-ID", cur)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	buf := make([]byte, 4096)
	var text string
	for !strings.Contains(text, `"key":"b"`) {
		n, err := resp.Body.Read(buf)
		if err != nil {
			t.Fatalf("stream: %v after %q", err, text)
		}
		text += string(buf[:n])
	}
	if !strings.HasPrefix(text, "id: "+cur+"\nevent: ready\n") || strings.Contains(text, `"key":"a"`) {
		t.Fatalf("stream resumed from Last-Event-ID %s:\n%s", cur, text)
	}
}
