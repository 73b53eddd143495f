package protocol

import (
	"errors"
	"fmt"
	"time"
)

// Config configures a Transport. Zero fields take the defaults of
// DefaultConfig; start from DefaultConfig or LimitsFor when the engine's
// limits are not the defaults.
type Config struct {
	// Limits bound received messages; Limits.MaxMessageSize also bounds
	// sent ones (a message over it is refused by Send).
	Limits Limits `yaml:"limits"`

	// IdleTimeout is how long an inbound stream may stay silent between
	// frames before it is closed. Not a fault: the sender opens a new
	// stream when it has something to say.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// FrameTimeout is how long one frame may take from its first byte to
	// its last. A peer that stalls mid-frame has its stream reset and the
	// fault counted.
	FrameTimeout time.Duration `yaml:"frame_timeout"`
	// WriteTimeout is the write deadline of each outgoing message.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// OpenTimeout bounds opening an outgoing stream (and dialing the peer
	// when not connected).
	OpenTimeout time.Duration `yaml:"open_timeout"`
	// SendIdleTimeout is how long an outgoing stream with nothing to send is
	// kept open for reuse before it is closed. Keep it below the remote's
	// IdleTimeout so that the sender, not the receiver, ends idle streams.
	SendIdleTimeout time.Duration `yaml:"send_idle_timeout"`

	// MaxInboundStreamsPerPeer bounds the concurrent inbound streams of one
	// peer over all murmur protocols; streams over it are reset and counted
	// as a fault.
	MaxInboundStreamsPerPeer int `yaml:"max_inbound_streams_per_peer"`
	// SendQueueSize is the number of messages queued per (peer, protocol)
	// waiting for their stream; Send drops messages beyond it.
	SendQueueSize int `yaml:"send_queue_size"`
	// FaultTableSize is how many peers' fault counters are kept (least
	// recently faulting peers are forgotten first).
	FaultTableSize int `yaml:"fault_table_size"`

	// StreamPerMessage opens a new stream for every message and closes it
	// after the write, instead of reusing one stream per (peer, protocol).
	// Reuse is faster (docs/benchmarks.md); this exists for comparison and
	// for peers behind middleboxes that dislike long-lived streams.
	StreamPerMessage bool `yaml:"stream_per_message"`

	// Compression is what this Transport compresses the frames it sends
	// with, negotiated per stream (docs/protocol.md, "Compression"):
	// CompressionNone (the zero value) sends plain frames and serves only
	// the plain protocol IDs, exactly as a Transport without compression;
	// otherwise the Transport also accepts every compression it
	// implements.
	Compression Compression `yaml:"-"`
	// CompressionThreshold is the smallest Envelope, in bytes, that is
	// compressed; smaller ones are stored. Default 512: below it the saving
	// is a few bytes and not worth the CPU.
	CompressionThreshold int `yaml:"compression_threshold"`

	// OnFault, when set, is called for every fault a peer commits (see
	// FaultKind), after the offending stream was reset, so the node can
	// score or ban the peer. It is called from stream goroutines and must
	// not block.
	OnFault func(Fault) `yaml:"-"`
}

// DefaultConfig returns the transport defaults.
func DefaultConfig() Config {
	return Config{
		Limits:                   DefaultLimits(),
		IdleTimeout:              2 * time.Minute,  // twice SendIdleTimeout: senders end idle streams
		FrameTimeout:             10 * time.Second, // 1.25 MiB at 1 Mbit/s; a stalled peer is cut off after this
		WriteTimeout:             10 * time.Second, // same budget for the sending side
		OpenTimeout:              10 * time.Second, // a dial plus protocol negotiation on a slow link
		SendIdleTimeout:          time.Minute,      // digest sync revisits a peer within a minute in networks up to ~60 nodes
		MaxInboundStreamsPerPeer: 8,                // one per protocol in steady state, room for reopen overlaps
		SendQueueSize:            256,              // a few Ready rounds of messages for one peer
		FaultTableSize:           4096,             // peers whose faults are remembered
		CompressionThreshold:     512,              // smaller frames gain a few bytes at most
	}
}

// withDefaults fills zero fields from DefaultConfig and rejects negative
// values.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	c.Limits = c.Limits.withDefaults()
	err := errors.Join(
		fillDefault("idle_timeout", &c.IdleTimeout, d.IdleTimeout),
		fillDefault("frame_timeout", &c.FrameTimeout, d.FrameTimeout),
		fillDefault("write_timeout", &c.WriteTimeout, d.WriteTimeout),
		fillDefault("open_timeout", &c.OpenTimeout, d.OpenTimeout),
		fillDefault("send_idle_timeout", &c.SendIdleTimeout, d.SendIdleTimeout),
		fillDefault("max_inbound_streams_per_peer", &c.MaxInboundStreamsPerPeer, d.MaxInboundStreamsPerPeer),
		fillDefault("send_queue_size", &c.SendQueueSize, d.SendQueueSize),
		fillDefault("fault_table_size", &c.FaultTableSize, d.FaultTableSize),
		fillDefault("compression_threshold", &c.CompressionThreshold, d.CompressionThreshold),
	)
	return c, err
}

// fillDefault replaces a zero *v by def and rejects a negative one.
func fillDefault[T int | time.Duration](name string, v *T, def T) error {
	if *v < 0 {
		return fmt.Errorf("protocol config: %s %v is negative", name, *v)
	}
	if *v == 0 {
		*v = def
	}
	return nil
}
