package replica

import "github.com/murmur-p2p/murmur/sync/merkle"

// Anti-entropy and snapshot message types (see antientropy.go and
// catchup.go). They are numbered from 16, the range the wire protocol keeps
// for anti-entropy (the protobuf Envelope's field numbers equal the types).
const (
	// TypeAERequest carries one request of a Merkle reconciliation session
	// from its initiator.
	TypeAERequest MessageType = 16
	// TypeAEResponse answers an AERequest (or refuses the session).
	TypeAEResponse MessageType = 17
	// TypeAEStates carries the sender's key states in the ranges a finished
	// session found to differ.
	TypeAEStates MessageType = 18
	// TypeSnapshotRequest asks for the next chunk of the peer's whole state.
	TypeSnapshotRequest MessageType = 19
	// TypeSnapshotChunk is one chunk of a snapshot, in key order.
	TypeSnapshotChunk MessageType = 20
)

// MaxStateVersions bounds the versions (siblings) of one key state received
// from a peer: more concurrent writes to one key than this are not a state
// honest nodes produce between two anti-entropy rounds.
const MaxStateVersions = 64

// AERequest is one request of an anti-entropy session. The first has
// Req.Start set and opens the session at the receiver; CatchUp asks the
// responder to include its version vector in the first response (the
// initiator lacks events the responder has garbage-collected and will
// raise its vector to it once the session's states are merged).
type AERequest struct {
	Nonce   uint64
	CatchUp bool
	Req     *merkle.Request
}

// AEResponse answers the AERequest with the same Nonce. Refused means the
// responder runs too many sessions; the initiator tries later. VersionVector
// is set in the answer to a CatchUp start: the responder's vector before any
// of the session's state was read.
type AEResponse struct {
	Nonce         uint64
	Refused       bool
	Resp          *merkle.Response
	VersionVector VersionVector
}

// StateEntry is one key's state as anti-entropy and snapshots send it: the
// signed events of its versions (so the receiver verifies every value) and
// the key's causal context.
type StateEntry struct {
	Key      string
	Versions []*Event
	Context  VersionVector
}

// AEStates carries the sender's states in the differing ranges of session
// Nonce. Ranges lists the ranges this message completes: the sender holds
// no other keys in them than those sent in this or earlier AEStates of the
// session. VersionVector is the sender's vector when it read the states:
// a key the sender lacks, or a version it lacks, whose write that vector
// covers was deleted or superseded there. Last ends the sender's part.
type AEStates struct {
	Nonce         uint64
	States        []*StateEntry
	Ranges        []merkle.Range
	VersionVector VersionVector
	Last          bool
}

// SnapshotCursor is a snapshot's resume point: the last key received, or
// the start of the state when Started is false.
type SnapshotCursor struct {
	Started bool
	After   string
}

// SnapshotRequest asks for the chunk of the peer's state after Cursor.
type SnapshotRequest struct {
	Nonce  uint64
	Cursor SnapshotCursor
}

// SnapshotChunk is the chunk after Cursor: the next states in ascending key
// order. The sender holds no keys between Cursor and the last state sent
// other than those sent (none after Cursor at all when Last).
// VersionVector is the sender's vector when it read them and KeysTotal the
// number of keys it holds (for progress).
type SnapshotChunk struct {
	Nonce         uint64
	Cursor        SnapshotCursor
	States        []*StateEntry
	Last          bool
	VersionVector VersionVector
	KeysTotal     uint64
}

// Type implements Body.
func (*AERequest) Type() MessageType { return TypeAERequest }

// Type implements Body.
func (*AEResponse) Type() MessageType { return TypeAEResponse }

// Type implements Body.
func (*AEStates) Type() MessageType { return TypeAEStates }

// Type implements Body.
func (*SnapshotRequest) Type() MessageType { return TypeSnapshotRequest }

// Type implements Body.
func (*SnapshotChunk) Type() MessageType { return TypeSnapshotChunk }

// Size implements Body: nonce, flag byte, the length-prefixed merkle
// request encoding.
func (m *AERequest) Size() int {
	n := 0
	if m.Req != nil {
		n = m.Req.Size()
	}
	return uvarintSize(m.Nonce) + 1 + bytesSize(n)
}

// Size implements Body.
func (m *AEResponse) Size() int {
	n := 0
	if m.Resp != nil {
		n = m.Resp.Size()
	}
	return uvarintSize(m.Nonce) + 1 + bytesSize(n) + vvSize(m.VersionVector)
}

// Size implements Body.
func (m *AEStates) Size() int {
	return uvarintSize(m.Nonce) + statesSize(m.States) + uvarintSize(uint64(len(m.Ranges))) + 9*len(m.Ranges) +
		vvSize(m.VersionVector) + 1
}

// Size implements Body.
func (m *SnapshotRequest) Size() int { return uvarintSize(m.Nonce) + cursorSize(m.Cursor) }

// Size implements Body.
func (m *SnapshotChunk) Size() int {
	return uvarintSize(m.Nonce) + cursorSize(m.Cursor) + statesSize(m.States) + 1 + vvSize(m.VersionVector) + uvarintSize(m.KeysTotal)
}

// Size is the entry's encoded size: key, versions, context.
func (s *StateEntry) Size() int {
	return bytesSize(len(s.Key)) + eventsSize(s.Versions) + vvSize(s.Context)
}

func statesSize(states []*StateEntry) int {
	n := uvarintSize(uint64(len(states)))
	for _, s := range states {
		n += bytesSize(s.Size())
	}
	return n
}

func cursorSize(c SnapshotCursor) int { return 1 + bytesSize(len(c.After)) }
