// Package protocol defines murmur's wire protocols: the libp2p protocol IDs,
// the protobuf messages exchanged on them (package pb), conversion between
// those and the sync engine's messages with validation on decode,
// length-prefixed framing with size limits checked before allocation, and
// the Transport that carries sync engine messages between libp2p hosts.
// docs/protocol.md is the specification.
//
// Binding a node:
//
//	t, err := protocol.New(h, protocol.Config{Limits: protocol.LimitsFor(engineCfg)},
//		func(from peer.ID, m sync.Message) { inbox <- m }) // hand on, do not block long
//	...
//	t.Send(msg)                  // non-blocking; one reused stream per (peer, protocol)
//	node, err := sync.NewNode(engineCfg, t.EngineTransport())
//	faults := t.PeerFaults(p)    // misbehaviour counted per peer; Config.OnFault for scoring
//	stats := t.Stats()           // messages and bytes per protocol
//	t.Close()                    // before closing the host
//
// Errors a caller must tell apart are sentinels: ErrMessageTooLarge,
// ErrMalformedFrame, ErrUnknownMessage, ErrInvalidMessage, ErrQueueFull and
// ErrClosed. Logging goes to the go-log subsystem "murmur/protocol".
package protocol
