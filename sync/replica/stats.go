package replica

import "time"

// Stats are the engine's counters since it was created.
type Stats struct {
	// Events is the number of events in the log; Origins the number of
	// origins with at least one event.
	Events  uint64
	Origins int
	// Created counts local events; Accepted counts events from other origins
	// applied; Duplicates counts events received that were already known;
	// Rejected counts events refused (invalid, badly signed, equivocating).
	Created, Accepted, Duplicates, Rejected uint64
	// PayloadsReceived counts full events received in any message, or
	// through Receive, new or duplicate: the payload copies. PayloadsSent
	// counts full events sent in messages.
	PayloadsReceived, PayloadsSent uint64
	// Conflicts counts applied writes that left their key with concurrent
	// siblings (each reported as a ChangeConflict).
	Conflicts uint64
	// Broadcast counts local events handed to the external dissemination
	// router (Ready.Broadcast); ExternalReceived counts events it delivered
	// (Receive), new or duplicate.
	Broadcast, ExternalReceived uint64
	// MessagesSent, MessagesReceived, BytesSent and BytesReceived count all
	// messages; the ByType arrays split them by MessageType.
	MessagesSent, MessagesReceived, BytesSent, BytesReceived uint64
	SentByType, ReceivedByType                               [numMessageTypes]uint64
	// Pulls counts events requested by PullRequest; PullsServed counts events
	// sent in PullResponses.
	Pulls, PullsServed uint64
	// AckTimeouts counts pushes judged at their ack deadline with acks
	// missing; PullRetries counts pulls that timed out and asked the next
	// announcer; PullsAbandoned those that timed out with none left (digest
	// sync brings the event).
	AckTimeouts, PullRetries, PullsAbandoned uint64
	// Swept counts IDs announced by the second wave (see sweep in gossip.go).
	Swept uint64
	// Grafts and Prunes count children added to and taken out of this
	// node's per-origin push trees (tree.go).
	Grafts, Prunes uint64
	// SyncRounds counts digest syncs started; SyncMatches those whose roots
	// matched.
	SyncRounds, SyncMatches uint64
	// SyncTimeouts counts digest syncs that were not finished in time;
	// SyncDurations is the distribution of how long started syncs took
	// (engine time, timeouts included).
	SyncTimeouts  uint64
	SyncDurations Histogram
	// AERounds counts anti-entropy sessions started; AEMatches those whose
	// trees were equal; AEFullSyncs those that chose a snapshot;
	// AERefused those the peer refused; AETimeouts those that timed out;
	// AEAborted sessions (either side) whose tree walk became inconsistent
	// (the trees changed between round trips, or a peer misbehaved).
	AERounds, AEMatches, AEFullSyncs, AERefused, AETimeouts, AEAborted uint64
	// AECoded counts sessions, on either side, whose difference the coded
	// fast path (sketch symbols) found without the Merkle descent.
	AECoded uint64
	// AEBytesSent and AEBytesReceived count anti-entropy messages (tree
	// walk and states).
	AEBytesSent, AEBytesReceived uint64
	// AEDifferingLeaves sums the differing leaves sessions found;
	// AEStatesSent and AEStatesReceived count key states exchanged.
	AEDifferingLeaves, AEStatesSent, AEStatesReceived uint64
	// StatesMerged counts received key states (and absences) that changed
	// ours: the differing keys repaired; StateVersionsAdopted the versions
	// they brought.
	StatesMerged, StateVersionsAdopted uint64
	// SnapshotsSent and SnapshotsReceived count complete snapshots;
	// the Chunk counters their chunks; SnapshotBytesSent and
	// SnapshotBytesReceived their bytes; SnapshotRetries resumed pulls.
	SnapshotsSent, SnapshotsReceived, SnapshotChunksSent, SnapshotChunksReceived uint64
	SnapshotBytesSent, SnapshotBytesReceived, SnapshotRetries                    uint64
	// SnapshotRequestsRefused counts snapshot requests dropped because the
	// same peer asked within PullTimeout of its last chunk without
	// continuing from where that chunk ended.
	SnapshotRequestsRefused uint64
	// Snapshot is the running snapshot pull (Active false when none).
	Snapshot SnapshotProgress
	// CatchUps counts raises of the version vector by state (after a
	// snapshot or a catch-up session); CompactedSeen counts digest syncs
	// that found needed events garbage-collected at the peer;
	// CompactedIgnored counts such reports not acted on because they did
	// not answer a digest sync this node started with that peer.
	CatchUps, CompactedSeen, CompactedIgnored uint64
	// GCEvents and GCKeys count events and tombstoned keys garbage-collected.
	GCEvents, GCKeys uint64
	// Buffered counts events held while an earlier event of their origin was
	// missing; Dropped counts events dropped because that buffer, or the
	// origin's share of it (MaxPendingEvents/8), was full; HeldExpired
	// counts held events dropped because their gap did not fill within
	// four PullTimeouts of their arrival.
	Buffered, Dropped, HeldExpired uint64

	// Evidence counters (issue 9; doc.go "Trust model"). WaitingCausal
	// counts events held because their context named writes the node does
	// not hold yet (causal delivery); StatesDeferred state versions not
	// adopted for the same reason; VersionsRemoved versions dropped by a
	// merge because a peer's signed write superseded them; RaisesCapped
	// catch-up raises cut down to what signed events or a second peer
	// back; OriginsRefused events of a new origin refused because the
	// node, or the sending peer's quota, is full; GCPeersStalled peers
	// left out of the safe vector because their vector lagged without
	// advancing for GCStallTimeout; PeersForgotten peers dropped from the
	// table after PeerForgetTimeout of silence.
	WaitingCausal, StatesDeferred, VersionsRemoved, RaisesCapped uint64
	OriginsRefused, GCPeersStalled, PeersForgotten               uint64
}

// SyncDurationBounds are the upper bounds of the SyncDurations buckets.
var SyncDurationBounds = [...]time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second,
}

// Histogram is a fixed-bucket distribution of durations: Buckets[i] counts
// observations <= SyncDurationBounds[i], cumulatively, as Prometheus
// histograms do; Count and Sum cover every observation.
type Histogram struct {
	Count   uint64
	Sum     time.Duration
	Buckets [len(SyncDurationBounds)]uint64
}

func (h *Histogram) observe(d time.Duration) {
	h.Count++
	h.Sum += d
	for i, b := range SyncDurationBounds {
		if d <= b {
			h.Buckets[i]++
		}
	}
}
