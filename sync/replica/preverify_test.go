package replica

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// countingVerifier is testVerifier that counts its checks.
type countingVerifier struct {
	calls atomic.Int64
}

func (v *countingVerifier) Verify(origin PeerID, msg, sig []byte) error {
	v.calls.Add(1)
	return testVerifier{}.Verify(origin, msg, sig)
}

// newPreVerifyNode is a Node over a MemStore whose Verifier counts checks.
func newPreVerifyNode(t *testing.T) (*Node, *countingVerifier) {
	t.Helper()
	v := &countingVerifier{}
	cfg := DefaultConfig()
	cfg.Signer, cfg.Verifier, cfg.Store = newTestSigner(7), v, NewMemStore()
	cfg.Rand = rand.New(rand.NewPCG(7, 7))
	n, err := NewNode(cfg, chanTransport{ch: make(chan Message, 64)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n, v
}

// TestStepAllVerifiesEachEventOnce: events received through StepAll are
// checked before the engine lock, in parallel, and the engine's own check
// is answered from that verdict: one signature check per event in all.
func TestStepAllVerifiesEachEventOnce(t *testing.T) {
	n, v := newPreVerifyNode(t)
	origin := newTestSigner(1)
	const count = 16
	var msgs []Message
	for i := 1; i <= count; i += 4 {
		var evs []*Event
		for s := i; s < i+4; s++ {
			evs = append(evs, signedEvent(origin, uint64(s), OpPut, fmt.Sprintf("k%02d", s), "v", nil))
		}
		msgs = append(msgs, Message{From: "relay", Body: &Push{Nonce: uint64(i), Events: evs}})
	}
	for i, err := range n.StepAll(msgs) {
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	for s := 1; s <= count; s++ {
		if _, err := n.Get(fmt.Sprintf("k%02d", s)); err != nil {
			t.Fatalf("event %d not applied: %v", s, err)
		}
	}
	if got := v.calls.Load(); got != count {
		t.Errorf("%d signature checks for %d events, want one each", got, count)
	}
	if got := n.PreVerified(); got != count {
		t.Errorf("%d engine checks answered from pre-verification, want %d", got, count)
	}

	// A repeat of the same events is dropped as duplicates: no check at all.
	for _, err := range n.StepAll(msgs) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := v.calls.Load(); got != count {
		t.Errorf("duplicates were checked: %d checks, want still %d", got, count)
	}
}

// TestStepAllRefusesForgedEvents: pre-verification must not let a forged
// event through, whether its signature is plainly wrong, taken from
// another event, or valid for the original bytes of a tampered event whose
// original arrives in the same group.
func TestStepAllRefusesForgedEvents(t *testing.T) {
	n, _ := newPreVerifyNode(t)
	origin, other := newTestSigner(1), newTestSigner(2)

	good1 := signedEvent(origin, 1, OpPut, "a", "one", nil)
	good2 := signedEvent(origin, 2, OpPut, "b", "two", nil)
	// Tampered: good2's signature over another value.
	tampered := *good2
	tampered.Value = []byte("forged")
	// Signed by another key, claiming origin's name.
	imposter := signedEvent(other, 3, OpPut, "c", "three", nil)
	imposter.Origin = origin.ID()
	// A valid signature lifted from good1 onto a different event.
	lifted := signedEvent(origin, 3, OpPut, "d", "four", nil)
	lifted.Signature = good1.Signature

	errs := n.StepAll([]Message{
		{From: "relay", Body: &Push{Nonce: 1, Events: []*Event{good1, &tampered}}},
		{From: "relay", Body: &Push{Nonce: 2, Events: []*Event{good2, imposter}}},
		{From: "relay", Body: &Push{Nonce: 3, Events: []*Event{lifted}}},
	})
	for i, err := range errs {
		if !errors.Is(err, ErrBadSignature) {
			t.Errorf("message %d: got %v, want ErrBadSignature", i, err)
		}
	}
	for key, want := range map[string]string{"a": "one", "b": "two"} {
		got, err := n.Get(key)
		if err != nil || string(got) != want {
			t.Errorf("Get(%q) = %q, %v; want %q", key, got, err, want)
		}
	}
	for _, key := range []string{"c", "d"} {
		if got, err := n.Get(key); !errors.Is(err, ErrNotFound) {
			t.Errorf("forged write %q applied: %q, %v", key, got, err)
		}
	}
}

// TestPreVerifierAnswersOnlyForCheckedEvent: a verdict is for the very
// event that was checked; a tampered copy carrying its signature is checked
// in full (and refused).
func TestPreVerifierAnswersOnlyForCheckedEvent(t *testing.T) {
	v := &countingVerifier{}
	p, wrapped := newPreVerifier(v)
	origin := newTestSigner(1)
	ev := signedEvent(origin, 1, OpPut, "a", "one", nil)
	p.check(ev)

	tampered := *ev
	tampered.Value = []byte("two")
	if err := tampered.Verify(wrapped); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a tampered copy: got %v, want ErrBadSignature", err)
	}
	if err := ev.Verify(wrapped); err != nil {
		t.Fatal(err)
	}
	if p.hits.Load() != 1 || v.calls.Load() != 2 {
		t.Fatalf("%d answers from verdicts and %d checks, want 1 and 2 (the verdict and the copy)", p.hits.Load(), v.calls.Load())
	}
	p.forget([]*Event{ev})
	if err := ev.Verify(wrapped); err != nil || v.calls.Load() != 3 {
		t.Fatalf("after forget: %v, %d checks; want a fresh check", err, v.calls.Load())
	}
}

// TestStepAllForgetsVerdicts: verdicts live only as long as their group,
// also for events the engine never checks (a message refused whole).
func TestStepAllForgetsVerdicts(t *testing.T) {
	n, _ := newPreVerifyNode(t)
	origin := newTestSigner(1)
	ev := signedEvent(origin, 1, OpPut, "a", "one", nil)
	// From the node itself: refused before any event is looked at.
	errs := n.StepAll([]Message{
		{From: n.ID(), Body: &Push{Nonce: 1, Events: []*Event{ev}}},
		{From: "relay", Body: &Push{Nonce: 2, Events: []*Event{signedEvent(origin, 2, OpPut, "b", "two", nil)}}},
	})
	if !errors.Is(errs[0], ErrInvalidMessage) {
		t.Fatalf("message from self: got %v, want ErrInvalidMessage", errs[0])
	}
	n.pre.mu.Lock()
	held := len(n.pre.done)
	n.pre.mu.Unlock()
	if held != 0 {
		t.Fatalf("%d verdicts held after the group, want 0", held)
	}
}

// authVerifier is testVerifier with an Authorizer refusing key "no".
type authVerifier struct{ testVerifier }

func (authVerifier) Authorize(e *Event) error {
	if e.Key == "no" {
		return errors.New("key no is refused")
	}
	return nil
}

// TestPreVerifierKeepsAuthorizer: wrapping a Verifier that is also an
// Authorizer keeps the authorization check (closed networks).
func TestPreVerifierKeepsAuthorizer(t *testing.T) {
	_, wrapped := newPreVerifier(authVerifier{})
	if _, ok := wrapped.(Authorizer); !ok {
		t.Fatal("wrapped verifier lost the Authorizer")
	}
	ev := signedEvent(newTestSigner(1), 1, OpPut, "no", "x", nil)
	if err := ev.Verify(wrapped); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("got %v, want ErrUnauthorized", err)
	}
	if _, plain := newPreVerifier(testVerifier{}); func() bool { _, ok := plain.(Authorizer); return ok }() {
		t.Fatal("a plain verifier became an Authorizer")
	}
}
