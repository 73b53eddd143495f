package protocol

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/multiformats/go-varint"
	"google.golang.org/protobuf/proto"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// A frame is an unsigned varint length prefix (minimally encoded, at most
// 9 bytes, as in the multiformats unsigned-varint spec) followed by that
// many bytes: one protobuf Envelope.

// AppendFrame appends body as one frame (length prefix and bytes) to dst.
func AppendFrame(dst, body []byte) []byte {
	dst = append(dst, varint.ToUvarint(uint64(len(body)))...)
	return append(dst, body...)
}

// MarshalFrame encodes a message body as one complete frame (length prefix
// and Envelope) in a single buffer. It fails with ErrMessageTooLarge when
// the Envelope exceeds maxSize bytes, the limit the receiver applies.
func MarshalFrame(b replica.Body, maxSize int) ([]byte, error) {
	env, err := ToProto(b)
	if err != nil {
		return nil, err
	}
	size := proto.Size(env)
	if size > maxSize {
		return nil, fmt.Errorf("%w: %s of %d bytes, limit %d", ErrMessageTooLarge, b.Type(), size, maxSize)
	}
	buf := make([]byte, 0, varint.UvarintSize(uint64(size))+size)
	buf = append(buf, varint.ToUvarint(uint64(size))...)
	buf, err = proto.MarshalOptions{}.MarshalAppend(buf, env)
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", b.Type(), err)
	}
	return buf, nil
}

// reuseLimit is the largest frame buffer a FrameReader keeps between
// frames; larger frames get a buffer of their own, so one big message does
// not pin a megabyte per idle stream.
const reuseLimit = 64 << 10

// FrameReader reads frames from a stream, refusing any whose length prefix
// exceeds the size limit before reading or allocating its body.
type FrameReader struct {
	br  *bufio.Reader
	max int
	buf []byte
}

// NewFrameReader reads frames of at most maxSize body bytes from r.
func NewFrameReader(r io.Reader, maxSize int) *FrameReader {
	return &FrameReader{br: bufio.NewReaderSize(r, 4096), max: maxSize}
}

// Wait blocks until the first byte of the next frame is available, without
// consuming it. It returns io.EOF when the stream ended cleanly between
// frames; other errors come from the stream (a deadline, a reset). The
// transport waits under the idle timeout and reads the frame itself under
// the per-frame deadline.
func (fr *FrameReader) Wait() error {
	_, err := fr.br.Peek(1)
	return err
}

// ReadFrame reads one frame and returns its body, which stays valid until
// the next call. It returns io.EOF when the stream ended cleanly before the
// frame; ErrMessageTooLarge when the length prefix exceeds the limit (the
// body is not read); ErrMalformedFrame for a bad length prefix or a stream
// that ends inside the frame; and the stream's own error (a deadline, a
// reset) wrapped with how far the frame had got.
func (fr *FrameReader) ReadFrame() ([]byte, error) {
	n, err := varint.ReadUvarint(fr.br)
	switch {
	case err == io.EOF:
		return nil, io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, varint.ErrOverflow), errors.Is(err, varint.ErrNotMinimal):
		return nil, fmt.Errorf("%w: length prefix: %w", ErrMalformedFrame, err)
	case err != nil:
		return nil, fmt.Errorf("read length prefix: %w", err)
	case n > uint64(fr.max):
		return nil, fmt.Errorf("%w: length prefix %d, limit %d", ErrMessageTooLarge, n, fr.max)
	}
	var body []byte
	if n <= reuseLimit {
		if cap(fr.buf) < int(n) {
			// Grow geometrically up to reuseLimit: small frames keep
			// small buffers on the many idle streams of a node.
			fr.buf = make([]byte, min(max(int(n), 2*cap(fr.buf)), reuseLimit))
		}
		body = fr.buf[:n]
	} else {
		body = make([]byte, n)
	}
	got, err := io.ReadFull(fr.br, body)
	switch {
	case err == nil:
		return body, nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, fmt.Errorf("%w: stream ended after %d of %d body bytes", ErrMalformedFrame, got, n)
	}
	return nil, fmt.Errorf("read frame body after %d of %d bytes: %w", got, n, err)
}
