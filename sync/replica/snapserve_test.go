package replica

import (
	"fmt"
	"testing"
)

// TestSnapshotServeIsRateLimitedPerPeer checks that a peer cannot make the
// node build chunk after chunk with small requests: a request that does not
// continue the peer's last chunk is refused within PullTimeout of it.
func TestSnapshotServeIsRateLimitedPerPeer(t *testing.T) {
	tn, ids := newTestNet(t, 2, func(c *Config) { c.MaxEventsPerMessage = 1 })
	a, b := ids[0], ids[1] // a asks b
	eb := tn.engines[b]
	for i := 0; i < 40; i++ {
		if _, err := eb.Put(fmt.Sprintf("k%02d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	tn.flush()
	tn.queue = nil
	ask := func(c SnapshotCursor) *SnapshotChunk {
		t.Helper()
		if err := eb.Step(Message{From: a, To: b, Body: &SnapshotRequest{Nonce: 1, Cursor: c}}); err != nil {
			t.Fatal(err)
		}
		tn.flush()
		var got *SnapshotChunk
		for _, m := range tn.queue {
			if c, ok := m.Body.(*SnapshotChunk); ok && m.To == a {
				got = c
			}
		}
		tn.queue = nil
		return got
	}
	first := ask(SnapshotCursor{})
	if first == nil || first.Last || len(first.States) == 0 {
		t.Fatalf("first chunk: %+v", first)
	}
	if again := ask(SnapshotCursor{}); again != nil {
		t.Fatal("a repeated request within PullTimeout was served")
	}
	next := SnapshotCursor{Started: true, After: first.States[len(first.States)-1].Key}
	if c := ask(next); c == nil || len(c.States) == 0 {
		t.Fatal("the continuation of the walk was refused")
	}
	if c := ask(next); c != nil {
		t.Fatal("a request repeating the previous cursor was served within PullTimeout")
	}
	if st := eb.Stats(); st.SnapshotRequestsRefused != 2 || st.SnapshotChunksSent != 2 {
		t.Fatalf("refused %d, chunks sent %d", st.SnapshotRequestsRefused, st.SnapshotChunksSent)
	}
	tn.now = tn.now.Add(eb.cfg.PullTimeout)
	eb.Tick(tn.now)
	tn.flush()
	tn.queue = nil
	if c := ask(SnapshotCursor{}); c == nil {
		t.Fatal("a new request after PullTimeout was refused")
	}
}
