// Package sync is murmur's replication engine: a deterministic state machine
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
// gap below it; the log holds exactly those events. Per key, a KeyState keeps
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
//	cfg := sync.DefaultConfig()
//	cfg.Signer = signer                   // security.NewSigner(identityKey)
//	cfg.Verifier = security.Verifier{}
//	cfg.Store = store
//	cfg.Rand = rand.New(rand.NewPCG(seed1, seed2))
//	e, err := sync.New(cfg)              // resumes from whatever store holds
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
// callers that need concurrent access.
//
// # Dissemination
//
// A new event travels by eager push for the first Config.PushHops hops: the
// node pushes the payload to Fanout peers chosen by the PeerSelection
// strategy; each receiver answers a PushAck listing the events that were new
// to it. With fewer than a majority of Fanout useful acks (or none by
// AckTimeout), the pusher announces the event ID (PullSync) to
// Fanout+PullExtra further peers. Past PushHops, each node that gets the
// event announces only its ID to Fanout+PullExtra peers; receivers lacking it
// send a PullRequest to one announcer at a time (another one after
// PullTimeout) and get a PullResponse. Announcements stop after MaxHops hops.
// So each node receives the payload about once (the simulator measures 1.05
// copies per node at N = 10,000, see docs/benchmarks.md), while IDs, at 32
// bytes each, carry the redundancy the epidemic needs. A recently seen event
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
// Events that arrive before a predecessor of the same origin are held
// (MaxPendingEvents) and the gap is requested from the sender, which stores
// its events without gaps.
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
// at a time.
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
// PullResponse, SyncRoot, SyncDigest, SyncExchange, SyncEvents) whose Size
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
// memory.
package sync
