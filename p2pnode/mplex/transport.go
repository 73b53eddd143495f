// Package mplex is an implementation of the libp2p mplex stream multiplexer
// (protocol /mplex/6.7.0, https://github.com/libp2p/specs/tree/master/mplex)
// as a go-libp2p network.Multiplexer. go-libp2p dropped its own mplex; murmur
// offers this one after yamux so that peers which speak only mplex, such as
// some js-libp2p configurations, can still connect.
//
// mplex has no flow control, so this implementation bounds what a peer can
// make it hold: frames longer than Config.MaxMessageSize close the
// connection; each stream buffers at most Config.MaxStreamBuffer unread
// bytes (reserved from the connection's resource scope), and a stream whose
// reader falls further behind is reset after Config.SlowReaderTimeout, as
// the spec suggests; inbound streams beyond Config.MaxInboundStreams, or
// beyond the accept backlog, are reset at once. A peer that breaks the
// protocol (unknown flag, a stream ID reused while open, a malformed
// varint) loses the connection.
//
// Use it in a go-libp2p host with
//
//	t, err := mplex.New(mplex.DefaultConfig())
//	...
//	libp2p.New(libp2p.Muxer(mplex.ID, t), ...)
package mplex

import (
	"fmt"
	"net"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// ID is mplex's protocol ID, negotiated with multistream-select.
const ID = "/mplex/6.7.0"

// Config bounds what one mplex connection holds. DefaultConfig gives the
// defaults and why each was chosen.
type Config struct {
	// MaxMessageSize is the largest frame body accepted or sent, in bytes;
	// a larger incoming frame is a protocol violation and closes the
	// connection. Writes are split into frames of at most this size.
	MaxMessageSize int
	// MaxStreamBuffer is how many received, unread bytes one stream may
	// hold. It must be at least MaxMessageSize.
	MaxStreamBuffer int
	// SlowReaderTimeout is how long the connection's reader waits for a
	// stream's reader to make room before it resets that stream. Every
	// stream of the connection waits meanwhile (mplex has no per-stream
	// flow control).
	SlowReaderTimeout time.Duration
	// MaxInboundStreams caps the open streams the peer started; further
	// NewStream frames are answered with a reset.
	MaxInboundStreams int
	// MaxOutboundStreams caps the open streams this side started; OpenStream
	// fails beyond it.
	MaxOutboundStreams int
	// AcceptBacklog is how many inbound streams may wait for AcceptStream;
	// a stream arriving when the backlog is full is reset.
	AcceptBacklog int
	// WriteQueue is how many outgoing frames may wait for the connection;
	// writers block (until their deadline) beyond it.
	WriteQueue int
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		MaxMessageSize:     1 << 20,         // 1 MiB: the size go-multiplex and js-libp2p's mplex use
		MaxStreamBuffer:    4 << 20,         // 4 MiB: js-libp2p's mplex default, four full frames
		SlowReaderTimeout:  5 * time.Second, // long enough for a busy reader, short enough that one stream cannot stall the rest for long
		MaxInboundStreams:  1024,            // js-libp2p's mplex default; go-libp2p's resource manager caps active streams further
		MaxOutboundStreams: 1024,            // the same on our side
		AcceptBacklog:      256,             // streams arrive far slower than the swarm accepts them; a flood is refused, not queued
		WriteQueue:         64,              // up to 64 frames in flight to the socket before writers wait
	}
}

// Validate checks every field and names the one at fault.
func (c Config) Validate() error {
	switch {
	case c.MaxMessageSize < 1:
		return fmt.Errorf("mplex: MaxMessageSize %d must be positive", c.MaxMessageSize)
	case c.MaxStreamBuffer < c.MaxMessageSize:
		return fmt.Errorf("mplex: MaxStreamBuffer %d must be at least MaxMessageSize %d", c.MaxStreamBuffer, c.MaxMessageSize)
	case c.SlowReaderTimeout <= 0:
		return fmt.Errorf("mplex: SlowReaderTimeout %s must be positive", c.SlowReaderTimeout)
	case c.MaxInboundStreams < 1:
		return fmt.Errorf("mplex: MaxInboundStreams %d must be positive", c.MaxInboundStreams)
	case c.MaxOutboundStreams < 1:
		return fmt.Errorf("mplex: MaxOutboundStreams %d must be positive", c.MaxOutboundStreams)
	case c.AcceptBacklog < 1:
		return fmt.Errorf("mplex: AcceptBacklog %d must be positive", c.AcceptBacklog)
	case c.WriteQueue < 1:
		return fmt.Errorf("mplex: WriteQueue %d must be positive", c.WriteQueue)
	}
	return nil
}

// Transport is a network.Multiplexer that speaks mplex. It is immutable
// and safe for concurrent use.
type Transport struct {
	cfg Config
}

var _ network.Multiplexer = (*Transport)(nil)

// New returns a Transport with cfg, which must be valid.
func New(cfg Config) (*Transport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Transport{cfg: cfg}, nil
}

// NewConn runs mplex over c. isServer tells which side accepted the
// connection (the session receiver); scope, if not nil, is charged for the
// bytes streams buffer.
func (t *Transport) NewConn(c net.Conn, isServer bool, scope network.PeerScope) (network.MuxedConn, error) {
	return newConn(c, isServer, scope, t.cfg), nil
}
