package replica

import "errors"

var (
	// ErrNotFound is returned when a key, event or metadata entry is absent.
	ErrNotFound = errors.New("not found")
	// ErrInvalidEvent marks an event with malformed fields.
	ErrInvalidEvent = errors.New("invalid event")
	// ErrBadSignature marks an unsigned event or one whose signature does
	// not verify against its origin.
	ErrBadSignature = errors.New("bad signature")
	// ErrEquivocation marks an event whose origin and seq match a stored
	// event with different content: the origin signed two events with the
	// same sequence number.
	ErrEquivocation = errors.New("equivocation")
	// ErrOwnSeqUnknown marks a local write refused because the node, an
	// existing identity with an empty store (Config.ResumeIdentity), has
	// not yet learned its own last sequence number from a peer. Writing
	// would reuse one of its (origin, seq), which peers drop. Wait for a
	// digest sync with a peer, or start with a new identity.
	ErrOwnSeqUnknown = errors.New("own sequence not yet recovered from peers (the store is empty but the identity is not new: wait for a peer to answer, or restart the daemon with --reset-identity)")
	// ErrMessageTooLarge marks a message over the configured size or event
	// count limit.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrInvalidMessage marks a message that is malformed.
	ErrInvalidMessage = errors.New("invalid message")
	// ErrInvalidConfig marks a configuration that cannot be used.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrClosed is returned by a closed store or node.
	ErrClosed = errors.New("closed")
)
