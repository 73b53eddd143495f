package merkle

import "fmt"

// Config tunes a tree and its reconciliation sessions. Both sides of a
// session may use different values: nodes are defined by KeyHash prefixes,
// not by the tree's depth, so trees of different Depth still reconcile.
type Config struct {
	// Depth is merkle_tree_depth: the number of levels below the root that
	// the tree keeps in memory (2^Depth leaves, 2^(Depth+1) nodes of 40
	// bytes). Deeper nodes are computed from the Source on demand.
	// Default 16 (65,536 leaves, 5 MiB): leaves hold about 15 keys at a
	// million keys, so computing a deeper node reads a handful of entries.
	Depth int
	// FullSyncThreshold is full_sync_threshold: when at least this fraction
	// of the leaves differ, the session ends with FullSync and the caller
	// streams a snapshot. Default 0.1. 1 or more disables it.
	FullSyncThreshold float64
	// LevelsPerRound is how many levels one round trip descends once
	// differences are isolated (each differing node then has about one
	// differing child). Each extra level halves the remaining round trips
	// but doubles the hashes sent per differing key: 1 costs one hash per
	// level, 2 costs 1.5, 3 costs 2.3. Default 2. While many nodes differ the
	// descent jumps further on its own (see MaxLevelsPerRound).
	LevelsPerRound int
	// ListThreshold: a differing node under which the responder holds at
	// most this many entries is not descended into; the responder lists
	// those entries (17 bytes each) and the initiator matches them against
	// its own. It ends the long tail of descents that separate neighbouring
	// keys. Default 4; negative disables listing.
	ListThreshold int
	// MaxLevelsPerRound caps the levels one round trip descends. Default 8.
	MaxLevelsPerRound int
	// MaxNodesPerMessage caps the node hashes in one response (about 9 bytes
	// each) and so the memory a peer can make us spend. Default 65536.
	MaxNodesPerMessage int
	// ExpectedDifferences sizes the first batch of coded symbols an
	// initiator with a sketch sends (about 1.7 per difference), counted in
	// entries: a key only one side holds is one, a key both hold in
	// different versions two. The caller passes what the last session with
	// the peer found. 0 sends 3 symbols,
	// which decode one difference outright and two most of the time.
	ExpectedDifferences int
	// NoCoded keeps an initiator on the Merkle path even when its tree has
	// a sketch.
	NoCoded bool
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Depth:              16,
		FullSyncThreshold:  0.1, // the seed's full_sync_threshold
		LevelsPerRound:     2,
		ListThreshold:      4,
		MaxLevelsPerRound:  8,
		MaxNodesPerMessage: 1 << 16,
	}
}

// MaxDepth is the largest Config.Depth (2^21 nodes, 80 MiB).
const MaxDepth = 20

// withDefaults fills zero fields with their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Depth == 0 {
		c.Depth = d.Depth
	}
	if c.FullSyncThreshold == 0 {
		c.FullSyncThreshold = d.FullSyncThreshold
	}
	if c.LevelsPerRound == 0 {
		c.LevelsPerRound = d.LevelsPerRound
	}
	if c.ListThreshold == 0 {
		c.ListThreshold = d.ListThreshold
	}
	if c.MaxLevelsPerRound == 0 {
		c.MaxLevelsPerRound = d.MaxLevelsPerRound
	}
	if c.MaxNodesPerMessage == 0 {
		c.MaxNodesPerMessage = d.MaxNodesPerMessage
	}
	return c
}

// Validate reports the first out-of-range field, after applying defaults
// for zero fields.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Depth < 1 || c.Depth > MaxDepth:
		return fmt.Errorf("%w: merkle_tree_depth %d not in 1..%d", ErrInvalidConfig, c.Depth, MaxDepth)
	case c.FullSyncThreshold < 0:
		return fmt.Errorf("%w: full_sync_threshold %g is negative", ErrInvalidConfig, c.FullSyncThreshold)
	case c.MaxLevelsPerRound < 1 || c.MaxLevelsPerRound > maxJump:
		return fmt.Errorf("%w: max levels per round %d not in 1..%d", ErrInvalidConfig, c.MaxLevelsPerRound, maxJump)
	case c.LevelsPerRound < 1 || c.LevelsPerRound > c.MaxLevelsPerRound:
		return fmt.Errorf("%w: levels per round %d not in 1..%d", ErrInvalidConfig, c.LevelsPerRound, c.MaxLevelsPerRound)
	case c.MaxNodesPerMessage < 1<<maxJump:
		return fmt.Errorf("%w: max nodes per message %d below %d", ErrInvalidConfig, c.MaxNodesPerMessage, 1<<maxJump)
	}
	return nil
}

// maxJump is the most levels one round may descend (a response then carries
// up to 2^maxJump - 1 hashes per expanded node).
const maxJump = 12
