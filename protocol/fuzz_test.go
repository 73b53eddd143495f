package protocol

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// fuzzLimits are small so the fuzzer reaches the limit checks.
var fuzzLimits = Limits{MaxMessageSize: 4096, MaxEventsPerMessage: 4, MaxIDsPerMessage: 8, MaxRangesPerMessage: 4, MaxVectorEntries: 8}

// isDecodeError reports whether err is one of the errors decoding may
// return for bad input.
func isDecodeError(err error) bool {
	for _, s := range []error{ErrMalformedFrame, ErrMessageTooLarge, ErrUnknownMessage, ErrInvalidMessage} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzFrameReader feeds arbitrary bytes to the frame reader: it never
// returns a frame over the limit, fails only with the frame sentinels or
// io.EOF, and the frames it returns re-encode to exactly the bytes it
// consumed.
func FuzzFrameReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 1024
		fr := NewFrameReader(bytes.NewReader(data), max)
		var again []byte
		for {
			if err := fr.Wait(); err != nil {
				if err != io.EOF {
					t.Fatalf("wait: %v", err)
				}
				if !bytes.Equal(again, data) {
					t.Fatalf("frames re-encode to %x, input was %x", again, data)
				}
				return
			}
			body, err := fr.ReadFrame()
			if err != nil {
				if !errors.Is(err, ErrMalformedFrame) && !errors.Is(err, ErrMessageTooLarge) {
					t.Fatalf("unexpected error: %v", err)
				}
				if !bytes.HasPrefix(data, again) {
					t.Fatalf("consumed frames %x are not a prefix of the input", again)
				}
				return
			}
			if len(body) > max {
				t.Fatalf("frame of %d bytes over the limit %d", len(body), max)
			}
			again = AppendFrame(again, body)
			if b, err := Unmarshal(body, fuzzLimits); err != nil && !isDecodeError(err) {
				t.Fatalf("decode frame: unexpected error %v", err)
			} else if err == nil && b == nil {
				t.Fatal("decode frame: nil body without error")
			}
		}
	})
}

// FuzzUnmarshal feeds arbitrary bytes to envelope decoding and conversion:
// it fails only with the decode sentinels, and whatever it accepts
// re-encodes and decodes to the same message.
func FuzzUnmarshal(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		body, err := Unmarshal(data, fuzzLimits)
		if err != nil {
			if !isDecodeError(err) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if _, err := ProtocolFor(body.Type()); err != nil {
			t.Fatalf("decoded a %s no protocol carries", body.Type())
		}
		again, err := Marshal(body)
		if err != nil {
			t.Fatalf("re-encode %s: %v", body.Type(), err)
		}
		body2, err := Unmarshal(again, fuzzLimits)
		if err != nil {
			t.Fatalf("decode re-encoded %s: %v", body.Type(), err)
		}
		if !reflect.DeepEqual(body, body2) {
			t.Fatalf("%s changed on re-encoding:\n%#v\n%#v", body.Type(), body, body2)
		}
	})
}
