package controlapi

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	msync "github.com/murmur-p2p/murmur/sync"
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
	if _, err := node.Get("a%2Fb%2Fc"); !errors.Is(err, msync.ErrNotFound) {
		t.Fatalf("the escaped form is not a key of its own: %v", err)
	}
}
