package replica

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

// chanTransport delivers messages to nodes through a channel read by one
// goroutine, so Send never calls back into a node.
type chanTransport struct{ ch chan Message }

// Send drops the message when the channel is full, like a lossy network,
// so it never blocks while the node holds its lock.
func (c chanTransport) Send(m Message) {
	select {
	case c.ch <- m:
	default:
	}
}

func TestNodeConcurrentWritesConverge(t *testing.T) {
	tr := chanTransport{ch: make(chan Message, 4096)}
	nodes := map[PeerID]*Node{}
	var ids []PeerID
	for i := 0; i < 3; i++ {
		cfg := DefaultConfig()
		cfg.Signer, cfg.Verifier, cfg.Store = newTestSigner(byte(i+10)), testVerifier{}, NewMemStore()
		cfg.Rand = rand.New(rand.NewPCG(uint64(i), 3))
		n, err := NewNode(cfg, tr)
		if err != nil {
			t.Fatal(err)
		}
		nodes[n.ID()] = n
		ids = append(ids, n.ID())
	}
	sub := nodes[ids[2]].Subscribe(1024)
	for _, n := range nodes {
		for _, p := range ids {
			if err := n.PeerUp(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range tr.ch {
			_ = nodes[m.To].Step(m)
		}
	}()
	var wg sync.WaitGroup
	for w, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := nodes[id].Put("k", []byte{byte(w), byte(i)}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	// Digest sync repairs anything the in-flight interleaving left out;
	// poll with a deadline.
	deadline := time.Now().Add(10 * time.Second)
	now := t0
	for {
		now = now.Add(time.Second)
		for _, id := range ids {
			if err := nodes[id].Tick(now); err != nil {
				t.Fatal(err)
			}
		}
		if nodes[ids[0]].Stats().Events == 60 && nodes[ids[1]].Stats().Events == 60 && nodes[ids[2]].Stats().Events == 60 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nodes did not converge")
		}
		runtime.Gosched()
	}
	received := 0
	for len(sub) > 0 {
		if c := <-sub; c.Kind == ChangeReceived {
			received++
		}
	}
	if received != 40 {
		t.Fatalf("subscriber saw %d received events, want 40", received)
	}
	for _, n := range nodes {
		n.Close()
	}
	if _, err := nodes[ids[0]].Put("k", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("put after close: %v", err)
	}
	close(tr.ch)
	<-done
}
