package order

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// Config configures a Core.
type Config struct {
	// ID is this node's peer ID; its Raft ID is RaftID(ID).
	ID replica.PeerID
	// Voters is the initial voter group. A node whose persisted state is
	// empty and which is listed here bootstraps the group with exactly these
	// voters (every voter must be given the same list). A node not listed
	// starts empty and waits for the leader to add it as a learner.
	Voters []replica.PeerID
	// ElectionTicks is how many ticks a voter waits without hearing from a
	// leader before it campaigns; each wait is drawn from [ElectionTicks,
	// 2*ElectionTicks) with Rand. Default 10: with the daemon's 100 ms tick
	// a failed leader is replaced in 1-2 s, well above a loaded machine's
	// scheduling hiccups, which would otherwise cause needless elections.
	ElectionTicks int
	// HeartbeatTicks is how often a leader sends heartbeats. Default 1: the
	// heartbeat also carries the commit index, so it bounds commit latency
	// for followers when no other message goes out.
	HeartbeatTicks int
	// MaxBatch is the most references one proposal carries. Default 1024:
	// about 100 KB per entry at typical ID sizes, which amortises a Raft
	// round trip and an fsync over many events without making one entry a
	// large message.
	MaxBatch int
	// MaxPending bounds the references offered but not yet ordered that a
	// leader keeps; more offers are dropped and offered again later from the
	// store. Default 100,000 (about 10 MB).
	MaxPending int
	// SnapshotEntries is how many applied entries pass between local
	// snapshots of the order, after which older log entries are dropped.
	// Default 1000 entries (up to a million events with full batches; a
	// snapshot encodes the whole order, ~40 bytes per event).
	SnapshotEntries uint64
	// KeepEntries is how many entries stay in the log behind a snapshot, so
	// a follower that is only a little behind catches up from the log rather
	// than by snapshot. Default 500.
	KeepEntries uint64
	// MaxSizePerMsg bounds the entry bytes of one append message. Default
	// 1 MiB.
	MaxSizePerMsg uint64
	// MaxInflightMsgs bounds append messages in flight to one follower.
	// Default 64.
	MaxInflightMsgs int
	// Rand draws the election timeouts; required. The simulator seeds it.
	Rand *rand.Rand
	// Initial is the persisted state to restart from (zero: a fresh node).
	Initial Persisted
	// Logger receives Raft's own log lines; nil discards them.
	Logger raft.Logger
}

// Persisted is what a node keeps on disk: the last hard state, the last
// snapshot, and the log entries after it.
type Persisted struct {
	HardState raftpb.HardState
	Snapshot  raftpb.Snapshot
	Entries   []raftpb.Entry
}

// DefaultConfig returns the defaults above for node id.
func DefaultConfig(id replica.PeerID) Config {
	return Config{
		ID:              id,
		ElectionTicks:   10,
		HeartbeatTicks:  1,
		MaxBatch:        1024,
		MaxPending:      100_000,
		SnapshotEntries: 1000,
		KeepEntries:     500,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 64,
	}
}

// ErrConfig reports an invalid Config.
var ErrConfig = errors.New("order: invalid config")

// Validate checks the config.
func (c Config) Validate() error {
	switch {
	case c.ID == "":
		return fmt.Errorf("%w: empty ID", ErrConfig)
	case c.Rand == nil:
		return fmt.Errorf("%w: Rand is nil", ErrConfig)
	case c.ElectionTicks < 2:
		return fmt.Errorf("%w: ElectionTicks %d, want at least 2", ErrConfig, c.ElectionTicks)
	case c.HeartbeatTicks < 1 || c.HeartbeatTicks >= c.ElectionTicks:
		return fmt.Errorf("%w: HeartbeatTicks %d, want 1 to ElectionTicks-1", ErrConfig, c.HeartbeatTicks)
	case c.MaxBatch < 1 || c.MaxBatch > MaxRefsPerEntry:
		return fmt.Errorf("%w: MaxBatch %d, want 1 to %d", ErrConfig, c.MaxBatch, MaxRefsPerEntry)
	case c.MaxPending < c.MaxBatch:
		return fmt.Errorf("%w: MaxPending %d below MaxBatch %d", ErrConfig, c.MaxPending, c.MaxBatch)
	case c.SnapshotEntries < 1:
		return fmt.Errorf("%w: SnapshotEntries is 0", ErrConfig)
	case c.MaxSizePerMsg < 1 || c.MaxInflightMsgs < 1:
		return fmt.Errorf("%w: MaxSizePerMsg and MaxInflightMsgs must be positive", ErrConfig)
	}
	seen := map[replica.PeerID]bool{}
	for _, v := range c.Voters {
		if v == "" || seen[v] {
			return fmt.Errorf("%w: voter %q empty or listed twice", ErrConfig, v)
		}
		seen[v] = true
	}
	return nil
}
