package protocol

import "errors"

var (
	// ErrMessageTooLarge marks a frame whose length prefix exceeds
	// Limits.MaxMessageSize, or a message with more events, IDs, vector
	// entries or ranges than Limits allow. The length is checked before any
	// buffer for the frame is allocated.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrMalformedFrame marks bytes that are not a frame holding a protobuf
	// Envelope: a bad or non-minimal length prefix, a frame cut short, or
	// bytes that do not parse as protobuf.
	ErrMalformedFrame = errors.New("malformed frame")
	// ErrUnknownMessage marks an Envelope without a body this implementation
	// knows (a newer message type, or an empty envelope), a message type sent
	// on a protocol that does not carry it, or a sync.MessageType without a
	// wire mapping.
	ErrUnknownMessage = errors.New("unknown message")
	// ErrInvalidMessage marks a well-formed Envelope whose fields break the
	// protocol's rules: an ID or digest that is not 32 bytes, a missing
	// required field, an unknown op, a duplicate version vector origin, a
	// field over its size limit.
	ErrInvalidMessage = errors.New("invalid message")
	// ErrQueueFull is returned by Transport.Send when the outgoing queue for
	// the peer and protocol is full; the message is dropped.
	ErrQueueFull = errors.New("send queue full")
	// ErrClosed is returned by a closed Transport.
	ErrClosed = errors.New("transport closed")
)
