package security

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// RateConfig limits how many messages one peer may send per second.
type RateConfig struct {
	// MessagesPerSecond is the sustained rate allowed per peer; 0 disables
	// the limit.
	MessagesPerSecond float64 `yaml:"peer_rate_limit"`
	// Burst is how many messages a peer may send at once above the rate.
	Burst int `yaml:"peer_rate_burst"`
}

// DefaultRateConfig allows 2,000 messages per second per peer with bursts
// of 4,000: far above what gossip among honest peers produces, low enough
// that one peer cannot fill the engine's inbox on its own.
func DefaultRateConfig() RateConfig { return RateConfig{MessagesPerSecond: 2000, Burst: 4000} }

// RateLimiter keeps a token bucket per peer (for the most recently active
// peers; the least recently seen are forgotten first). Safe for concurrent
// use.
type RateLimiter struct {
	cfg RateConfig
	now func() time.Time

	mu    sync.Mutex
	peers *simplelru.LRU[peer.ID, *rate.Limiter]
}

// NewRateLimiter returns a limiter tracking up to maxPeers peers. now
// supplies the time (time.Now when nil).
func NewRateLimiter(cfg RateConfig, maxPeers int, now func() time.Time) *RateLimiter {
	if now == nil {
		now = time.Now
	}
	lru, err := simplelru.NewLRU[peer.ID, *rate.Limiter](max(maxPeers, 1), nil)
	if err != nil {
		panic(err) // only for a non-positive size, excluded above
	}
	return &RateLimiter{cfg: cfg, now: now, peers: lru}
}

// Allow reports whether p may send one more message now.
func (r *RateLimiter) Allow(p peer.ID) bool {
	if r.cfg.MessagesPerSecond <= 0 {
		return true
	}
	r.mu.Lock()
	l, ok := r.peers.Get(p)
	if !ok {
		l = rate.NewLimiter(rate.Limit(r.cfg.MessagesPerSecond), max(r.cfg.Burst, 1))
		r.peers.Add(p, l)
	}
	r.mu.Unlock()
	return l.AllowN(r.now(), 1)
}
