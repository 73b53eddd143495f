package security

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// RateConfig is the per-peer budget of received work. It counts what a
// message costs the node (its bytes, plus a fixed charge per event for the
// signature check and the store write), not messages: an honest node that
// merges many small messages into few large ones, or the reverse, spends
// the same budget. A peer over its budget is slowed down, never banned: its
// message waits (so its stream is not read, and the stream's flow-control
// window stops the sender) until the budget allows it.
type RateConfig struct {
	// BytesPerSecond is the sustained cost per second allowed per peer; 0
	// disables the limit.
	BytesPerSecond float64 `yaml:"peer_byte_rate"`
	// Burst is the cost a peer may spend at once above the rate. It is
	// raised to at least the cost of one largest message.
	Burst int `yaml:"peer_byte_burst"`
	// EventCost is the cost charged per event a message carries, on top of
	// its bytes.
	EventCost int `yaml:"peer_event_cost"`
	// MaxWait is the longest a message waits for its budget; one that would
	// wait longer is dropped (not counted as a fault: the protocols repair
	// the loss). 0 drops every message over the budget at once.
	MaxWait time.Duration `yaml:"peer_rate_max_wait"`
}

// DefaultRateConfig allows 64 MiB/s of work per peer with bursts of 16 MiB,
// an event costing 1 KiB besides its bytes, and waits of up to 5 s. An
// event's signature check and store write take about as long as reading 1
// KiB, so 64 MiB/s is some 50,000 small events per second from one peer:
// above what one node can apply, so an honest peer is slowed by the node's
// own pace (the full inbox) before its budget, while one peer still cannot
// take more than that share. 5 s is half the transport's write timeout, so
// a sender kept waiting does not time out its stream.
func DefaultRateConfig() RateConfig {
	return RateConfig{BytesPerSecond: 64 << 20, Burst: 16 << 20, EventCost: 1024, MaxWait: 5 * time.Second}
}

// Validate reports a configuration error naming the key.
func (c RateConfig) Validate() error {
	switch {
	case c.BytesPerSecond < 0:
		return fmt.Errorf("peer_byte_rate: invalid value %v: must not be negative (0 disables the limit)", c.BytesPerSecond)
	case c.BytesPerSecond > 0 && c.Burst < 1:
		return fmt.Errorf("peer_byte_burst: invalid value %d: must be at least 1", c.Burst)
	case c.EventCost < 0:
		return fmt.Errorf("peer_event_cost: invalid value %d: must not be negative", c.EventCost)
	case c.MaxWait < 0:
		return fmt.Errorf("peer_rate_max_wait: invalid value %s: must not be negative", c.MaxWait)
	}
	return nil
}

// Cost is what a message of size bytes carrying events costs under c.
func (c RateConfig) Cost(size, events int) int { return size + events*c.EventCost }

// RateLimiter keeps a cost bucket per peer (for the most recently active
// peers; the least recently seen are forgotten first). Safe for concurrent
// use.
type RateLimiter struct {
	cfg     RateConfig
	maxCost int
	now     func() time.Time

	mu    sync.Mutex
	peers *simplelru.LRU[peer.ID, *rate.Limiter]
}

// NewRateLimiter returns a limiter tracking up to maxPeers peers. maxCost
// is the largest cost one message can have (the bucket holds at least
// that). now supplies the time (time.Now when nil).
func NewRateLimiter(cfg RateConfig, maxPeers, maxCost int, now func() time.Time) *RateLimiter {
	if now == nil {
		now = time.Now
	}
	lru, err := simplelru.NewLRU[peer.ID, *rate.Limiter](max(maxPeers, 1), nil)
	if err != nil {
		panic(err) // only for a non-positive size, excluded above
	}
	return &RateLimiter{cfg: cfg, maxCost: maxCost, now: now, peers: lru}
}

// Config returns the limiter's configuration.
func (r *RateLimiter) Config() RateConfig { return r.cfg }

func (r *RateLimiter) bucket(p peer.ID) *rate.Limiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.peers.Get(p)
	if !ok {
		l = rate.NewLimiter(rate.Limit(r.cfg.BytesPerSecond), max(r.cfg.Burst, r.maxCost, 1))
		r.peers.Add(p, l)
	}
	return l
}

// Delay charges cost to p and returns how long the message must wait
// before it is within p's budget. It returns ok false (charging nothing)
// when that is more than MaxWait.
func (r *RateLimiter) Delay(p peer.ID, cost int) (time.Duration, bool) {
	if r.cfg.BytesPerSecond <= 0 {
		return 0, true
	}
	now := r.now()
	res := r.bucket(p).ReserveN(now, cost)
	if !res.OK() {
		return 0, false // over the burst; cannot happen with cost <= maxCost
	}
	d := res.DelayFrom(now)
	if d > r.cfg.MaxWait {
		res.CancelAt(now)
		return 0, false
	}
	return d, true
}

// Wait charges cost to p and blocks until the message is within p's
// budget. It returns an error without waiting when the wait would be
// longer than MaxWait, and when ctx ends first.
func (r *RateLimiter) Wait(ctx context.Context, p peer.ID, cost int) error {
	d, ok := r.Delay(p, cost)
	if !ok {
		return fmt.Errorf("peer %s over its budget of %.0f B/s for more than %s", p, r.cfg.BytesPerSecond, r.cfg.MaxWait)
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for peer %s budget: %w", p, ctx.Err())
	}
}

// Allow charges cost to p and reports whether it fits p's budget now
// (without waiting): for callers that cannot hold a message back.
func (r *RateLimiter) Allow(p peer.ID, cost int) bool {
	if r.cfg.BytesPerSecond <= 0 {
		return true
	}
	return r.bucket(p).AllowN(r.now(), cost)
}
