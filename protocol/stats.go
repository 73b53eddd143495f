package protocol

import "sync/atomic"

// ProtocolStats are the counters of one protocol since the Transport
// started. Bytes count whole frames (length prefix and envelope).
type ProtocolStats struct {
	// MessagesSent and BytesSent count messages written to a stream.
	MessagesSent, BytesSent uint64
	// MessagesReceived and BytesReceived count messages decoded and
	// delivered.
	MessagesReceived, BytesReceived uint64
	// Dropped counts messages Send refused because the queue was full;
	// SendFailures counts messages lost to a stream that could not be
	// opened or written.
	Dropped, SendFailures uint64
	// StreamsOpened counts outgoing streams opened; InboundStreams counts
	// inbound streams accepted; StreamsReset counts inbound streams reset
	// for a fault.
	StreamsOpened, InboundStreams, StreamsReset uint64
	// RemoteEnded counts outgoing streams the remote closed or reset (the
	// next message goes on a new stream).
	RemoteEnded uint64
	// Compression counts the bytes on the streams, after compression.
	Compression CompressionStats
}

// protoCounters is the live, atomically updated form of ProtocolStats.
type protoCounters struct {
	msgsSent, bytesSent, msgsRecv, bytesRecv atomic.Uint64
	dropped, sendFailures                    atomic.Uint64
	opened, inbound, reset, remoteEnded      atomic.Uint64
	comp                                     compressionCounters
}

func (c *protoCounters) snapshot() ProtocolStats {
	return ProtocolStats{
		MessagesSent:     c.msgsSent.Load(),
		BytesSent:        c.bytesSent.Load(),
		MessagesReceived: c.msgsRecv.Load(),
		BytesReceived:    c.bytesRecv.Load(),
		Dropped:          c.dropped.Load(),
		SendFailures:     c.sendFailures.Load(),
		StreamsOpened:    c.opened.Load(),
		InboundStreams:   c.inbound.Load(),
		StreamsReset:     c.reset.Load(),
		RemoteEnded:      c.remoteEnded.Load(),
		Compression:      c.comp.snapshot(),
	}
}
