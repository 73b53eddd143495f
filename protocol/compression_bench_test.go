package protocol

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/multiformats/go-varint"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// benchPush is a Push of 100 signed-looking events whose values are JSON
// documents (compressible) or random bytes (not), about 200 bytes each: a
// full dissemination frame.
func benchPush(kind string) *replica.Push {
	rng := rand.New(rand.NewPCG(7, 7))
	p := &replica.Push{Nonce: 1, Hops: 1}
	origin := make([]byte, 38)
	for i := range origin {
		origin[i] = byte(rng.Uint32())
	}
	for i := 0; i < 100; i++ {
		var value []byte
		switch kind {
		case "json":
			value = fmt.Appendf(nil, `{"id":%d,"user":"user-%d","email":"user-%d@example.com","tags":["a","b"],"score":%d,"active":true,"updated":"2026-11-30T01:%02d:00Z"}`,
				i, rng.IntN(1000), rng.IntN(1000), rng.IntN(1e6), i%60)
		case "random":
			value = make([]byte, 200)
			for j := range value {
				value[j] = byte(rng.Uint32())
			}
		}
		sig := make([]byte, 64) // an Ed25519 signature: random to a compressor
		for j := range sig {
			sig[j] = byte(rng.Uint32())
		}
		p.Events = append(p.Events, &replica.Event{Origin: replica.PeerID(origin), Seq: uint64(i + 1),
			Time: replica.Timestamp{Wall: 1_800_000_000_000 + int64(i)}, Op: replica.OpPut,
			Key: fmt.Sprintf("users/%d", i), Value: value, Signature: sig})
	}
	return p
}

// BenchmarkCompression compresses and decompresses a Push frame of JSON
// values and one of random values with each algorithm, reporting the wire
// size as a share of the plain frame (ratio) and the CPU per frame.
func BenchmarkCompression(b *testing.B) {
	k, err := newCodecs(1<<20, DefaultConfig().CompressionThreshold)
	if err != nil {
		b.Fatal(err)
	}
	defer k.close()
	for _, kind := range []string{"json", "random"} {
		frame, err := MarshalFrame(benchPush(kind), 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range []Compression{CompressionSnappy, CompressionZstd} {
			wire, _ := k.compressFrame(c, frame)
			ratio := float64(len(wire)) / float64(len(frame))
			b.Run(fmt.Sprintf("%s/%s/compress", kind, c), func(b *testing.B) {
				b.SetBytes(int64(len(frame)))
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					k.compressFrame(c, frame)
				}
				b.ReportMetric(ratio, "ratio")
				b.ReportMetric(float64(len(frame)), "plain-bytes")
				b.ReportMetric(float64(len(wire)), "wire-bytes")
			})
			_, m, _ := varint.FromUvarint(wire)
			body := wire[m:]
			_, n, _ := varint.FromUvarint(frame)
			b.Run(fmt.Sprintf("%s/%s/decompress", kind, c), func(b *testing.B) {
				b.SetBytes(int64(len(frame)))
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					env, err := k.decompress(c, body)
					if err != nil || !bytes.Equal(env, frame[n:]) {
						b.Fatalf("decompress: %v", err)
					}
				}
			})
		}
	}
}
