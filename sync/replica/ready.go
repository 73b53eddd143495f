package replica

import "time"

// Ready is everything the engine wants done after the inputs given since the
// last Advance. The caller must act on the fields in this order:
//
//  1. Batch: apply it to the Store (Store.Apply) and wait until it is
//     durable. If that fails, stop: do not send or deliver anything (a
//     restarted engine resumes from the store as it was).
//  2. Messages: send them, in any order; losing some is fine, the engine
//     recovers from loss. Broadcast: hand the events to the external
//     dissemination router (Config.ExternalDissemination), which may lose
//     them too; digest sync repairs it.
//  3. Changes: deliver them to the application, in order.
//  4. Call Advance.
//
// No input (Put, Step, Tick, ...) may be given between Ready and Advance.
type Ready struct {
	// Batch holds the store writes; nil when there are none. It must be
	// durable before any message is sent, so that nothing a peer was told
	// about can be lost by a crash.
	Batch *Batch
	// Messages are to be sent to Message.To after Batch is durable.
	Messages []Message
	// Broadcast holds the local events the external dissemination router
	// must spread (only with Config.ExternalDissemination), in creation
	// order, after Batch is durable. The engine neither pushes nor announces
	// them itself.
	Broadcast []*Event
	// Changes are to be delivered to the application after Batch is durable.
	Changes []Change
}

// Empty reports whether there is nothing to do.
func (r Ready) Empty() bool {
	return r.Batch.Empty() && len(r.Messages) == 0 && len(r.Broadcast) == 0 && len(r.Changes) == 0
}

// ChangeKind tells what a Change reports.
type ChangeKind int

const (
	// ChangeCreated: a local write or publish created Event.
	ChangeCreated ChangeKind = iota + 1
	// ChangeReceived: Event from another origin was accepted and applied.
	ChangeReceived
	// ChangeConflict: Key has concurrent siblings after applying Event;
	// State holds them.
	ChangeConflict
	// ChangePeerState: the failure detector moved Peer to PeerState.
	ChangePeerState
	// ChangeExchange: a digest sync with Peer finished; Exchange has the result.
	ChangeExchange
	// ChangeAntiEntropy: an anti-entropy session this node started with
	// Peer ended; AntiEntropy has the result.
	ChangeAntiEntropy
	// ChangeSnapshot: a chunk of a snapshot pulled from Peer was merged;
	// Snapshot has the progress (Done on the last).
	ChangeSnapshot
	// ChangeRemoved: a merge of a peer's state (anti-entropy or snapshot)
	// dropped versions of Key that a signed write from Peer supersedes;
	// State holds what remains.
	ChangeRemoved
)

// String names the kind.
func (k ChangeKind) String() string {
	switch k {
	case ChangeCreated:
		return "created"
	case ChangeReceived:
		return "received"
	case ChangeConflict:
		return "conflict"
	case ChangePeerState:
		return "peer-state"
	case ChangeExchange:
		return "exchange"
	case ChangeAntiEntropy:
		return "anti-entropy"
	case ChangeSnapshot:
		return "snapshot"
	case ChangeRemoved:
		return "removed"
	}
	return "unknown"
}

// Change is one notification for the application.
type Change struct {
	Kind ChangeKind
	// Event is set for ChangeCreated, ChangeReceived and ChangeConflict.
	Event *Event
	// Key and State (the key's siblings) are set for ChangeConflict.
	Key   string
	State *KeyState
	// Peer is set for ChangePeerState and ChangeExchange, and for
	// ChangeReceived: the peer that delivered Event.
	Peer PeerID
	// PeerState is set for ChangePeerState.
	PeerState PeerState
	// Exchange is set for ChangeExchange.
	Exchange *ExchangeResult
	// AntiEntropy is set for ChangeAntiEntropy.
	AntiEntropy *AEResult
	// Snapshot is set for ChangeSnapshot.
	Snapshot *SnapshotProgress
	// Via is set for ChangeReceived: the path that delivered Event.
	Via Delivery
}

// AEResult summarises one anti-entropy session from the initiator's side.
type AEResult struct {
	// Match: the trees were equal. FullSync: too many leaves differed and a
	// snapshot pull follows. Refused, TimedOut: the session did not finish.
	// Coded: the coded fast path found the difference.
	Match, FullSync, Refused, TimedOut, Coded bool
	// DifferingLeaves and Ranges are what the tree walk found; RoundTrips
	// its request/response pairs.
	DifferingLeaves, Ranges, RoundTrips int
	// StatesSent and StatesReceived count the key states exchanged.
	StatesSent, StatesReceived int
	// Duration is the session's engine time.
	Duration time.Duration
}

// ExchangeResult summarises one digest sync from the local side.
type ExchangeResult struct {
	// Match is true when the roots were equal and nothing was exchanged.
	Match bool
	// Sent and Received count the events sent to and accepted from the peer.
	Sent, Received int
}
