package sync

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// PeerSelection is the strategy that picks gossip targets among live peers.
type PeerSelection int

const (
	// SelectRandom picks uniformly at random (the default; best spread).
	SelectRandom PeerSelection = iota
	// SelectRoundRobin cycles through the peers in ID order.
	SelectRoundRobin
	// SelectLeastRecent picks the peers contacted longest ago.
	SelectLeastRecent
	// SelectMostReliable picks the peers that answered the largest share of
	// requests, breaking ties at random.
	SelectMostReliable
)

// String names the strategy as in configuration files.
func (p PeerSelection) String() string {
	switch p {
	case SelectRandom:
		return "random"
	case SelectRoundRobin:
		return "round-robin"
	case SelectLeastRecent:
		return "least-recently-contacted"
	case SelectMostReliable:
		return "most-reliable"
	}
	return fmt.Sprintf("selection(%d)", int(p))
}

// ParsePeerSelection parses a strategy name as printed by String.
func ParsePeerSelection(s string) (PeerSelection, error) {
	for p := SelectRandom; p <= SelectMostReliable; p++ {
		if p.String() == s {
			return p, nil
		}
	}
	return 0, fmt.Errorf("%w: peer_selection %q: want random, round-robin, least-recently-contacted or most-reliable", ErrInvalidConfig, s)
}

// Config configures an Engine. Signer, Verifier, Store and Rand are
// required. Start from DefaultConfig (or a preset): zero durations and zero
// integer limits are replaced by the defaults, but PullExtra, PushHops,
// ProbeFailed and PeerSelection keep their zero values, which are meaningful.
type Config struct {
	// Signer signs local events; its ID is the engine's ID.
	Signer Signer
	// Verifier checks received events.
	Verifier Verifier
	// Store holds the durable state; the engine resumes from it.
	Store Store
	// Rand is the engine's only source of randomness (peer choice, jitter).
	Rand *rand.Rand

	// Fanout is the number of peers each new event is pushed to.
	Fanout int
	// PullExtra (k) is added to Fanout for ID-only announcements (PullSync):
	// they cost 32 bytes per event, so reaching more peers is cheap.
	PullExtra int
	// PushHops is how many hops events travel by eager payload push before
	// the ID-only announce/pull tier takes over. Small values keep payload
	// copies near one per node; 0 disables eager push.
	PushHops int
	// MaxHops is the stop rule of announcements: an event announced with
	// this many hops is not announced further.
	MaxHops int
	// MaxEventsPerMessage caps the events (and ID lists) in one message.
	MaxEventsPerMessage int
	// MaxMessageSize caps a message's encoded size in bytes, sent or received.
	MaxMessageSize int
	// DedupCacheSize is the number of recently seen event IDs kept in the
	// LRU in front of the store.
	DedupCacheSize int
	// MaxPendingEvents caps events buffered while an earlier event of the
	// same origin is missing.
	MaxPendingEvents int

	// SyncInterval is the period of digest sync with one chosen peer.
	SyncInterval time.Duration
	// AckTimeout is how long a pusher waits for acks before judging the push.
	AckTimeout time.Duration
	// PullTimeout is how long a pull may take before asking another announcer.
	PullTimeout time.Duration
	// SuspectTimeout: a peer that leaves a request unanswered this long is
	// suspected (still used, after alive peers).
	SuspectTimeout time.Duration
	// FailTimeout: a peer that leaves a request unanswered this long is
	// failed (only probed). Any message from it makes it alive again.
	FailTimeout time.Duration
	// ProbeFailed is the probability that a digest sync goes to a failed
	// peer, so that healed partitions are noticed.
	ProbeFailed float64
	// MaxClockSkew bounds how far ahead of local time a remote HLC reading
	// may be to be adopted by the local clock.
	MaxClockSkew time.Duration
	// PeerSelection is the target selection strategy.
	PeerSelection PeerSelection
}

// DefaultConfig returns the tuning defaults; callers set Signer, Verifier,
// Store and Rand.
func DefaultConfig() Config {
	return Config{
		Fanout:              3,           // the go-gossip seed's N; log growth with few duplicates
		PullExtra:           2,           // IDs are cheap: announce to fanout+2 for coverage
		PushHops:            2,           // payload pushes stay in the phase where nearly every push is useful
		MaxHops:             32,          // far above log_3 of any realistic network size
		MaxEventsPerMessage: 100,         // the Dart seed's maxEventsPerMessage
		MaxMessageSize:      1 << 20,     // 1 MiB, the decube seed's max_message_size
		DedupCacheSize:      4096,        // several seconds of events at high rates
		MaxPendingEvents:    4096,        // out-of-order events waiting for a gap to fill
		SyncInterval:        time.Second, // the decube seed's sync_interval
		AckTimeout:          500 * time.Millisecond,
		PullTimeout:         500 * time.Millisecond,
		SuspectTimeout:      2 * time.Second,
		FailTimeout:         6 * time.Second,
		ProbeFailed:         0.1,
		MaxClockSkew:        time.Minute,
		PeerSelection:       SelectRandom,
	}
}

// HighThroughputConfig favours latency: wider fanout, more eager hops,
// shorter intervals. Set Signer, Verifier, Store and Rand.
func HighThroughputConfig() Config {
	c := DefaultConfig()
	c.Fanout = 5
	c.PushHops = 3
	c.SyncInterval = 500 * time.Millisecond
	c.MaxEventsPerMessage = 500
	return c
}

// LowResourceConfig favours bandwidth: narrow fanout, announce/pull only,
// long intervals, a small dedup cache. Set Signer, Verifier, Store and Rand.
func LowResourceConfig() Config {
	c := DefaultConfig()
	c.Fanout = 2
	c.PushHops = 1
	c.SyncInterval = 5 * time.Second
	c.DedupCacheSize = 512
	c.MaxPendingEvents = 512
	return c
}

// withDefaults fills zero tuning fields and validates the result.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	switch {
	case c.Signer == nil:
		return c, fmt.Errorf("%w: Signer is nil", ErrInvalidConfig)
	case c.Verifier == nil:
		return c, fmt.Errorf("%w: Verifier is nil", ErrInvalidConfig)
	case c.Store == nil:
		return c, fmt.Errorf("%w: Store is nil", ErrInvalidConfig)
	case c.Rand == nil:
		return c, fmt.Errorf("%w: Rand is nil", ErrInvalidConfig)
	case len(c.Signer.ID()) == 0:
		return c, fmt.Errorf("%w: Signer has an empty ID", ErrInvalidConfig)
	}
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setInt(&c.Fanout, d.Fanout)
	setInt(&c.MaxHops, d.MaxHops)
	setInt(&c.MaxEventsPerMessage, d.MaxEventsPerMessage)
	setInt(&c.MaxMessageSize, d.MaxMessageSize)
	setInt(&c.DedupCacheSize, d.DedupCacheSize)
	setInt(&c.MaxPendingEvents, d.MaxPendingEvents)
	setDur(&c.SyncInterval, d.SyncInterval)
	setDur(&c.AckTimeout, d.AckTimeout)
	setDur(&c.PullTimeout, d.PullTimeout)
	setDur(&c.SuspectTimeout, d.SuspectTimeout)
	setDur(&c.FailTimeout, d.FailTimeout)
	setDur(&c.MaxClockSkew, d.MaxClockSkew)
	switch {
	case c.Fanout < 0:
		return c, fmt.Errorf("%w: fanout %d is negative", ErrInvalidConfig, c.Fanout)
	case c.PullExtra < 0:
		return c, fmt.Errorf("%w: pull extra %d is negative", ErrInvalidConfig, c.PullExtra)
	case c.PushHops < 0:
		return c, fmt.Errorf("%w: push hops %d is negative", ErrInvalidConfig, c.PushHops)
	case c.MaxHops < c.PushHops:
		return c, fmt.Errorf("%w: max hops %d below push hops %d", ErrInvalidConfig, c.MaxHops, c.PushHops)
	case c.MaxEventsPerMessage < 1:
		return c, fmt.Errorf("%w: max_events_per_message %d must be positive", ErrInvalidConfig, c.MaxEventsPerMessage)
	case c.MaxMessageSize < 4096:
		return c, fmt.Errorf("%w: max_message_size %d is below 4096 bytes", ErrInvalidConfig, c.MaxMessageSize)
	case c.DedupCacheSize < 1 || c.MaxPendingEvents < 1:
		return c, fmt.Errorf("%w: cache sizes must be positive", ErrInvalidConfig)
	case c.SyncInterval < 0 || c.AckTimeout < 0 || c.PullTimeout < 0 || c.SuspectTimeout < 0 || c.FailTimeout < 0:
		return c, fmt.Errorf("%w: intervals and timeouts must be positive", ErrInvalidConfig)
	case c.FailTimeout < c.SuspectTimeout:
		return c, fmt.Errorf("%w: fail timeout %v below suspect timeout %v", ErrInvalidConfig, c.FailTimeout, c.SuspectTimeout)
	case c.ProbeFailed < 0 || c.ProbeFailed > 1:
		return c, fmt.Errorf("%w: probe_failed %v outside [0,1]", ErrInvalidConfig, c.ProbeFailed)
	case c.PeerSelection < SelectRandom || c.PeerSelection > SelectMostReliable:
		return c, fmt.Errorf("%w: unknown peer selection %d", ErrInvalidConfig, c.PeerSelection)
	}
	return c, nil
}
