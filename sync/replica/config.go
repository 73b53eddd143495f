package replica

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/murmur-p2p/murmur/sync/merkle"
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

// MarshalText encodes the strategy as its name, for config files.
func (p PeerSelection) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText decodes a strategy name, for config files.
func (p *PeerSelection) UnmarshalText(b []byte) error {
	v, err := ParsePeerSelection(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
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
	Signer Signer `yaml:"-"`
	// Verifier checks received events.
	Verifier Verifier `yaml:"-"`
	// Store holds the durable state; the engine resumes from it.
	Store Store `yaml:"-"`
	// Rand is the engine's only source of randomness (peer choice, jitter).
	Rand *rand.Rand `yaml:"-"`

	// Fanout is the number of peers each new event is pushed to.
	Fanout int `yaml:"fanout"`
	// PullExtra (k) is added to Fanout for ID-only announcements (PullSync):
	// they cost 32 bytes per event, so reaching more peers is cheap.
	PullExtra int `yaml:"pull_extra"`
	// PushHops is how many hops an origin's first event (no push tree known
	// for that origin at the node) is pushed to peers the node picks, to
	// start the tree: at hop 1 the origin pushes to up to 4 x
	// (Fanout+PullExtra) peers, at later hops each receiver to Fanout
	// peers; past it, and on a formed tree, the tree and the ID
	// announcements carry events (gossip.go, tree.go). 0 starts trees by
	// pulls only.
	PushHops int `yaml:"push_hops"`
	// MaxHops is the stop rule of announcements: an event announced with
	// this many hops is not announced further.
	MaxHops int `yaml:"max_hops"`
	// MaxEventsPerMessage caps the events (and ID lists) in one message.
	MaxEventsPerMessage int `yaml:"max_events_per_message"`
	// MaxMessageSize caps a message's encoded size in bytes, sent or received.
	MaxMessageSize int `yaml:"max_message_size"`
	// DedupCacheSize is the number of recently seen event IDs kept in the
	// LRU in front of the store.
	DedupCacheSize int `yaml:"dedup_cache_size"`
	// MaxPendingEvents caps events buffered while an earlier event of the
	// same origin is missing.
	MaxPendingEvents int `yaml:"max_pending_events"`

	// SyncInterval is the period of digest sync with one chosen peer.
	SyncInterval time.Duration `yaml:"sync_interval"`
	// AckTimeout is the longest a pusher waits for acks before judging the
	// push; with round-trip samples from a peer the wait adapts to them
	// (srtt + 4 rttvar, never below three tick gaps).
	AckTimeout time.Duration `yaml:"ack_timeout"`
	// PullTimeout is the longest a pull may take before another announcer is
	// asked, and before the announce sweep; it adapts like AckTimeout.
	PullTimeout time.Duration `yaml:"pull_timeout"`
	// SuspectTimeout: a peer that leaves a request unanswered this long is
	// suspected (still used, after alive peers).
	SuspectTimeout time.Duration `yaml:"suspect_timeout"`
	// FailTimeout: a peer that leaves a request unanswered this long is
	// failed (only probed). Any message from it makes it alive again.
	FailTimeout time.Duration `yaml:"fail_timeout"`
	// ProbeFailed is the probability that a digest sync goes to a failed
	// peer, so that healed partitions are noticed.
	ProbeFailed float64 `yaml:"probe_failed"`
	// MaxClockSkew bounds how far ahead of local time a remote HLC reading
	// may be to be adopted by the local clock.
	MaxClockSkew time.Duration `yaml:"max_clock_skew"`
	// PeerSelection is the target selection strategy.
	PeerSelection PeerSelection `yaml:"peer_selection"`

	// AntiEntropyInterval is the period of Merkle anti-entropy with one
	// chosen peer, which repairs what digest sync cannot (state whose
	// events were garbage-collected, a node that joins empty, a store
	// restored from a backup). A round between equal states costs one
	// round trip of about 100 bytes.
	AntiEntropyInterval time.Duration `yaml:"anti_entropy_interval"`
	// MerkleTreeDepth is the number of levels of the store's Merkle tree
	// (2^depth leaves); the daemon passes it to the store, the engine
	// reads the depth from the store's tree.
	MerkleTreeDepth int `yaml:"merkle_tree_depth"`
	// FullSyncThreshold is the fraction of differing leaves at which an
	// anti-entropy session gives up on ranges and pulls a snapshot of the
	// peer's whole state instead.
	FullSyncThreshold float64 `yaml:"full_sync_threshold"`
	// GCInterval is the period of garbage collection: events no key needs
	// and tombstones every known peer has applied are deleted (gc.go).
	GCInterval time.Duration `yaml:"gc_interval"`

	// ExternalDissemination hands new events to an external router (for
	// example GossipSub) instead of pushing and announcing them: local
	// events come out in Ready.Broadcast, and events the router delivers go
	// in through Receive. Digest sync, gap requests and the announce/pull
	// repair of events that digest sync brings are unchanged. Off (push/ack
	// with pull-sync fallback) by default. The daemon sets it from its
	// dissemination key, so it has no key of its own.
	ExternalDissemination bool `yaml:"-"`

	// Bounds against dishonest members (issue 9; doc.go "Trust model").
	//
	// MaxOrigins caps the origins the node tracks (version vector entries):
	// events of a further new origin are dropped, so vectors and digests
	// always fit a message. MaxOriginsPerPeer caps the new origins one
	// sending peer may introduce, so a flood of throwaway origins uses up
	// the flooder's quota, not the node's.
	MaxOrigins        int `yaml:"max_origins"`
	MaxOriginsPerPeer int `yaml:"max_origins_per_peer"`
	// GCStallTimeout: a peer whose reported vector stays behind ours
	// without advancing this long no longer holds garbage collection back
	// (it catches up by state if it is honest and slow), so a peer that
	// reports an empty vector delays collection, never stops it.
	GCStallTimeout time.Duration `yaml:"gc_stall_timeout"`
	// PeerForgetTimeout: a peer failed this long is dropped from the peer
	// table (a message or PeerUp brings it back), so the table does not
	// grow with every sender.
	PeerForgetTimeout time.Duration `yaml:"peer_forget_timeout"`
	// TombstoneTTL is how long a key whose versions are all tombstones is
	// kept after the delete (HLC time) before garbage collection may drop
	// it. The tombstone is the only evidence of the delete: a node away
	// longer than this keeps the deleted values (it does not spread them:
	// peers' vectors cover them).
	TombstoneTTL time.Duration `yaml:"tombstone_ttl"`
	// ResumeIdentity says the signer's identity existed before (its key
	// file was found): with an empty store the node may have written
	// before, so it refuses local writes (ErrOwnSeqUnknown) until digest
	// sync has fetched its own events back from a peer, and never reuses
	// one of its (origin, seq). The daemon sets it; a new identity leaves
	// it off.
	ResumeIdentity bool `yaml:"-"`
}

// DefaultConfig returns the tuning defaults; callers set Signer, Verifier,
// Store and Rand.
func DefaultConfig() Config {
	return Config{
		Fanout:              3,           // the go-gossip seed's N; log growth with few duplicates
		PullExtra:           2,           // IDs are cheap: announce to fanout+2 for coverage
		PushHops:            1,           // the origin pushes a first event wide; further random hops mostly duplicate
		MaxHops:             32,          // far above log_3 of any realistic network size
		MaxEventsPerMessage: 100,         // the Dart seed's maxEventsPerMessage
		MaxMessageSize:      maxMsgSize,  // fits a largest value with any key (limits.go)
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
		// Digest sync every second repairs lost events; anti-entropy only
		// has to catch what it cannot, so every 15 s costs a negligible
		// ~10 B/s per node while bounding how long such a divergence lasts.
		AntiEntropyInterval: 15 * time.Second,
		MerkleTreeDepth:     16,  // 65,536 leaves (5 MiB): ~15 keys per leaf at a million keys
		FullSyncThreshold:   0.1, // the seed's full_sync_threshold
		GCInterval:          time.Minute,
		// Far above any realistic membership, and half the vector limit
		// (MaxContextEntries) so a vector always fits a message.
		MaxOrigins: MaxContextEntries / 2,
		// Half of MaxOrigins: the first peer of a new node introduces
		// every origin it knows, but one peer alone cannot fill the table.
		MaxOriginsPerPeer: MaxContextEntries / 4,
		// Ten GC rounds: an honest peer catches up in seconds; a liar
		// delays collection by this much at most.
		GCStallTimeout: 10 * time.Minute,
		// Long enough to ride out restarts and partitions of ordinary
		// length (a forgotten peer no longer holds GC back), short enough
		// that throwaway senders leave the table within the hour.
		PeerForgetTimeout: 30 * time.Minute,
		// A day: longer than ordinary outages, short enough that deleted
		// keys do not pile up (Cassandra's gc_grace is ten days).
		TombstoneTTL: 24 * time.Hour,
	}
}

// HighThroughputConfig favours latency: wider fanout, more first-event push hops,
// shorter intervals. Set Signer, Verifier, Store and Rand.
func HighThroughputConfig() Config {
	c := DefaultConfig()
	c.Fanout = 5
	c.PushHops = 2
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
	setDur(&c.AntiEntropyInterval, d.AntiEntropyInterval)
	setInt(&c.MerkleTreeDepth, d.MerkleTreeDepth)
	setDur(&c.GCInterval, d.GCInterval)
	setInt(&c.MaxOrigins, d.MaxOrigins)
	setInt(&c.MaxOriginsPerPeer, d.MaxOriginsPerPeer)
	setDur(&c.GCStallTimeout, d.GCStallTimeout)
	setDur(&c.PeerForgetTimeout, d.PeerForgetTimeout)
	setDur(&c.TombstoneTTL, d.TombstoneTTL)
	if c.FullSyncThreshold == 0 {
		c.FullSyncThreshold = d.FullSyncThreshold
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// ConfigError is a bad configuration value; it names the config key. It
// matches ErrInvalidConfig with errors.Is.
type ConfigError struct {
	Key    string
	Value  any
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s: invalid value %v: %s", e.Key, e.Value, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Validate checks the tuning fields (not Signer, Verifier, Store or Rand) as
// they would be used, zero values meaning defaults; errors name the config
// key and value and wrap ErrInvalidConfig.
func (c Config) Validate() error {
	bad := func(key string, val any, why string) error {
		return &ConfigError{Key: key, Value: val, Reason: why}
	}
	d := DefaultConfig()
	or := func(v, def int) int {
		if v == 0 {
			return def
		}
		return v
	}
	ord := func(v, def time.Duration) time.Duration {
		if v == 0 {
			return def
		}
		return v
	}
	switch {
	case c.Fanout < 0:
		return bad("fanout", c.Fanout, "must not be negative")
	case c.PullExtra < 0:
		return bad("pull_extra", c.PullExtra, "must not be negative")
	case c.PushHops < 0:
		return bad("push_hops", c.PushHops, "must not be negative")
	case or(c.MaxHops, d.MaxHops) < c.PushHops:
		return bad("max_hops", or(c.MaxHops, d.MaxHops), fmt.Sprintf("must be at least push_hops (%d)", c.PushHops))
	case c.MaxEventsPerMessage < 0:
		return bad("max_events_per_message", c.MaxEventsPerMessage, "must be positive")
	case c.MaxMessageSize != 0 && c.MaxMessageSize < 4096:
		return bad("max_message_size", c.MaxMessageSize, "must be at least 4096 bytes")
	case c.DedupCacheSize < 0:
		return bad("dedup_cache_size", c.DedupCacheSize, "must be positive")
	case c.MaxPendingEvents < 0:
		return bad("max_pending_events", c.MaxPendingEvents, "must be positive")
	case c.SyncInterval < 0:
		return bad("sync_interval", c.SyncInterval, "must be positive")
	case c.AckTimeout < 0:
		return bad("ack_timeout", c.AckTimeout, "must be positive")
	case c.PullTimeout < 0:
		return bad("pull_timeout", c.PullTimeout, "must be positive")
	case c.SuspectTimeout < 0:
		return bad("suspect_timeout", c.SuspectTimeout, "must be positive")
	case c.FailTimeout < 0:
		return bad("fail_timeout", c.FailTimeout, "must be positive")
	case ord(c.FailTimeout, d.FailTimeout) < ord(c.SuspectTimeout, d.SuspectTimeout):
		return bad("fail_timeout", ord(c.FailTimeout, d.FailTimeout), fmt.Sprintf("must be at least suspect_timeout (%v)", ord(c.SuspectTimeout, d.SuspectTimeout)))
	case c.MaxClockSkew < 0:
		return bad("max_clock_skew", c.MaxClockSkew, "must be positive")
	case c.ProbeFailed < 0 || c.ProbeFailed > 1:
		return bad("probe_failed", c.ProbeFailed, "must be between 0 and 1")
	case c.PeerSelection < SelectRandom || c.PeerSelection > SelectMostReliable:
		return bad("peer_selection", int(c.PeerSelection), "unknown strategy")
	case c.AntiEntropyInterval < 0:
		return bad("anti_entropy_interval", c.AntiEntropyInterval, "must be positive")
	case c.MerkleTreeDepth < 0 || c.MerkleTreeDepth > merkle.MaxDepth:
		return bad("merkle_tree_depth", c.MerkleTreeDepth, fmt.Sprintf("must be between 1 and %d", merkle.MaxDepth))
	case c.FullSyncThreshold < 0:
		return bad("full_sync_threshold", c.FullSyncThreshold, "must not be negative (1 or more disables full sync)")
	case c.GCInterval < 0:
		return bad("gc_interval", c.GCInterval, "must be positive")
	}
	return nil
}
