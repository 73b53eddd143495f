package merkle

import "errors"

var (
	// ErrInvalidMessage marks a reconciliation message that is malformed or
	// does not fit the session's state (a misbehaving or confused peer).
	ErrInvalidMessage = errors.New("merkle: invalid message")
	// ErrMessageTooLarge marks a message over Config.MaxNodesPerMessage.
	ErrMessageTooLarge = errors.New("merkle: message too large")
	// ErrSessionDone marks a call on a finished session.
	ErrSessionDone = errors.New("merkle: session finished")
	// ErrInvalidConfig marks a Config value out of range.
	ErrInvalidConfig = errors.New("merkle: invalid config")
)
