package protocol

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFrameReaderReadsFramesInOrder(t *testing.T) {
	bodies := [][]byte{{}, []byte("a"), bytes.Repeat([]byte("b"), 300), bytes.Repeat([]byte("c"), reuseLimit+1), []byte("d")}
	var stream []byte
	for _, b := range bodies {
		stream = AppendFrame(stream, b)
	}
	fr := NewFrameReader(bytes.NewReader(stream), reuseLimit+1)
	for i, want := range bodies {
		if err := fr.Wait(); err != nil {
			t.Fatalf("wait for frame %d: %v", i, err)
		}
		got, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d: %d bytes, want %d", i, len(got), len(want))
		}
	}
	if err := fr.Wait(); err != io.EOF {
		t.Fatalf("after the last frame: Wait %v, want io.EOF", err)
	}
	if _, err := fr.ReadFrame(); err != io.EOF {
		t.Fatalf("after the last frame: ReadFrame %v, want io.EOF", err)
	}
}

// prefixOnly yields its bytes and then fails the test if read further: a
// reader that refuses an oversize frame must not touch the body.
type prefixOnly struct {
	t *testing.T
	b []byte
}

func (p *prefixOnly) Read(b []byte) (int, error) {
	if len(p.b) == 0 {
		p.t.Fatal("frame reader read past an oversize length prefix")
	}
	n := copy(b, p.b)
	p.b = p.b[n:]
	return n, nil
}

func TestFrameReaderRefusesOversizeBeforeReading(t *testing.T) {
	for _, n := range []uint64{1025, 1 << 40, 1<<63 - 1} {
		prefix := appendUvarint(nil, n)
		fr := NewFrameReader(&prefixOnly{t: t, b: prefix}, 1024)
		if _, err := fr.ReadFrame(); !errors.Is(err, ErrMessageTooLarge) {
			t.Fatalf("length %d: got %v, want ErrMessageTooLarge", n, err)
		}
	}
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func TestFrameReaderRejectsMalformed(t *testing.T) {
	cases := []struct {
		name string
		data []byte
	}{
		{"non-minimal prefix", []byte{0x81, 0x00, 'x'}},
		{"prefix over 9 bytes", bytes.Repeat([]byte{0xff}, 10)},
		{"prefix cut short", []byte{0x81}},
		{"body cut short", append(appendUvarint(nil, 10), "short"...)},
	}
	for _, c := range cases {
		fr := NewFrameReader(bytes.NewReader(c.data), 1<<20)
		if _, err := fr.ReadFrame(); !errors.Is(err, ErrMalformedFrame) {
			t.Errorf("%s: got %v, want ErrMalformedFrame", c.name, err)
		}
	}
}

// errReader fails with err after its bytes.
type errReader struct {
	b   []byte
	err error
}

func (r *errReader) Read(b []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, r.err
	}
	n := copy(b, r.b)
	r.b = r.b[n:]
	return n, nil
}

// A stream error inside a frame is passed on (the transport classifies a
// deadline there as a stall), not disguised as a malformed frame.
func TestFrameReaderPassesStreamErrors(t *testing.T) {
	boom := errors.New("stream reset")
	fr := NewFrameReader(&errReader{b: append(appendUvarint(nil, 10), "abc"...), err: boom}, 1024)
	_, err := fr.ReadFrame()
	if !errors.Is(err, boom) || errors.Is(err, ErrMalformedFrame) {
		t.Fatalf("got %v, want the stream's error", err)
	}
}
