// Package order puts every event of a murmur network into one global
// order, agreed through Raft (etcd's go.etcd.io/raft/v3), consistent with
// causality.
//
// # What is replicated
//
// The Raft log carries references to events (Ref: the event ID, its
// (origin, seq) dot and the dots its causal context covers), never
// payloads, which keep travelling by gossip. The replicated state machine
// (State) gives each applied reference the next index of the global order
// when it is orderable: it is the next event of its origin (seq = ordered
// seq + 1) and every dependency is already ordered. Every node applies
// the same committed entries with the same rule, so every node holds the
// same order; a reference that arrives too early, twice, or after a lost
// proposal is skipped everywhere and proposed again.
//
// # Who proposes
//
// Only the leader proposes. The caller offers it the events its own store
// holds past Known() (Offer); the leader proposes, in batches of up to
// MaxBatch, those whose predecessors are ordered or already proposed in
// its term. So an event is ordered only once the leader holds it and its
// causal predecessors. Pending offers are re-proposed when a proposal is
// lost (everything proposed was applied but something is still pending,
// or a reference was skipped for coming early).
//
// # Driving a Core
//
// Core is deterministic and does no I/O, like the replication engine: the
// caller calls Tick at a fixed interval, Step with each received Raft
// message, Offer as the leader, and then, while HasReady:
//
//	rd, err := core.Ready()
//	// 1. persist rd.Snapshot, rd.HardState, rd.Entries, rd.LocalSnapshot
//	//    and rd.CompactTo (Persisted.Save is the reference)
//	// 2. send rd.Messages (report MsgSnap outcomes with ReportSnapshot)
//	// 3. if rd.Restored, read the positions it lacks from State().Range;
//	//    then deliver rd.Ordered
//	core.Advance()
//
// Elections are timed by Core itself with the seeded Config.Rand (Raft's
// own timer draws from crypto/rand and is disabled), so a simulated run is
// reproducible from its seed: see TestSimSameOrder.
//
// # Membership
//
// The voter group is bootstrapped from Config.Voters (every voter must be
// given the same list). Other nodes ask the leader to Join and are added
// as learners, catching up from the log or, once it is compacted, from a
// snapshot of the State. AddVoter and RemoveVoter change the group one
// member at a time; a leader that removes itself steps down.
package order
