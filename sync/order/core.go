package order

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// ErrNotLeader is returned by operations only the leader performs.
var ErrNotLeader = errors.New("order: not the leader")

// Ready is what the caller must act on, in this order: make HardState,
// Entries and Snapshot (and a LocalSnapshot, with its compaction) durable;
// then send Messages; then deliver Ordered; then call Advance.
type Ready struct {
	// HardState, when not empty (raft.IsEmptyHardState), replaces the
	// persisted hard state.
	HardState raftpb.HardState
	// Entries are appended to the persisted log, replacing any persisted
	// entries at the same or later indexes.
	Entries []raftpb.Entry
	// Snapshot, when not empty (raft.IsEmptySnap), was received from the
	// leader: it replaces the persisted snapshot, and persisted entries up
	// to its index are dropped.
	Snapshot raftpb.Snapshot
	// LocalSnapshot, when not empty, is a snapshot this node took of its
	// own state: persist it, then drop persisted entries up to CompactTo.
	LocalSnapshot raftpb.Snapshot
	CompactTo     uint64
	// Messages go to other nodes, by Raft ID (Message.To), after the above
	// is durable. A MsgSnap's outcome must be reported with ReportSnapshot.
	Messages []raftpb.Message
	// Ordered are the positions newly added to the global order, in index
	// order, after those restored from a snapshot.
	Ordered []Ordered
	// Restored reports that a snapshot from the leader replaced the state:
	// positions up to its length may be new to the caller, who reads the
	// ones it lacks with State().Range before handling Ordered.
	Restored bool
}

// Status is a node's view of the ordering group.
type Status struct {
	ID       uint64
	Leader   uint64
	Term     uint64
	Role     string
	Commit   uint64
	Applied  uint64
	Ordered  uint64
	Voters   []uint64
	Learners []uint64
	Pending  int
}

// Core is the deterministic ordering state machine: etcd's raft RawNode,
// the order State it replicates, and the leader's proposal logic. It does
// no I/O and reads no clock; it is not safe for concurrent use.
type Core struct {
	cfg     Config
	id      uint64
	rn      *raft.RawNode
	storage *raft.MemoryStorage
	state   *State
	conf    raftpb.ConfState
	applied uint64
	snapAt  uint64

	// pending holds offered references not yet ordered, per origin by seq.
	pending  map[replica.PeerID]map[uint64]Ref
	npending int
	// proposed is, per origin, the highest seq the leader proposed in its
	// current term; reset when the term changes or proposals stall.
	proposed     replica.VersionVector
	leaderTerm   uint64
	proposedUpTo uint64 // the last log index this leader appended

	sinceLeader     int
	electionTimeout int

	ordered   []Ordered
	confSnap  bool // a conf change was applied: snapshot now
	localSnap raftpb.Snapshot
	compactTo uint64
}

// hugeElection is the election tick given to Raft itself, so that Raft
// never starts an election on its own: Raft draws its randomized timeouts
// from crypto/rand, which would make runs irreproducible. Core runs the
// election timer with Config.Rand instead and calls Campaign.
const hugeElection = math.MaxInt32 / 2

// New returns a Core restarted from cfg.Initial, or, when that is empty
// and cfg.ID is among cfg.Voters, bootstrapping the voter group.
func New(cfg Config) (*Core, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Core{cfg: cfg, id: RaftID(cfg.ID), storage: raft.NewMemoryStorage(), state: NewState(),
		pending: map[replica.PeerID]map[uint64]Ref{}, proposed: replica.VersionVector{}}
	init := cfg.Initial
	if raft.IsEmptySnap(init.Snapshot) && raft.IsEmptyHardState(init.HardState) && len(init.Entries) == 0 && slices.Contains(cfg.Voters, cfg.ID) {
		boot := NewState()
		cs := raftpb.ConfState{}
		for _, v := range cfg.Voters {
			boot.setMember(RaftID(v), v)
			cs.Voters = append(cs.Voters, RaftID(v))
		}
		init.Snapshot = raftpb.Snapshot{Data: boot.Encode(), Metadata: raftpb.SnapshotMetadata{Index: 1, Term: 1, ConfState: cs}}
		c.localSnap = init.Snapshot // the bootstrap snapshot must be persisted too
	}
	if !raft.IsEmptySnap(init.Snapshot) {
		if err := c.storage.ApplySnapshot(init.Snapshot); err != nil {
			return nil, fmt.Errorf("order: restore snapshot at %d: %w", init.Snapshot.Metadata.Index, err)
		}
		st, err := DecodeState(init.Snapshot.Data)
		if err != nil {
			return nil, fmt.Errorf("order: restore snapshot at %d: %w", init.Snapshot.Metadata.Index, err)
		}
		c.state, c.conf = st, init.Snapshot.Metadata.ConfState
		c.applied, c.snapAt = init.Snapshot.Metadata.Index, init.Snapshot.Metadata.Index
	}
	if !raft.IsEmptyHardState(init.HardState) {
		if err := c.storage.SetHardState(init.HardState); err != nil {
			return nil, fmt.Errorf("order: restore hard state: %w", err)
		}
	}
	if err := c.storage.Append(init.Entries); err != nil {
		return nil, fmt.Errorf("order: restore %d entries: %w", len(init.Entries), err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = discardLogger{}
	}
	rn, err := raft.NewRawNode(&raft.Config{
		ID:              c.id,
		ElectionTick:    hugeElection,
		HeartbeatTick:   cfg.HeartbeatTicks,
		Storage:         c.storage,
		Applied:         c.applied,
		MaxSizePerMsg:   cfg.MaxSizePerMsg,
		MaxInflightMsgs: cfg.MaxInflightMsgs,
		PreVote:         true,
		// A leader removed from the group must step down, or it keeps
		// sending heartbeats (so nobody campaigns) while dropping every
		// proposal: the group would stall.
		StepDownOnRemoval: true,
		Logger:            logger,
	})
	if err != nil {
		return nil, fmt.Errorf("order: start raft: %w", err)
	}
	c.rn = rn
	c.electionTimeout = c.drawTimeout()
	return c, nil
}

func (c *Core) drawTimeout() int {
	return c.cfg.ElectionTicks + c.cfg.Rand.IntN(c.cfg.ElectionTicks)
}

// RaftID is this node's Raft ID.
func (c *Core) RaftID() uint64 { return c.id }

// State is the replicated order; callers must not modify it and must not
// use it concurrently with the Core.
func (c *Core) State() *State { return c.state }

// IsLeader reports whether this node leads the group now.
func (c *Core) IsLeader() bool { return c.rn.BasicStatus().RaftState == raft.StateLeader }

// Status returns this node's view of the group.
func (c *Core) Status() Status {
	st := c.rn.BasicStatus()
	return Status{ID: c.id, Leader: st.Lead, Term: st.Term, Role: st.RaftState.String(), Commit: st.Commit,
		Applied: c.applied, Ordered: c.state.Len(), Voters: slices.Clone(c.conf.Voters),
		Learners: slices.Clone(c.conf.Learners), Pending: c.npending}
}

// Tick advances the logical clock by one tick.
func (c *Core) Tick() {
	c.rn.Tick()
	if c.IsLeader() {
		c.sinceLeader = 0
		c.propose()
		return
	}
	if !slices.Contains(c.conf.Voters, c.id) {
		return
	}
	c.sinceLeader++
	if c.sinceLeader >= c.electionTimeout {
		c.sinceLeader = 0
		c.electionTimeout = c.drawTimeout()
		_ = c.rn.Campaign() // refused only when not promotable
	}
}

// Step hands a message received from another node to Raft. The caller
// must have checked that m.From is the authenticated sender.
func (c *Core) Step(m raftpb.Message) error {
	if raft.IsLocalMsg(m.Type) {
		return fmt.Errorf("order: %s from %x is a local message type", m.Type, m.From)
	}
	switch m.Type {
	case raftpb.MsgApp, raftpb.MsgHeartbeat, raftpb.MsgSnap:
		if m.Term >= c.rn.BasicStatus().Term {
			c.sinceLeader = 0
		}
	}
	if err := c.rn.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) {
		return fmt.Errorf("order: step %s from %x: %w", m.Type, m.From, err)
	}
	return nil
}

// ReportUnreachable tells Raft that a message to id could not be sent.
func (c *Core) ReportUnreachable(id uint64) { c.rn.ReportUnreachable(id) }

// ReportSnapshot tells Raft whether a snapshot sent to id arrived.
func (c *Core) ReportSnapshot(id uint64, ok bool) {
	st := raft.SnapshotFinish
	if !ok {
		st = raft.SnapshotFailure
	}
	c.rn.ReportSnapshot(id, st)
}

// Known returns, per origin, the highest seq that is ordered or offered
// without a gap: the caller offers events past it.
func (c *Core) Known() replica.VersionVector {
	v := c.state.Vector()
	for o, m := range c.pending {
		for m[v[o]+1].Seq != 0 {
			v[o]++
		}
	}
	return v
}

// Offer hands the leader references of events it holds. References
// already ordered are ignored; others wait until their origin's previous
// events and their dependencies are ordered or proposed. Offers beyond
// MaxPending are dropped (offer them again later).
func (c *Core) Offer(refs ...Ref) {
	vec := c.state.vector
	for _, r := range refs {
		if r.Seq <= vec[r.Origin] || c.npending >= c.cfg.MaxPending {
			continue
		}
		m := c.pending[r.Origin]
		if m == nil {
			m = map[uint64]Ref{}
			c.pending[r.Origin] = m
		}
		if _, ok := m[r.Seq]; !ok {
			c.npending++
		}
		m[r.Seq] = r
	}
	if c.IsLeader() {
		c.propose()
	}
}

// propose proposes, as leader, every pending reference that is orderable
// once what this term already proposed is ordered: origins in sorted order,
// each origin's events in seq order, repeated while any becomes orderable.
func (c *Core) propose() {
	st := c.rn.BasicStatus()
	if st.RaftState != raft.StateLeader || c.npending == 0 {
		return
	}
	if st.Term != c.leaderTerm {
		c.leaderTerm = st.Term
		c.proposed = replica.VersionVector{}
	}
	view := c.state.Vector()
	for o, s := range c.proposed {
		view[o] = max(view[o], s)
	}
	origins := make([]replica.PeerID, 0, len(c.pending))
	for o := range c.pending {
		origins = append(origins, o)
	}
	slices.Sort(origins)
	var batch []Ref
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := c.rn.Propose(EncodeEntry(batch)); err == nil {
			for _, r := range batch {
				c.proposed[r.Origin] = max(c.proposed[r.Origin], r.Seq)
			}
		}
		batch = batch[:0]
	}
	for progress := true; progress; {
		progress = false
		for _, o := range origins {
			m := c.pending[o]
			for {
				r, ok := m[view[o]+1]
				if !ok || !depsIn(r, view) {
					break
				}
				batch = append(batch, r)
				view[o] = r.Seq
				progress = true
				if len(batch) == c.cfg.MaxBatch {
					flush()
				}
			}
		}
	}
	flush()
}

func depsIn(r Ref, v replica.VersionVector) bool {
	for _, d := range r.Deps {
		if d.Origin != r.Origin && v[d.Origin] < d.Seq {
			return false
		}
	}
	return true
}

// Join asks, on the leader, to add peer as a learner (it receives the
// order but does not vote). It is a no-op for a current member.
func (c *Core) Join(peer replica.PeerID) error {
	if !c.IsLeader() {
		return ErrNotLeader
	}
	id := RaftID(peer)
	if slices.Contains(c.conf.Voters, id) || slices.Contains(c.conf.Learners, id) {
		return nil
	}
	return c.changeConf(raftpb.ConfChangeAddLearnerNode, peer)
}

// AddVoter proposes making peer a voter (a learner is promoted). Any node
// may propose; a follower forwards the proposal to the leader.
func (c *Core) AddVoter(peer replica.PeerID) error {
	return c.changeConf(raftpb.ConfChangeAddNode, peer)
}

// RemoveVoter proposes removing peer from the group. A leader that removes
// itself steps down once the change is applied, and the others elect a
// new leader.
func (c *Core) RemoveVoter(peer replica.PeerID) error {
	return c.changeConf(raftpb.ConfChangeRemoveNode, peer)
}

func (c *Core) changeConf(t raftpb.ConfChangeType, peer replica.PeerID) error {
	if c.rn.BasicStatus().Lead == raft.None {
		return fmt.Errorf("%w: no leader known to take the change", ErrNotLeader)
	}
	cc := raftpb.ConfChange{Type: t, NodeID: RaftID(peer), Context: []byte(peer)}
	if err := c.rn.ProposeConfChange(cc); err != nil {
		return fmt.Errorf("order: propose %s of %s: %w", t, peer, err)
	}
	return nil
}

// HasReady reports whether Ready would return anything.
func (c *Core) HasReady() bool {
	return c.rn.HasReady() || len(c.ordered) > 0 || !raft.IsEmptySnap(c.localSnap)
}

// Ready returns what to act on; call Advance afterwards, once, before the
// next Ready.
func (c *Core) Ready() (Ready, error) {
	rd := Ready{LocalSnapshot: c.localSnap, CompactTo: c.compactTo}
	c.localSnap, c.compactTo = raftpb.Snapshot{}, 0
	if !c.rn.HasReady() {
		rd.Ordered, c.ordered = c.ordered, nil
		return rd, nil
	}
	r := c.rn.Ready()
	rd.HardState, rd.Entries, rd.Snapshot, rd.Messages = r.HardState, r.Entries, r.Snapshot, r.Messages
	if !raft.IsEmptySnap(r.Snapshot) {
		if err := c.storage.ApplySnapshot(r.Snapshot); err != nil {
			return rd, fmt.Errorf("order: apply snapshot at %d: %w", r.Snapshot.Metadata.Index, err)
		}
		st, err := DecodeState(r.Snapshot.Data)
		if err != nil {
			return rd, fmt.Errorf("order: snapshot at %d from the leader: %w", r.Snapshot.Metadata.Index, err)
		}
		c.state, c.conf = st, r.Snapshot.Metadata.ConfState
		c.applied, c.snapAt = r.Snapshot.Metadata.Index, r.Snapshot.Metadata.Index
		c.prunePending()
		c.ordered = nil
		rd.Restored = true
	}
	if !raft.IsEmptyHardState(r.HardState) {
		if err := c.storage.SetHardState(r.HardState); err != nil {
			return rd, fmt.Errorf("order: set hard state: %w", err)
		}
	}
	if err := c.storage.Append(r.Entries); err != nil {
		return rd, fmt.Errorf("order: append %d entries: %w", len(r.Entries), err)
	}
	if len(r.Entries) > 0 && c.IsLeader() {
		c.proposedUpTo = r.Entries[len(r.Entries)-1].Index
	}
	for _, e := range r.CommittedEntries {
		if err := c.applyEntry(e); err != nil {
			return rd, err
		}
	}
	if c.applied >= c.proposedUpTo {
		// Everything this leader proposed is applied: what is still
		// pending was lost (a dropped proposal, a log overwritten by an
		// earlier leader) and is proposed afresh.
		c.proposed = replica.VersionVector{}
	}
	// Snapshot every SnapshotEntries, and at once after a membership
	// change: Raft sends a node that lacks the log the last snapshot, and a
	// new member refuses one whose configuration does not include it.
	if c.applied > c.snapAt && (c.confSnap || c.applied-c.snapAt >= c.cfg.SnapshotEntries) {
		c.confSnap = false
		snap, err := c.storage.CreateSnapshot(c.applied, &c.conf, c.state.Encode())
		if err != nil {
			return rd, fmt.Errorf("order: snapshot at %d: %w", c.applied, err)
		}
		c.snapAt = c.applied
		rd.LocalSnapshot = snap
		if c.applied > c.cfg.KeepEntries {
			if first, _ := c.storage.FirstIndex(); c.applied-c.cfg.KeepEntries > first {
				rd.CompactTo = c.applied - c.cfg.KeepEntries
				if err := c.storage.Compact(rd.CompactTo); err != nil {
					return rd, fmt.Errorf("order: compact to %d: %w", rd.CompactTo, err)
				}
			}
		}
	}
	c.rn.Advance(r)
	rd.Ordered, c.ordered = c.ordered, nil
	return rd, nil
}

// Advance is kept for symmetry with the engine: Ready already advanced
// Raft (the in-memory log is this Core's own), so it only proposes what
// became orderable.
func (c *Core) Advance() { c.propose() }

func (c *Core) applyEntry(e raftpb.Entry) error {
	if e.Index <= c.applied {
		return nil
	}
	c.applied = e.Index
	switch e.Type {
	case raftpb.EntryNormal:
		if len(e.Data) == 0 {
			return nil // a new leader's empty entry
		}
		refs, err := DecodeEntry(e.Data)
		if err != nil {
			// A committed entry every node decodes the same way: skip it
			// everywhere rather than stop the group.
			return nil
		}
		out, premature := c.state.apply(refs)
		if premature {
			// A reference came before its predecessors: those were lost
			// on the way, so propose from the ordered vector again.
			// Duplicates this causes are skipped on apply.
			c.proposed = replica.VersionVector{}
		}
		c.ordered = append(c.ordered, out...)
		for _, o := range out {
			if m := c.pending[o.Origin]; m != nil {
				if _, ok := m[o.Seq]; ok {
					delete(m, o.Seq)
					c.npending--
				}
			}
		}
	case raftpb.EntryConfChange:
		var cc raftpb.ConfChange
		if err := cc.Unmarshal(e.Data); err != nil {
			return fmt.Errorf("order: conf change at %d: %w", e.Index, err)
		}
		switch cc.Type {
		case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode:
			if RaftID(replica.PeerID(cc.Context)) != cc.NodeID {
				cc = raftpb.ConfChange{} // a change whose peer ID does not match its node: apply nothing
			} else {
				c.state.setMember(cc.NodeID, replica.PeerID(cc.Context))
			}
		case raftpb.ConfChangeRemoveNode:
			c.state.setMember(cc.NodeID, "")
		}
		c.conf = *c.rn.ApplyConfChange(cc)
		c.confSnap = true
	case raftpb.EntryConfChangeV2:
		var cc raftpb.ConfChangeV2
		if err := cc.Unmarshal(e.Data); err != nil {
			return fmt.Errorf("order: conf change at %d: %w", e.Index, err)
		}
		c.conf = *c.rn.ApplyConfChange(cc)
		c.confSnap = true
	}
	return nil
}

// prunePending drops pending references that are now ordered.
func (c *Core) prunePending() {
	for o, m := range c.pending {
		for s := range m {
			if s <= c.state.vector[o] {
				delete(m, s)
				c.npending--
			}
		}
		if len(m) == 0 {
			delete(c.pending, o)
		}
	}
}

// discardLogger drops Raft's log lines.
type discardLogger struct{}

func (discardLogger) Debug(...any)            {}
func (discardLogger) Debugf(string, ...any)   {}
func (discardLogger) Error(...any)            {}
func (discardLogger) Errorf(string, ...any)   {}
func (discardLogger) Info(...any)             {}
func (discardLogger) Infof(string, ...any)    {}
func (discardLogger) Warning(...any)          {}
func (discardLogger) Warningf(string, ...any) {}
func (discardLogger) Fatal(v ...any)          { panic(fmt.Sprint(v...)) }
func (discardLogger) Fatalf(f string, v ...any) {
	panic(fmt.Sprintf(f, v...))
}
func (discardLogger) Panic(v ...any)            { panic(fmt.Sprint(v...)) }
func (discardLogger) Panicf(f string, v ...any) { panic(fmt.Sprintf(f, v...)) }
