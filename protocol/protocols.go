package protocol

import (
	"fmt"

	p2pprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// murmur's libp2p stream protocols. Each carries its own set of message
// types; a type received on the wrong protocol is an unknown message.
const (
	// PushProtocol carries dissemination: Push, PushAck, PullSync,
	// PullRequest and PullResponse.
	PushProtocol p2pprotocol.ID = "/murmur/push/1.0.0"
	// SyncProtocol carries digest sync: SyncRoot, SyncDigest, SyncExchange
	// and SyncEvents.
	SyncProtocol p2pprotocol.ID = "/murmur/sync/1.0.0"
	// AntiEntropyProtocol carries Merkle anti-entropy and snapshots:
	// AERequest, AEResponse, AEStates, SnapshotRequest and SnapshotChunk.
	AntiEntropyProtocol p2pprotocol.ID = "/murmur/ae/1.0.0"
)

// Protocols returns the protocols the Transport serves, in a fixed order.
func Protocols() []p2pprotocol.ID {
	return []p2pprotocol.ID{PushProtocol, SyncProtocol, AntiEntropyProtocol}
}

// ProtocolFor returns the protocol that carries messages of type t. It
// returns an error wrapping ErrUnknownMessage for a type without a mapping.
func ProtocolFor(t replica.MessageType) (p2pprotocol.ID, error) {
	switch t {
	case replica.TypePush, replica.TypePushAck, replica.TypePullSync, replica.TypePullRequest, replica.TypePullResponse:
		return PushProtocol, nil
	case replica.TypeSyncRoot, replica.TypeSyncDigest, replica.TypeSyncExchange, replica.TypeSyncEvents:
		return SyncProtocol, nil
	case replica.TypeAERequest, replica.TypeAEResponse, replica.TypeAEStates, replica.TypeSnapshotRequest, replica.TypeSnapshotChunk:
		return AntiEntropyProtocol, nil
	}
	return "", fmt.Errorf("%w: no protocol carries message type %s", ErrUnknownMessage, t)
}
