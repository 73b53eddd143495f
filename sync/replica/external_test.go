package replica

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
)

func external(c *Config) { c.ExternalDissemination = true }

// takeBroadcast acts on e's Ready like flush, returning what it asks to
// broadcast and the messages it sends.
func (tn *testNet) takeBroadcast(id PeerID) (bcast []*Event, msgs []Message) {
	tn.t.Helper()
	e := tn.engines[id]
	for e.HasReady() {
		rd := e.Ready()
		if err := tn.stores[id].Apply(rd.Batch); err != nil {
			tn.t.Fatal(err)
		}
		bcast = append(bcast, rd.Broadcast...)
		msgs = append(msgs, rd.Messages...)
		tn.queue = append(tn.queue, rd.Messages...)
		tn.changes[id] = append(tn.changes[id], rd.Changes...)
		e.Advance()
	}
	return bcast, msgs
}

func TestExternalDisseminationBroadcastsAndReceives(t *testing.T) {
	tn, ids := newTestNet(t, 3, external)
	a, b := ids[0], ids[1]
	ev, err := tn.engines[a].Put("k", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	bcast, msgs := tn.takeBroadcast(a)
	if len(bcast) != 1 || bcast[0].ID() != ev.ID() {
		t.Fatalf("broadcast %v, want the new event", bcast)
	}
	if len(msgs) != 0 {
		t.Fatalf("engine sent %d messages itself (first %s), want none", len(msgs), msgs[0].Body.Type())
	}
	if ok, _ := tn.stores[a].HasEvent(ev.ID()); !ok {
		t.Fatal("broadcast event not in the batch")
	}

	eb := tn.engines[b]
	if err := eb.Receive(a, []*Event{ev}); err != nil {
		t.Fatal(err)
	}
	bcast, msgs = tn.takeBroadcast(b)
	if len(bcast) != 0 || len(msgs) != 0 {
		t.Fatalf("received event was broadcast (%d) or acked/forwarded (%d messages)", len(bcast), len(msgs))
	}
	if v, err := eb.Get("k"); err != nil || string(v) != "v" {
		t.Fatalf("b reads %q, %v", v, err)
	}
	if cs := tn.changes[b]; len(cs) == 0 || cs[len(cs)-1].Kind != ChangeReceived {
		t.Fatalf("changes %+v, want a ChangeReceived", cs)
	}
	if err := eb.Receive(ids[2], []*Event{ev}); err != nil {
		t.Fatal(err)
	}
	st := eb.Stats()
	if st.Accepted != 1 || st.Duplicates != 1 || st.ExternalReceived != 2 || st.PayloadsReceived != 2 {
		t.Fatalf("stats %+v", st)
	}
	if st := tn.engines[a].Stats(); st.Broadcast != 1 || st.SentByType[TypePush] != 0 {
		t.Fatalf("origin stats %+v", st)
	}
}

func TestExternalReceiveRejectsBadInput(t *testing.T) {
	tn, ids := newTestNet(t, 2, external)
	a, b := ids[0], ids[1]
	eb := tn.engines[b]
	good := signedEvent(tn.signers[a], 1, OpPut, "k", "v", nil)
	tampered := *good
	tampered.Value = []byte("evil")
	if err := eb.Receive(a, []*Event{&tampered, nil}); !errors.Is(err, ErrBadSignature) || !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("tampered and nil events: %v", err)
	}
	if _, err := eb.Get("k"); !errors.Is(err, ErrNotFound) {
		t.Fatal("badly signed event was applied")
	}
	for _, from := range []PeerID{"", b} {
		if err := eb.Receive(from, []*Event{good}); !errors.Is(err, ErrInvalidMessage) {
			t.Fatalf("relayed by %q: %v", from, err)
		}
	}
	many := make([]*Event, DefaultConfig().MaxEventsPerMessage+1)
	for i := range many {
		many[i] = good
	}
	if err := eb.Receive(a, many); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("too many events: %v", err)
	}
	if st := eb.Stats(); st.Rejected != 2 || st.Accepted != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestExternalOutOfOrderHeldAndGapFilled(t *testing.T) {
	tn, ids := newTestNet(t, 2, external)
	a, b := ids[0], ids[1]
	for i := 0; i < 3; i++ {
		if _, err := tn.engines[a].Put("k", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	bcast, _ := tn.takeBroadcast(a)
	if len(bcast) != 3 {
		t.Fatalf("broadcast %d events, want 3", len(bcast))
	}
	// Only the third reaches b through the router.
	if err := tn.engines[b].Receive(a, bcast[2:]); err != nil {
		t.Fatal(err)
	}
	if vv := tn.engines[b].VersionVector(); vv[a] != 0 {
		t.Fatalf("out-of-order event applied: %v", vv)
	}
	_, msgs := tn.takeBroadcast(b)
	if len(msgs) != 1 || msgs[0].Body.Type() != TypeSyncExchange || msgs[0].To != a {
		t.Fatalf("want one gap request to a, got %v", msgs)
	}
	tn.deliver()
	if vv := tn.engines[b].VersionVector(); vv[a] != 3 {
		t.Fatalf("gap not filled: %v", vv)
	}
}

func TestExternalLostBroadcastsRepairedByDigestSync(t *testing.T) {
	tn, ids := newTestNet(t, 4, external)
	for i, id := range ids {
		if _, err := tn.engines[id].Put("k", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	tn.flush() // the broadcasts are lost
	want := tn.engines[ids[0]].Digest()
	for range 20 {
		msgs := tn.tick(DefaultConfig().SyncInterval)
		if n := countType(msgs, TypePush); n != 0 {
			t.Fatalf("%d pushes in external mode", n)
		}
		converged := true
		for _, id := range ids {
			converged = converged && tn.engines[id].Digest() == tn.engines[ids[0]].Digest()
		}
		if converged {
			if tn.engines[ids[0]].Digest() == want {
				t.Fatal("digest did not change")
			}
			return
		}
	}
	t.Fatal("no convergence by digest sync in 20 intervals")
}

// bcastTransport records messages and broadcasts.
type bcastTransport struct {
	mu    sync.Mutex
	bcast []*Event
}

func (b *bcastTransport) Send(Message) {}

func (b *bcastTransport) Broadcast(evs []*Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bcast = append(b.bcast, evs...)
}

func TestNodeExternalNeedsBroadcaster(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Signer, cfg.Verifier, cfg.Store = newTestSigner(1), testVerifier{}, NewMemStore()
	cfg.Rand = rand.New(rand.NewPCG(1, 2))
	cfg.ExternalDissemination = true
	if _, err := NewNode(cfg, chanTransport{ch: make(chan Message, 1)}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("transport without Broadcaster: %v", err)
	}
	tr := &bcastTransport{}
	n, err := NewNode(cfg, tr)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := n.Put("k", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.bcast) != 1 || tr.bcast[0] != ev {
		t.Fatalf("broadcast %v, want the put", tr.bcast)
	}
	other := signedEvent(newTestSigner(2), 1, OpPut, "j", "w", nil)
	if err := n.Receive(other.Origin, []*Event{other}); err != nil {
		t.Fatal(err)
	}
	if v, err := n.Get("j"); err != nil || string(v) != "w" {
		t.Fatalf("received event reads %q, %v", v, err)
	}
	if len(tr.bcast) != 1 {
		t.Fatal("received event was broadcast")
	}
}
