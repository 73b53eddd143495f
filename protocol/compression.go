package protocol

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	p2pprotocol "github.com/libp2p/go-libp2p/core/protocol"
	"github.com/multiformats/go-varint"
)

// Compression names a frame compression algorithm. docs/protocol.md,
// "Compression", specifies the negotiation and the compressed frame.
type Compression uint8

const (
	// CompressionNone sends frames as they are.
	CompressionNone Compression = iota
	// CompressionSnappy compresses frame bodies as Snappy blocks
	// (github.com/klauspost/compress/s2 in Snappy mode): cheapest on CPU.
	CompressionSnappy
	// CompressionZstd compresses frame bodies as zstd frames
	// (github.com/klauspost/compress/zstd): smallest output.
	CompressionZstd
)

// compressions lists the algorithms a node accepts, in the order of its
// protocol IDs.
var compressions = [...]Compression{CompressionSnappy, CompressionZstd}

// String returns the name used in config and in protocol IDs.
func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionSnappy:
		return "snappy"
	case CompressionZstd:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", uint8(c))
}

// ParseCompression parses a compression name: "none" (or empty), "snappy"
// or "zstd".
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "", "none":
		return CompressionNone, nil
	case "snappy":
		return CompressionSnappy, nil
	case "zstd":
		return CompressionZstd, nil
	}
	return CompressionNone, fmt.Errorf("invalid value %q: want none, snappy or zstd", s)
}

// CompressedProtocol returns the protocol ID of base whose frames use c:
// base itself for CompressionNone, else base + "/" + c ("/murmur/push/1.0.0/zstd").
func CompressedProtocol(base p2pprotocol.ID, c Compression) p2pprotocol.ID {
	if c == CompressionNone {
		return base
	}
	return base + p2pprotocol.ID("/"+c.String())
}

// Frame body methods on a compressed stream.
const (
	methodStored     = 0 // the rest is the Envelope
	methodCompressed = 1 // uvarint(envelope size), then the compressed Envelope
)

// compressedOverhead is the most a compressed stream's frame body may
// exceed max_message_size by: the method byte and a uvarint size.
const compressedOverhead = 1 + binary.MaxVarintLen64

// wireProto is what a negotiated protocol ID stands for.
type wireProto struct {
	base  p2pprotocol.ID
	codec Compression
}

// codecs holds the compressors of a Transport. zstd's encoder and decoder
// are safe for concurrent EncodeAll and DecodeAll (up to GOMAXPROCS at a
// time). The encoder runs at zstd's fastest level: on murmur's frames it
// compresses about as well as the default level at under half the CPU
// (docs/benchmarks.md, "Frame compression").
type codecs struct {
	max       int // decompressed size limit: Limits.MaxMessageSize
	threshold int
	zenc      *zstd.Encoder
	zdec      *zstd.Decoder
}

func newCodecs(maxSize, threshold int) (*codecs, error) {
	zenc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return nil, fmt.Errorf("protocol: zstd encoder: %w", err)
	}
	zdec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(uint64(maxSize)),
		zstd.WithDecodeAllCapLimit(true), zstd.WithDecoderMaxWindow(uint64(max(maxSize, zstd.MinWindowSize))))
	if err != nil {
		return nil, fmt.Errorf("protocol: zstd decoder: %w", err)
	}
	return &codecs{max: maxSize, threshold: threshold, zenc: zenc, zdec: zdec}, nil
}

func (k *codecs) close() {
	k.zdec.Close()
	_ = k.zenc.Close()
}

// compressFrame turns a plain frame (length prefix and Envelope) into the
// frame of a stream using c: the Envelope compressed when it is at least
// the threshold and compression makes it smaller (compressed is then
// true), else stored.
func (k *codecs) compressFrame(c Compression, frame []byte) (wire []byte, compressed bool) {
	if c == CompressionNone {
		return frame, false
	}
	_, n, err := varint.FromUvarint(frame)
	if err != nil {
		return frame, false // cannot happen: MarshalFrame wrote the prefix
	}
	env := frame[n:]
	if len(env) >= k.threshold {
		hdr := binary.AppendUvarint([]byte{methodCompressed}, uint64(len(env)))
		var body []byte
		switch c {
		case CompressionSnappy:
			body = append(hdr, s2.EncodeSnappy(make([]byte, s2.MaxEncodedLen(len(env))), env)...)
		case CompressionZstd:
			body = k.zenc.EncodeAll(env, hdr)
		}
		if len(body) < len(env) {
			return AppendFrame(make([]byte, 0, varint.UvarintSize(uint64(len(body)))+len(body)), body), true
		}
	}
	out := make([]byte, 0, varint.UvarintSize(uint64(len(env)+1))+len(env)+1)
	out = append(out, varint.ToUvarint(uint64(len(env)+1))...)
	return append(append(out, methodStored), env...), false
}

// decompress returns the Envelope of a frame body read from a stream using
// c. The declared size is checked against the limit before anything is
// allocated, and the output may not exceed it: a body that claims more, or
// decompresses to other than it claims, is malformed (a decompression bomb
// is the peer's fault, never an allocation).
func (k *codecs) decompress(c Compression, body []byte) ([]byte, error) {
	if c == CompressionNone {
		return body, nil
	}
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty frame on a %s stream", ErrMalformedFrame, c)
	}
	switch body[0] {
	case methodStored:
		if len(body)-1 > k.max {
			return nil, fmt.Errorf("%w: stored envelope of %d bytes, limit %d", ErrMessageTooLarge, len(body)-1, k.max)
		}
		return body[1:], nil
	case methodCompressed:
	default:
		return nil, fmt.Errorf("%w: unknown frame method %d on a %s stream", ErrMalformedFrame, body[0], c)
	}
	size, n := binary.Uvarint(body[1:])
	if n <= 0 {
		return nil, fmt.Errorf("%w: bad decompressed size on a %s stream", ErrMalformedFrame, c)
	}
	if size > uint64(k.max) {
		return nil, fmt.Errorf("%w: %s frame claims %d decompressed bytes, limit %d", ErrMessageTooLarge, c, size, k.max)
	}
	src := body[1+n:]
	var out []byte
	var err error
	switch c {
	case CompressionSnappy:
		var dl int
		if dl, err = s2.DecodedLen(src); err == nil && dl != int(size) {
			return nil, fmt.Errorf("%w: snappy block of %d bytes in a frame that claims %d", ErrMalformedFrame, dl, size)
		}
		if err == nil {
			out, err = s2.Decode(make([]byte, size), src)
		}
	case CompressionZstd:
		out, err = k.zdec.DecodeAll(src, make([]byte, 0, size))
	default:
		return nil, fmt.Errorf("%w: compression %s", ErrMalformedFrame, c)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrMalformedFrame, c, err)
	}
	if len(out) != int(size) {
		return nil, fmt.Errorf("%w: %s frame decompressed to %d bytes, claimed %d", ErrMalformedFrame, c, len(out), size)
	}
	return out, nil
}

// compressionCounters count, per protocol, what compression did.
type compressionCounters struct {
	wireSent, wireRecv             atomic.Uint64
	compressedSent, compressedRecv atomic.Uint64
}

// CompressionStats are the compression counters of one protocol.
// ProtocolStats.BytesSent and BytesReceived count frames as they would be
// uncompressed; these count what went over the stream.
type CompressionStats struct {
	// WireBytesSent and WireBytesReceived count frame bytes on the
	// streams, after compression (equal to BytesSent and BytesReceived
	// when nothing was compressed).
	WireBytesSent, WireBytesReceived uint64
	// FramesCompressedSent and FramesCompressedReceived count frames sent
	// or received compressed.
	FramesCompressedSent, FramesCompressedReceived uint64
}

func (c *compressionCounters) snapshot() CompressionStats {
	return CompressionStats{
		WireBytesSent:            c.wireSent.Load(),
		WireBytesReceived:        c.wireRecv.Load(),
		FramesCompressedSent:     c.compressedSent.Load(),
		FramesCompressedReceived: c.compressedRecv.Load(),
	}
}

// wireProtocols returns the protocol IDs a Transport serves: every base
// protocol, and unless it compresses nothing, each base with every
// compression murmur implements (a node accepts them all, whatever it
// sends).
func wireProtocols(bases []p2pprotocol.ID, c Compression) map[p2pprotocol.ID]wireProto {
	out := make(map[p2pprotocol.ID]wireProto, len(bases)*(1+len(compressions)))
	for _, b := range bases {
		out[b] = wireProto{b, CompressionNone}
		if c == CompressionNone {
			continue
		}
		for _, k := range compressions {
			out[CompressedProtocol(b, k)] = wireProto{b, k}
		}
	}
	return out
}

// offers returns the protocol IDs a sender proposes for base, preferred
// first: its compressed variant, then base.
func offers(base p2pprotocol.ID, c Compression) []p2pprotocol.ID {
	if c == CompressionNone {
		return []p2pprotocol.ID{base}
	}
	return []p2pprotocol.ID{CompressedProtocol(base, c), base}
}

// sent counts a frame of n bytes written to a stream.
func (c *compressionCounters) sent(n int, compressed bool) {
	c.wireSent.Add(uint64(n))
	if compressed {
		c.compressedSent.Add(1)
	}
}

// frameLimit is the largest frame body a stream using c may carry.
func (t *Transport) frameLimit(c Compression) int {
	if c == CompressionNone {
		return t.cfg.Limits.MaxMessageSize
	}
	return t.cfg.Limits.MaxMessageSize + compressedOverhead
}

// inflate counts a frame body read from a stream using c and returns its
// Envelope.
func (t *Transport) inflate(c Compression, pc *protoCounters, body []byte) ([]byte, error) {
	pc.comp.wireRecv.Add(uint64(frameSize(len(body))))
	if c == CompressionNone {
		return body, nil
	}
	env, err := t.codecs.decompress(c, body)
	if err == nil && body[0] == methodCompressed {
		pc.comp.compressedRecv.Add(1)
	}
	return env, err
}
