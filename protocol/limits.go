package protocol

import (
	"github.com/murmur-p2p/murmur/sync/replica"
)

// Limits bound what one received message may hold. They are checked while
// decoding, so a peer cannot make a node allocate or process more than this
// per frame. Zero fields take the defaults of DefaultLimits.
type Limits struct {
	// MaxMessageSize is the largest frame body (the encoded Envelope) in
	// bytes, sent or received. The length prefix is checked against it
	// before the body is read or a buffer allocated.
	MaxMessageSize int `yaml:"max_message_size"`
	// MaxEventsPerMessage caps the events of a Push, PullResponse,
	// SyncExchange or SyncEvents.
	MaxEventsPerMessage int `yaml:"max_events_per_message"`
	// MaxIDsPerMessage caps the event IDs of a PushAck, PullSync or
	// PullRequest.
	MaxIDsPerMessage int `yaml:"max_ids_per_message"`
	// MaxRangesPerMessage caps the ranges a SyncExchange requests.
	MaxRangesPerMessage int `yaml:"max_ranges_per_message"`
	// MaxVectorEntries caps the entries of a SyncDigest's version vector.
	MaxVectorEntries int `yaml:"max_vector_entries"`
}

// MaxSignatureSize bounds an event signature in bytes: room for every key
// type libp2p supports (RSA up to 8192 bits); Ed25519 signatures are 64.
const MaxSignatureSize = 1024

// Defaults of Limits, derived from the sync engine's defaults
// (sync.DefaultConfig) so that whatever an engine with default settings
// sends fits.
const (
	// DefaultMaxMessageSize is the engine's max_message_size (1 MiB + 64 KiB) plus a
	// quarter for protobuf field tags and nested lengths, which cost at most
	// about a tenth over the engine's canonical size estimate (a context
	// entry of a 38-byte origin: 40 canonical bytes, 44 in protobuf).
	DefaultMaxMessageSize = (1<<20 + 64<<10) * 5 / 4
	// DefaultMaxEventsPerMessage is the engine's max_events_per_message.
	DefaultMaxEventsPerMessage = 100
	// idsPerEvent is the engine's ratio of ID, range and vector entries per
	// message to max_events_per_message.
	idsPerEvent = 16
)

// DefaultLimits returns the limits matching sync.DefaultConfig.
func DefaultLimits() Limits {
	return Limits{
		MaxMessageSize:      DefaultMaxMessageSize,
		MaxEventsPerMessage: DefaultMaxEventsPerMessage,
		MaxIDsPerMessage:    idsPerEvent * DefaultMaxEventsPerMessage, // the engine's 16 × events
		MaxRangesPerMessage: idsPerEvent * DefaultMaxEventsPerMessage,
		MaxVectorEntries:    replica.MaxContextEntries, // the engine's own cap on a SyncDigest
	}
}

// LimitsFor returns limits that accept everything an engine configured with
// cfg sends: its event cap, 16 IDs or ranges per event slot (the engine's
// ratio), and its max_message_size plus a quarter for protobuf overhead.
// Zero fields of cfg take sync's defaults.
func LimitsFor(cfg replica.Config) Limits {
	l := DefaultLimits()
	if cfg.MaxMessageSize > 0 {
		l.MaxMessageSize = cfg.MaxMessageSize + cfg.MaxMessageSize/4
	}
	if cfg.MaxEventsPerMessage > 0 {
		l.MaxEventsPerMessage = cfg.MaxEventsPerMessage
		l.MaxIDsPerMessage = idsPerEvent * cfg.MaxEventsPerMessage
		l.MaxRangesPerMessage = idsPerEvent * cfg.MaxEventsPerMessage
	}
	return l
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxMessageSize <= 0 {
		l.MaxMessageSize = d.MaxMessageSize
	}
	if l.MaxEventsPerMessage <= 0 {
		l.MaxEventsPerMessage = d.MaxEventsPerMessage
	}
	if l.MaxIDsPerMessage <= 0 {
		l.MaxIDsPerMessage = d.MaxIDsPerMessage
	}
	if l.MaxRangesPerMessage <= 0 {
		l.MaxRangesPerMessage = d.MaxRangesPerMessage
	}
	if l.MaxVectorEntries <= 0 {
		l.MaxVectorEntries = d.MaxVectorEntries
	}
	return l
}
