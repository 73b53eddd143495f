package protocol

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/multiformats/go-varint"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// jsonValue is a compressible, realistic value: a JSON document.
func jsonValue(i int) []byte {
	return fmt.Appendf(nil, `{"id":%d,"name":"user-%d","email":"user-%d@example.com","roles":["reader","writer"],"active":true,"created":"2026-11-30T00:00:00Z"}`, i, i, i)
}

func newTestCodecs(t testing.TB, max int) *codecs {
	k, err := newCodecs(max, 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.close)
	return k
}

func TestCompressFrameRoundTrip(t *testing.T) {
	k := newTestCodecs(t, 1<<20)
	rng := rand.New(rand.NewPCG(1, 1))
	random := make([]byte, 4000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	var doc []byte
	for i := 0; i < 30; i++ {
		doc = append(doc, jsonValue(i)...)
	}
	for _, c := range []Compression{CompressionSnappy, CompressionZstd} {
		for _, tc := range []struct {
			name           string
			env            []byte
			wantCompressed bool
		}{
			{"small", []byte("tiny envelope"), false},
			{"json", doc, true},
			{"random", random, false},
		} {
			t.Run(c.String()+"/"+tc.name, func(t *testing.T) {
				frame := AppendFrame(nil, tc.env)
				wire, compressed := k.compressFrame(c, frame)
				if compressed != tc.wantCompressed {
					t.Fatalf("compressed = %v, want %v", compressed, tc.wantCompressed)
				}
				if compressed && len(wire) >= len(frame) {
					t.Fatalf("compressed frame of %d bytes for %d plain", len(wire), len(frame))
				}
				n, m, err := varint.FromUvarint(wire)
				if err != nil || int(n) != len(wire)-m {
					t.Fatalf("bad length prefix %d (%v) for %d bytes", n, err, len(wire)-m)
				}
				env, err := k.decompress(c, wire[m:])
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(env, tc.env) {
					t.Fatal("envelope changed in the round trip")
				}
			})
		}
	}
	if wire, compressed := k.compressFrame(CompressionNone, AppendFrame(nil, doc)); compressed || !bytes.Equal(wire, AppendFrame(nil, doc)) {
		t.Fatal("CompressionNone changed the frame")
	}
}

// TestDecompressionBombs checks that frames claiming or producing more
// than the limit are refused before allocating the output, as faults.
func TestDecompressionBombs(t *testing.T) {
	const max = 4096
	k := newTestCodecs(t, max)
	big := bytes.Repeat([]byte{'a'}, 1<<20) // compresses to a few hundred bytes
	zenc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zenc.Close()
	hdr := func(size uint64) []byte { return binary.AppendUvarint([]byte{methodCompressed}, size) }
	for _, tc := range []struct {
		name string
		c    Compression
		body []byte
		want error
	}{
		{"zstd claims too much", CompressionZstd, zenc.EncodeAll(big, hdr(1<<20)), ErrMessageTooLarge},
		{"zstd lies about its size", CompressionZstd, zenc.EncodeAll(big, hdr(100)), ErrMalformedFrame},
		{"zstd shorter than claimed", CompressionZstd, zenc.EncodeAll([]byte("abc"), hdr(100)), ErrMalformedFrame},
		{"snappy claims too much", CompressionSnappy, append(hdr(1<<40), s2.EncodeSnappy(nil, big)...), ErrMessageTooLarge},
		{"snappy lies about its size", CompressionSnappy, append(hdr(100), s2.EncodeSnappy(nil, big)...), ErrMalformedFrame},
		{"garbage", CompressionZstd, append(hdr(10), "not zstd"...), ErrMalformedFrame},
		{"unknown method", CompressionSnappy, []byte{7, 1, 2}, ErrMalformedFrame},
		{"empty", CompressionSnappy, nil, ErrMalformedFrame},
		{"bad size", CompressionSnappy, []byte{methodCompressed, 0x80}, ErrMalformedFrame},
		{"stored too large", CompressionZstd, append([]byte{methodStored}, make([]byte, max+1)...), ErrMessageTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := k.decompress(tc.c, tc.body)
			if !errors.Is(err, tc.want) {
				t.Fatalf("decompress: %v (%d bytes out), want %v", err, len(out), tc.want)
			}
			if classify(err, true) == 0 {
				t.Fatalf("%v is not a fault", err)
			}
		})
	}
}

// FuzzDecompress feeds arbitrary frame bodies to both decompressors: they
// fail only with the frame sentinels, never return more than the limit,
// and what they return has the size the frame claims.
func FuzzDecompress(f *testing.F) {
	k := newTestCodecs(f, 4096)
	for _, c := range []Compression{CompressionSnappy, CompressionZstd} {
		wire, _ := k.compressFrame(c, AppendFrame(nil, bytes.Repeat(jsonValue(1), 8)))
		_, m, _ := varint.FromUvarint(wire)
		f.Add(uint8(c), wire[m:])
	}
	f.Add(uint8(CompressionZstd), []byte{methodStored, 1, 2, 3})
	f.Fuzz(func(t *testing.T, c uint8, body []byte) {
		codec := compressions[int(c)%len(compressions)]
		out, err := k.decompress(codec, body)
		if err != nil {
			if !errors.Is(err, ErrMalformedFrame) && !errors.Is(err, ErrMessageTooLarge) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if len(out) > 4096 {
			t.Fatalf("%d bytes out, limit 4096", len(out))
		}
		if body[0] == methodCompressed {
			if size, _ := binary.Uvarint(body[1:]); size != uint64(len(out)) {
				t.Fatalf("%d bytes out, frame claims %d", len(out), size)
			}
		}
	})
}

// pushOf makes a push of n events with JSON values: a compressible frame.
func pushOf(from *node, n int) *replica.Push {
	p := &replica.Push{Nonce: 1, Hops: 1}
	for i := 0; i < n; i++ {
		p.Events = append(p.Events, &replica.Event{Origin: replica.PeerID(from.h.ID()), Seq: uint64(i + 1), Op: replica.OpPut,
			Key: fmt.Sprintf("users/%d", i), Value: jsonValue(i), Signature: bytes.Repeat([]byte{byte(i)}, 64)})
	}
	return p
}

// TestCompressionNegotiation sends between nodes of every pair of
// settings: messages always arrive intact; they are compressed exactly
// when the sender compresses and the receiver accepts compression (a
// receiver with "none" serves only the plain protocol IDs, as a node
// without compression support does), with the sender's algorithm.
func TestCompressionNegotiation(t *testing.T) {
	settings := []Compression{CompressionNone, CompressionSnappy, CompressionZstd}
	nodes := map[Compression]*node{}
	for _, c := range settings {
		nodes[c] = newNode(t, Config{Compression: c})
	}
	for _, a := range settings {
		for _, b := range settings {
			if a != b {
				connect(t, nodes[a].h, nodes[b].h)
			}
		}
	}
	for _, from := range settings {
		for _, to := range settings {
			if from == to {
				continue
			}
			t.Run(from.String()+"->"+to.String(), func(t *testing.T) {
				a, b := nodes[from], nodes[to]
				before, beforeB := a.t.Stats()[PushProtocol], b.t.Stats()[PushProtocol]
				sent := pushOf(a, 20)
				if err := a.t.Send(msg(a, b, sent)); err != nil {
					t.Fatal(err)
				}
				if got := b.in.next(t).Body; !reflect.DeepEqual(got, sent) {
					t.Fatal("push arrived changed")
				}
				after, afterB := a.t.Stats()[PushProtocol], b.t.Stats()[PushProtocol]
				raw := after.BytesSent - before.BytesSent
				wire := after.Compression.WireBytesSent - before.Compression.WireBytesSent
				compressed := after.Compression.FramesCompressedSent - before.Compression.FramesCompressedSent
				wantCompressed := from != CompressionNone && to != CompressionNone
				if (compressed == 1) != wantCompressed {
					t.Fatalf("%d frames compressed, want compression %v", compressed, wantCompressed)
				}
				if wantCompressed && wire*2 > raw {
					t.Fatalf("compressed %d bytes to %d: less than half expected for JSON", raw, wire)
				}
				if !wantCompressed && wire != raw {
					t.Fatalf("uncompressed frame: %d bytes on the wire, %d raw", wire, raw)
				}
				if got := afterB.Compression.WireBytesReceived - beforeB.Compression.WireBytesReceived; got != wire {
					t.Fatalf("receiver read %d wire bytes, sender wrote %d", got, wire)
				}
				if got := afterB.BytesReceived - beforeB.BytesReceived; got != raw {
					t.Fatalf("receiver counts %d raw bytes, sender %d", got, raw)
				}
				t.Logf("%s -> %s: %d bytes, %d on the wire", from, to, raw, wire)
			})
		}
	}
	// The negotiated protocol is the sender's algorithm.
	want := CompressedProtocol(PushProtocol, CompressionZstd)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := nodes[CompressionSnappy].h.NewStream(ctx, nodes[CompressionZstd].h.ID(), offers(PushProtocol, CompressionZstd)...)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Reset()
	if s.Protocol() != want {
		t.Fatalf("negotiated %s, want %s", s.Protocol(), want)
	}
}

// TestDecompressionBombIsAFault sends a frame that claims a decompressed
// size over the limit on a compressed stream: the stream is reset and the
// fault counted; nothing is delivered.
func TestDecompressionBombIsAFault(t *testing.T) {
	faults := make(chan Fault, 4)
	victim := newNode(t, Config{Compression: CompressionZstd, Limits: Limits{MaxMessageSize: 1 << 16}, OnFault: func(f Fault) { faults <- f }})
	bad := newHost(t)
	connect(t, bad, victim.h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := bad.NewStream(ctx, victim.h.ID(), CompressedProtocol(PushProtocol, CompressionZstd))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Reset()
	zenc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zenc.Close()
	body := zenc.EncodeAll(make([]byte, 64<<20), binary.AppendUvarint([]byte{methodCompressed}, 64<<20))
	if _, err := s.Write(AppendFrame(nil, body)); err != nil {
		t.Fatal(err)
	}
	select {
	case f := <-faults:
		if f.Kind != FaultOversize || f.Peer != bad.ID() {
			t.Fatalf("fault %v of %s, want oversize of the sender", f.Kind, f.Peer)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no fault reported for a decompression bomb")
	}
	if n := victim.t.PeerFaults(bad.ID()); n.Oversize != 1 {
		t.Fatalf("faults counted: %+v", n)
	}
	select {
	case m := <-victim.in.ch:
		t.Fatalf("delivered %T from a bomb", m.Body)
	default:
	}
}

func TestParseCompression(t *testing.T) {
	for s, want := range map[string]Compression{"": CompressionNone, "none": CompressionNone, "snappy": CompressionSnappy, "zstd": CompressionZstd} {
		if got, err := ParseCompression(s); err != nil || got != want {
			t.Fatalf("ParseCompression(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseCompression("gzip"); err == nil {
		t.Fatal("gzip accepted")
	}
}
