package replica

import "fmt"

// MessageType tags each message body. The numbering is stable: the wire
// protocol (issue: protocol/) maps it onto protobuf.
type MessageType uint8

const (
	// TypePush carries new events to a peer, which answers with a PushAck.
	TypePush MessageType = 1
	// TypePushAck tells the pusher which pushed events were new.
	TypePushAck MessageType = 2
	// TypePullSync announces event IDs only; the receiver pulls what it lacks.
	TypePullSync MessageType = 3
	// TypePullRequest asks the announcer for events by ID.
	TypePullRequest MessageType = 4
	// TypePullResponse answers a PullRequest with the events.
	TypePullResponse MessageType = 5
	// TypeSyncRoot opens a digest sync with the sender's root digest.
	TypeSyncRoot MessageType = 6
	// TypeSyncDigest answers a SyncRoot: match, or the version vector.
	TypeSyncDigest MessageType = 7
	// TypeSyncExchange carries the events the digest's sender lacks and a
	// request for the ranges the exchange's sender lacks.
	TypeSyncExchange MessageType = 8
	// TypeSyncEvents answers the request of a SyncExchange.
	TypeSyncEvents MessageType = 9
)

// numMessageTypes sizes per-type counters.
const numMessageTypes = 21

// String names the message type.
func (t MessageType) String() string {
	switch t {
	case TypePush:
		return "push"
	case TypePushAck:
		return "push-ack"
	case TypePullSync:
		return "pull-sync"
	case TypePullRequest:
		return "pull-request"
	case TypePullResponse:
		return "pull-response"
	case TypeSyncRoot:
		return "sync-root"
	case TypeSyncDigest:
		return "sync-digest"
	case TypeSyncExchange:
		return "sync-exchange"
	case TypeSyncEvents:
		return "sync-events"
	case TypeAERequest:
		return "ae-request"
	case TypeAEResponse:
		return "ae-response"
	case TypeAEStates:
		return "ae-states"
	case TypeSnapshotRequest:
		return "snapshot-request"
	case TypeSnapshotChunk:
		return "snapshot-chunk"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Body is the content of a message: one of *Push, *PushAck, *PullSync,
// *PullRequest, *PullResponse, *SyncRoot, *SyncDigest, *SyncExchange,
// *SyncEvents, *AERequest, *AEResponse, *AEStates, *SnapshotRequest,
// *SnapshotChunk.
type Body interface {
	// Type returns the body's message type.
	Type() MessageType
	// Size returns the body's encoded size in bytes (the canonical binary
	// encoding: uvarints, length-prefixed byte strings, fixed-size hashes).
	Size() int
}

// Message is one engine message between two peers. The transport carries
// From implicitly (the authenticated remote peer) and To by addressing.
type Message struct {
	// From is the sender; the engine sets it to its own ID.
	From PeerID
	// To is the receiver.
	To PeerID
	// Body is the content.
	Body Body
}

// Size is the message's encoded size: a type byte and the body.
func (m Message) Size() int {
	if m.Body == nil {
		return 1
	}
	return 1 + m.Body.Size()
}

// Push carries new events. Hops counts how many pushes brought them here
// (1 for the origin's own push); the receiver forwards with Hops+1.
type Push struct {
	Nonce  uint64
	Hops   uint32
	Events []*Event
}

// PushAck acknowledges the Push with the same Nonce, listing the IDs of
// the events that were new to the receiver. Prune asks the pusher to take
// the receiver off its push tree: the push brought a payload that an
// earlier push had already brought (gossip.go).
type PushAck struct {
	Nonce uint64
	New   []EventID
	Prune bool
}

// PullSync announces the IDs of events the sender holds. Hops is the
// announcement's hop count, for the stop rule.
type PullSync struct {
	Hops uint32
	IDs  []EventID
}

// PullRequest asks for events by ID.
type PullRequest struct {
	IDs []EventID
}

// PullResponse carries the requested events the sender holds.
type PullResponse struct {
	Events []*Event
}

// SyncRoot opens a digest sync: the sender's root digest (the digest of its
// version vector).
type SyncRoot struct {
	Nonce uint64
	Root  Digest
}

// SyncDigest answers a SyncRoot: Match when the roots are equal, otherwise
// the responder's version vector.
type SyncDigest struct {
	Nonce         uint64
	Match         bool
	VersionVector VersionVector
}

// SeqRange asks for the events of Origin with From <= seq <= To.
type SeqRange struct {
	Origin   PeerID
	From, To uint64
}

// SyncExchange carries the events the digest's sender lacks and requests
// the ranges the exchange's sender lacks. More means events were left out
// for the size limits; the receiver should sync again.
//
// Compacted lists, for origins whose events the receiver needs below the
// sender's garbage-collection floor, that floor: those events may be gone
// (see gc.go), so the receiver catches up by state (anti-entropy) instead.
type SyncExchange struct {
	Nonce     uint64
	Events    []*Event
	Request   []SeqRange
	More      bool
	Compacted VersionVector
}

// SyncEvents answers a SyncExchange's request. More means events were left
// out for the size limits. Compacted is as in SyncExchange.
type SyncEvents struct {
	Nonce     uint64
	Events    []*Event
	More      bool
	Compacted VersionVector
}

// Type implements Body.
func (*Push) Type() MessageType { return TypePush }

// Type implements Body.
func (*PushAck) Type() MessageType { return TypePushAck }

// Type implements Body.
func (*PullSync) Type() MessageType { return TypePullSync }

// Type implements Body.
func (*PullRequest) Type() MessageType { return TypePullRequest }

// Type implements Body.
func (*PullResponse) Type() MessageType { return TypePullResponse }

// Type implements Body.
func (*SyncRoot) Type() MessageType { return TypeSyncRoot }

// Type implements Body.
func (*SyncDigest) Type() MessageType { return TypeSyncDigest }

// Type implements Body.
func (*SyncExchange) Type() MessageType { return TypeSyncExchange }

// Type implements Body.
func (*SyncEvents) Type() MessageType { return TypeSyncEvents }

// Size implements Body.
func (m *Push) Size() int {
	return uvarintSize(m.Nonce) + uvarintSize(uint64(m.Hops)) + eventsSize(m.Events)
}

// Size implements Body.
func (m *PushAck) Size() int { return uvarintSize(m.Nonce) + idsSize(m.New) + 1 }

// Size implements Body.
func (m *PullSync) Size() int { return uvarintSize(uint64(m.Hops)) + idsSize(m.IDs) }

// Size implements Body.
func (m *PullRequest) Size() int { return idsSize(m.IDs) }

// Size implements Body.
func (m *PullResponse) Size() int { return eventsSize(m.Events) }

// Size implements Body.
func (m *SyncRoot) Size() int { return uvarintSize(m.Nonce) + len(m.Root) }

// Size implements Body.
func (m *SyncDigest) Size() int {
	return uvarintSize(m.Nonce) + 1 + vvSize(m.VersionVector)
}

// Size implements Body.
func (m *SyncExchange) Size() int {
	n := uvarintSize(m.Nonce) + eventsSize(m.Events) + 1 + uvarintSize(uint64(len(m.Request)))
	for _, r := range m.Request {
		n += bytesSize(len(r.Origin)) + uvarintSize(r.From) + uvarintSize(r.To)
	}
	if len(m.Compacted) > 0 {
		n += vvSize(m.Compacted)
	}
	return n
}

// Size implements Body.
func (m *SyncEvents) Size() int {
	n := uvarintSize(m.Nonce) + eventsSize(m.Events) + 1
	if len(m.Compacted) > 0 {
		n += vvSize(m.Compacted)
	}
	return n
}

// eventsSize is the size of a count-prefixed list of length-prefixed events.
func eventsSize(evs []*Event) int {
	n := uvarintSize(uint64(len(evs)))
	for _, e := range evs {
		n += bytesSize(e.Size())
	}
	return n
}

// idsSize is the size of a count-prefixed list of event IDs.
func idsSize(ids []EventID) int { return uvarintSize(uint64(len(ids))) + 32*len(ids) }

// vvSize is the size of a count-prefixed list of (origin, seq) entries.
func vvSize(v VersionVector) int {
	n := uvarintSize(uint64(len(v)))
	for o, s := range v {
		n += bytesSize(len(o)) + uvarintSize(s)
	}
	return n
}

// payloadEvents returns the events a message carries in full, for the
// payload-copy statistics.
func payloadEvents(b Body) []*Event {
	switch m := b.(type) {
	case *Push:
		return m.Events
	case *PullResponse:
		return m.Events
	case *SyncExchange:
		return m.Events
	case *SyncEvents:
		return m.Events
	case *AEStates:
		return stateEvents(m.States)
	case *SnapshotChunk:
		return stateEvents(m.States)
	}
	return nil
}

// stateEvents returns the version events of states.
func stateEvents(states []*StateEntry) []*Event {
	var out []*Event
	for _, s := range states {
		out = append(out, s.Versions...)
	}
	return out
}
