package security

import (
	"context"
	"testing"
	"time"
)

func TestRateLimiterCountsCostNotMessages(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	cfg := RateConfig{BytesPerSecond: 1000, Burst: 1000, EventCost: 100, MaxWait: 2 * time.Second}
	r := NewRateLimiter(cfg, 2, 500, clk.now)
	// 100 tiny messages (an ack each) fit where 100 messages of a thousand
	// bytes would not: the budget is bytes, not messages.
	for i := 0; i < 100; i++ {
		if d, ok := r.Delay("acks", 10); !ok || d != 0 {
			t.Fatalf("tiny message %d: delay %s, ok %v; want no wait", i, d, ok)
		}
	}
	if got := cfg.Cost(200, 3); got != 500 {
		t.Fatalf("cost of 200 bytes with 3 events: %d, want 500", got)
	}
	// A burst over the budget waits (the sender is slowed) instead of being
	// refused, until the wait would pass MaxWait.
	if d, ok := r.Delay("bulk", 1000); !ok || d != 0 {
		t.Fatalf("first 1000: delay %s ok %v", d, ok)
	}
	if d, ok := r.Delay("bulk", 500); !ok || d != 500*time.Millisecond {
		t.Fatalf("500 over the bucket: delay %s ok %v, want 500ms", d, ok)
	}
	if d, ok := r.Delay("bulk", 1000); !ok || d != 1500*time.Millisecond {
		t.Fatalf("next 1000: delay %s ok %v, want 1.5s", d, ok)
	}
	if _, ok := r.Delay("bulk", 1000); ok {
		t.Fatal("a wait of 2.5s was granted with MaxWait 2s")
	}
	// The refused reservation was not charged: after 1.5s the bucket is at
	// zero again and 1s of budget waits 1s.
	clk.advance(1500 * time.Millisecond)
	if d, ok := r.Delay("bulk", 1000); !ok || d != time.Second {
		t.Fatalf("after 1.5s: delay %s ok %v, want 1s", d, ok)
	}
	if !r.Allow("other", 1000) {
		t.Fatal("one peer's burst used up another peer's budget")
	}
	if d, ok := NewRateLimiter(RateConfig{}, 1, 1, nil).Delay("x", 1<<30); !ok || d != 0 {
		t.Fatal("a zero rate should disable the limit")
	}
}

func TestRateLimiterWaitEndsWithContext(t *testing.T) {
	r := NewRateLimiter(RateConfig{BytesPerSecond: 1, Burst: 1, MaxWait: time.Hour}, 1, 1, nil)
	if err := r.Wait(context.Background(), "p", 1); err != nil {
		t.Fatalf("first byte: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Wait(ctx, "p", 1000); err == nil {
		t.Fatal("Wait returned nil after its context ended")
	}
}

func TestRateConfigValidate(t *testing.T) {
	if err := DefaultRateConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []RateConfig{{BytesPerSecond: -1}, {BytesPerSecond: 1}, {EventCost: -1}, {MaxWait: -1}} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
