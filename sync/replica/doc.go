// Package replica is murmur's replication engine: a deterministic state machine
// that replicates signed events, and the key/value state derived from them,
// between many nodes by gossip. It does no network or disk I/O and never
// reads the clock or a global random source: local writes, received
// messages, timer ticks and peer-set changes go in; store writes, messages
// and application notifications come out. The same engine runs behind libp2p
// streams (p2pnode), in the simulator (sync/simtest) and in unit tests. The
// design follows etcd's raft core: Engine is the state machine, Ready is what
// it asks the caller to do.
//
// # Data model
//
// An Event is one write: its Origin (the creating node's peer ID), a
// per-origin sequence number Seq (1, 2, 3, ... without gaps), a hybrid
// logical clock Timestamp, an Op (OpPut, OpDelete, or OpApp for an opaque
// application event), Key and Value, the causal Context it was written
// against, and the origin's Signature over a canonical binary encoding
// (Event.Body). Its EventID is the sha256 of that encoding. Events that are
// unsigned, badly signed (Verifier), malformed (Event.Validate), or that
// reuse a stored (origin, seq) with different content (ErrEquivocation) are
// rejected.
//
// A node's VersionVector holds, per origin, the highest seq it stores with no
// gap below it; the log holds exactly those events. The causality rules
// (vectors, the key states' dotted version vector sets, CompareWrites, the
// join, the garbage-collection predicate) are pure functions in
// sync/causal, with property tests; this package maps its events to them. Per key, a KeyState keeps
// the versions no known write supersedes and the key's causal context (a
// dotted version vector set): a write supersedes exactly the versions its
// Context covers, so two writes compare as Before, After, Equal or
// Concurrent (CompareWrites), concurrent writes stay as siblings and are
// reported as ChangeConflict, and the state is the same whatever order the
// writes arrive in. Plain reads (Get) see a deterministic winner: highest
// HLC, then highest origin ID. Deletes are tombstone versions.
//
// # Driving an engine
//
// Create an engine over a Store (MemStore, or the Pebble store) with a
// Signer, a Verifier and a seeded *rand.Rand:
//
//	cfg := replica.DefaultConfig()
//	cfg.Signer = signer                   // security.NewSigner(identityKey)
//	cfg.Verifier = security.Verifier{}
//	cfg.Store = store
//	cfg.Rand = rand.New(rand.NewPCG(seed1, seed2))
//	e, err := replica.New(cfg)              // resumes from whatever store holds
//
// Tell it about peers as connections come and go, and give it the time
// regularly:
//
//	e.PeerUp(id)      // connected / discovered
//	e.PeerDown(id)    // disconnected
//	e.Tick(time.Now()) // e.g. every 100 ms: timeouts, failure detector, digest sync
//
// Feed it local writes and received messages:
//
//	ev, err := e.Put("users/alice", value) // also Delete, Publish
//	err = e.Step(msg)                       // msg.From = the authenticated sender
//
// After any input, act on the Ready, in this order, before the next input:
//
//	for e.HasReady() {
//		rd := e.Ready()
//		if err := store.Apply(rd.Batch); err != nil { // 1. persist FIRST, durably
//			return err // send nothing: a restart resumes from the store
//		}
//		for _, m := range rd.Messages { // 2. then send (loss is tolerated)
//			transport.Send(m.To, m)
//		}
//		router.Broadcast(rd.Broadcast) // only with ExternalDissemination
//		for _, c := range rd.Changes { // 3. then notify the application
//			app.Deliver(c)
//		}
//		e.Advance() // 4. the batch is durable
//	}
//
// Persisting before sending guarantees that nothing a peer was told about
// can be lost by a crash; on restart, New reloads the version vector and the
// clock from the store and the node continues its sequence. Until Advance
// the engine reads its own unpersisted writes from memory, so reads (Get,
// Versions, List) are always current. Node wraps an Engine with a mutex for
// callers that need concurrent access, and with group commit: concurrent
// inputs share one Ready (one synced store batch). Node keeps the Ed25519
// work out of that critical section where it can: a group's Puts (and
// PutMany's) are signed in parallel, and StepAll checks received
// signatures in parallel before it takes the lock, the engine's own check
// being answered from that verdict. So Signer and Verifier must be safe
// for concurrent use.
//
// # Dissemination
//
// Events travel on push trees in the manner of Plumtree (Leitão, Pereira
// and Rodrigues, "Epidemic Broadcast Trees"), one tree per origin: for
// each origin whose events it has seen recently (maxTreeOrigins, LRU) a
// node keeps its children, the peers it pushes that origin's events to,
// and pushes the payload of every event it creates or first receives to
// them (never back to the peer it came from); each receiver answers a
// PushAck listing the events that were new to it. The trees build and
// repair themselves:
//
//   - Graft: a node that lacks an announced event pulls it at once from the
//     announcer (PullRequest); the announcer makes it a child in the
//     event's origin tree, so that origin's next events are pushed to it.
//   - Prune: a push that brings a payload this node already had by push,
//     pull or as its own shows that the sender's path is the slower of two:
//     the PushAck sets Prune and the sender drops the receiver from the
//     trees of the origins whose events were not new. A payload that
//     digest sync or a gap request brought first only shows the tree was
//     slower: no prune, and the event goes on down the tree then.
//   - First event: an origin's first event (no tree known for it) is
//     pushed by the origin to up to 4 x (Fanout+PullExtra) peers (every
//     peer of most nodes; each push is its receiver's first copy), and, for
//     PushHops above 1, on to Fanout peers each for the next hops. A node
//     that gets it sends its ID at once to up to 4 x (Fanout+PullExtra)
//     peers, so that each node hears it first from its fastest neighbour
//     and pulls there: the tree begins on the fastest paths.
//
// Per-origin trees, rather than Plumtree's one shared tree, because with
// many writers a shared tree is torn by concurrent prunes (each event that
// crosses a cycle removes one of its edges, so concurrent events from
// different origins remove several and split the tree) and its paths suit
// the origin it was shaped by; an origin's tree changes only with that
// origin's events. The price is state per origin and a first event that
// travels by announcement and pull (three one-way delays per hop).
//
// An event the tree carried here and on is announced (its ID only) to
// Fanout+PullExtra peers off the tree one adaptive timeout late, when the
// tree has had time to reach them: if it did they ignore the ID, if not
// they pull and graft. Pulled events and events without a tree push are
// announced at once. The seeds' majority rule remains: with fewer useful
// acks than a majority of the peers pushed to (or none by AckTimeout), the
// pusher tells every other live peer not known to have the event its ID at
// once. An event that came by no tree push is also swept: after the first
// wave the announcer tells its other live peers not known to have it, so a
// node that every random choice missed does not wait for digest sync.
// Announcements stop after MaxHops hops. Ack and pull timeouts adapt to
// each peer's measured round trip (RFC 6298 over engine time), between
// three tick gaps and the configured AckTimeout/PullTimeout.
// Once an origin's tree has formed, each node receives its payloads about
// once, one one-way trip per hop (docs/benchmarks.md), while IDs, at 32
// bytes each, carry the redundancy that repairs it. A recently seen event
// IDs LRU (DedupCacheSize) answers "already have it" before the store does.
// Everything for one peer is batched into messages of at most
// MaxEventsPerMessage events and MaxMessageSize bytes.
//
// With Config.ExternalDissemination an external router (GossipSub in
// p2pnode) spreads new events instead, in the spirit of go-libp2p-pubsub's
// PubSubRouter: the engine neither pushes nor announces local events but
// lists them in Ready.Broadcast, and Receive accepts the events the router
// delivers, verified, deduplicated and applied like pushed ones, never
// acknowledged or forwarded. Digest sync, gap requests and the announcing
// of events digest sync brings are unchanged underneath.
//
// Events that arrive before a predecessor of the same origin, or whose
// context names writes the node does not hold yet (causal delivery, see
// "Trust model"), are held (MaxPendingEvents, at most an eighth of it per
// origin and per sending peer) and what is missing is requested from the
// sender, which stores its events without gaps. A held
// event whose gap has not filled after four PullTimeouts (engine time) is
// dropped (Stats.HeldExpired); digest sync brings it again in order. So a
// peer that never sends a gap's first event cannot keep the buffer.
//
// # Digest sync
//
// Every SyncInterval the engine opens a digest sync with one peer: it sends
// its root Digest (an incrementally kept hash of its version vector). If the
// roots match, the peer answers Match and the exchange ends; otherwise the
// peer answers with its version vector, and the two exchange the missing
// events in the three phases digest -> events + request -> events
// (SyncDigest, SyncExchange, SyncEvents). Events brought by digest sync are
// announced onward, so a healed partition is repaired by pull, not one sync
// at a time. A message carries at most MaxEventsPerMessage events; when
// either side had more (More), the node that lacks them opens the next sync
// with the same peer. At most one sync per peer is open at a time (the
// periodic sync and any continuation wait for it to end or time out), only
// the answer to a still open sync continues, and a sync does not request
// an origin that another open sync is requesting; an answer that brought
// nothing new, or reports Compacted, does not continue (catch-up by state
// takes over, and the periodic sync retries): after a long partition
// the catch-up is one chain per peer pair advancing one message per round
// trip, rather than chains that multiply on every More and carry the same
// events many times (sync/simtest TestCatchUpAfterLongPartition).
//
// # Anti-entropy
//
// Digest sync repairs lost events; anti-entropy repairs state. Every
// AntiEntropyInterval the engine opens a Merkle reconciliation session
// (sync/merkle) with one peer over the store's tree (MerkleStore: a tree
// over (HashKey(key), KeyState.Digest()) entries that the store updates in
// Apply). AERequest/AEResponse round trips walk both trees down to the
// differing ranges; then each side sends the other its key states in them
// (AEStates: per key the signed events of its versions and its context),
// and each merges them by evidence (merge.go, causal.JoinPlan): one of our
// versions is removed only when one of the peer's signed versions has a
// context that covers it (the removal is reported as ChangeRemoved); one
// of theirs is added unless our own knowledge covers it; the peer's
// claimed context and vector are not used, and a key the peer does not
// send changes nothing. Past FullSyncThreshold of differing leaves the
// initiator pulls a snapshot instead (SnapshotRequest/SnapshotChunk, the
// whole state in key order, resumable from the last key received). An
// empty node whose first digest sync meets a long history also pulls a
// snapshot instead of the log. Sessions are bounded: one started at a time,
// one answered per peer and four in all, each dropped after SuspectTimeout
// of silence. Snapshot serving is bounded too: one walk per peer; a
// request that does not continue where the peer's last chunk ended is
// dropped within PullTimeout of that chunk (Stats.SnapshotRequestsRefused),
// so small requests cannot make the node build large chunks at will.
// See "Trust model" below.
//
// # Garbage collection and catch-up
//
// Every GCInterval the engine computes the safe vector: the pointwise
// minimum of its own vector and the last vector it learned (by digest sync)
// from every peer in its table, failed ones included, except a peer whose
// vector lags ours without advancing for GCStallTimeout (a liar reporting
// an empty vector, or a node gone quiet: it catches up by state). Below it,
// the engine deletes (Batch.DeleteEvents, Batch.DeleteKeys) application
// events, writes that no key state holds as a version any more
// (superseded), and keys whose versions are all tombstones older than
// TombstoneTTL (engine time against the tombstones' HLC) and whose context
// the safe vector covers (with their events). A tombstone is the evidence
// of a delete, so it is kept that long: a node away for less sees it by
// anti-entropy. Peers silent for PeerForgetTimeout leave the table.
//
//   - The floor (persisted as metadata "gc-floor") is, per origin, the seq
//     at or below which the log may lack events. A digest sync request
//     that starts at or below it is served from above it, and the reply's
//     Compacted field reports the floor. A node told of a floor above its
//     own vector, in a SyncEvents answering a digest sync it started with
//     that peer (a Compacted anywhere else is ignored and counted as
//     Stats.CompactedIgnored), starts a catch-up session with that peer
//     (at most one per AntiEntropyInterval): an anti-entropy session whose
//     first response carries the peer's vector V, or a snapshot, whose
//     first chunk carries V. When the session's states are merged (or the
//     last chunk is in), the node raises its vector, and its floor with
//     it, towards V (raiseTo), and events above arrive by digest sync.
//   - The raise is capped (capRaise): per origin no higher than a signed
//     event of that origin shows exists (versions received in the session;
//     a held event at s shows s-1), or than another peer's learned vector
//     claims, and below every version of the session that was deferred
//     (not adopted). The node's own origin is raised only while it
//     recovers its sequence, and only to its own signed events. Every seq
//     from a peer, in a vector or an event, is at most MaxSeq.
//
// Invariants:
//
//  1. State reflects the vector: for every origin o, every write of o with
//     seq <= VersionVector()[o] has been applied to the key state (it is a
//     version, or superseded by one, or its key was collected). Events and
//     state change in one Batch; raiseTo only follows a complete merge.
//  2. The log holds every event of o in floor[o] < seq <= vector[o]; below
//     the floor it may lack any; floor <= vector.
//  3. Every version of a key state has its event in the log (possibly
//     above the vector, when the version arrived as state: applying that
//     event later advances the vector without a second change report).
//  4. A key absent from a node whose vector covers a write to it means
//     that write was superseded or deleted there: the node does not adopt
//     it from a peer (no resurrection of collected tombstones), but the
//     absence is not evidence for the peer, which keeps its versions.
//  5. An event at or below the floor that arrives again is a duplicate
//     (equivocation below the floor cannot be detected: the event is gone).
//  6. Causal delivery: every applied event's context, and every adopted
//     state version's context, is covered by the vector (or, in a
//     catch-up, by the capped raise): no key context names a write that
//     does not exist.
//  7. Evidence: a version leaves a key state only for a write whose signed
//     context covers it, applied here or received as a signed version.
//  8. The vector rises only by applying events, or by a capped catch-up
//     raise; the own origin's entry only by own signed events.
//
// # Trust model
//
// A member is anyone with a valid identity; everything it sends is a
// claim. What the engine resists, whatever a minority of members sign or
// send (TestAdversarial in sync/simtest plays these with k of N liars):
//
//   - Inflated contexts (a write claiming to have seen writes that do not
//     exist): never applied (held, then expired), so no key is squatted.
//   - Forged vectors in anti-entropy or snapshots, and empty snapshots:
//     nothing is deleted (absence is not evidence), nothing is skipped.
//   - False Compacted reports and catch-up vectors: the raise is capped
//     at signed evidence or a second peer's vector.
//   - Origin floods: MaxOriginsPerPeer new origins per sending peer,
//     MaxOrigins in all, so vectors always fit a message; held events are
//     bounded per sender.
//   - Empty-vector GC stalls: collection is delayed by GCStallTimeout at
//     most. Replays are duplicates; withholding is repaired by any other
//     peer (digest sync, anti-entropy).
//   - A wiped store with a kept identity (Config.ResumeIdentity): writes
//     wait until the node has its own events back; it never reuses a seq.
//
// What it does not resist, today:
//
//   - A liar's own writes: it may write any key (authorization is a
//     separate hook), and a context naming writes that do exist is
//     accepted as "seen" whether or not the liar saw them: it may
//     overwrite any existing value it can name.
//   - Equivocation: two events with the same (origin, seq) go to
//     different nodes; each keeps the first it saw and rejects the other,
//     so honest nodes may keep different copies of the liar's own write.
//   - Two colluding peers that both claim a vector can raise a catch-up
//     (a second peer's claim counts as evidence), and a catch-up peer that
//     withholds states hides writes below the raised floor from that node
//     until their keys change again (nothing spreads from it).
//   - Eclipse: a node whose every peer lies learns only what they say.
//   - A node away longer than TombstoneTTL keeps values deleted meanwhile
//     (it does not spread them), and a peer claiming more of a recovering
//     node's own sequence than exists delays its writes (restart with a
//     new identity: murmur daemon --reset-identity).
//   - Below a floor, equivocation cannot be detected (invariant 5).
//
// Application events (Publish) below a floor are not replayed to a node
// that catches up by state: state has no record of them.
//
// # Peers and failure detection
//
// Targets are chosen among live peers by SelectRandom, SelectRoundRobin,
// SelectLeastRecent or SelectMostReliable. A peer that leaves a request
// unanswered for SuspectTimeout is suspected (chosen after alive peers), for
// FailTimeout failed (only probed: a ProbeFailed share of digest syncs goes
// to a failed peer); any message from it makes it alive again. Transitions
// are reported as ChangePeerState.
//
// # Messages
//
// Message bodies are plain structs (Push, PushAck, PullSync, PullRequest,
// PullResponse, SyncRoot, SyncDigest, SyncExchange, SyncEvents, AERequest,
// AEResponse, AEStates, SnapshotRequest, SnapshotChunk) whose Size
// is their canonical encoded size, so the simulator can count bytes; the
// protocol package maps them to protobuf frames. Step rejects messages over
// MaxMessageSize or the per-message count limits (ErrMessageTooLarge), and
// rejects bad events one by one while still accepting the good ones.
//
// # Storage
//
// Store is the storage interface owned by this package: the event log by ID
// and by (origin, seq), key state by key, prefix and key-hash order, the
// version vector, clock and small metadata, all written through an atomic
// Batch that can also delete (garbage collection). MemStore implements it in
// memory, with a Merkle tree (MerkleStore); pebblestore on disk.
package replica
