package pebblestore

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/sync"
	"github.com/murmur-p2p/murmur/sync/snapshot"
)

// benchOrigin is as long as a libp2p Ed25519 peer ID (38 bytes).
var benchOrigin = sync.PeerID(bytes.Repeat([]byte{'p'}, 38))

// BenchmarkApply measures store write throughput: synced batches of 1 and
// 64 put events (100-byte values, 64-byte signatures), each with its key
// state, version vector and clock, as the engine writes them.
func BenchmarkApply(b *testing.B) {
	for _, size := range []int{1, 64} {
		b.Run(fmt.Sprintf("events=%d", size), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{})
			must(b, err)
			defer s.Close()
			w := newWriter(string(benchOrigin))
			batches := make([]*sync.Batch, b.N)
			for i := range batches {
				parts := make([]*sync.Batch, size)
				for j := range parts {
					parts[j] = w.put(fmt.Sprintf("key/%d/%d", i, j), bytes.Repeat([]byte{'v'}, 100))
					parts[j].Events[0].Signature = bytes.Repeat([]byte{'s'}, 64)
				}
				batches[i] = merge(parts...)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for _, bt := range batches {
				must(b, s.Apply(bt))
			}
			b.ReportMetric(float64(b.N*size)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// fillKeys writes n key states (16-byte keys, 100-byte values, one version
// each) in large synced batches.
func fillKeys(b *testing.B, s *Store, n int) {
	const per = 10_000
	val := bytes.Repeat([]byte{'v'}, 100)
	for i := 0; i < n; i += per {
		batch := &sync.Batch{}
		for j := i; j < min(n, i+per); j++ {
			ks := &sync.KeyState{Key: fmt.Sprintf("key/%012d", j), Context: sync.VersionVector{benchOrigin: uint64(j + 1)}}
			ks.Versions = []sync.Version{{Origin: benchOrigin, Seq: uint64(j + 1), Time: sync.Timestamp{Wall: int64(j)}, Op: sync.OpPut, Value: val, Event: sync.EventID{byte(j), byte(j >> 8), byte(j >> 16)}}}
			batch.Keys = append(batch.Keys, ks)
		}
		must(b, s.Apply(batch))
	}
}

// BenchmarkSnapshot1M streams the state of a store of 1,000,000 keys into
// an empty store: chunks of at most 1 MiB read, encoded, decoded, checked
// and applied. It reports the bytes on the wire and the stream's time;
// filling the source store is not timed. Run with -benchtime 1x.
func BenchmarkSnapshot1M(b *testing.B) {
	const n = 1_000_000
	src, err := Open(b.TempDir(), Options{})
	must(b, err)
	defer src.Close()
	fillKeys(b, src, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dst, err := Open(b.TempDir(), Options{})
		must(b, err)
		b.StartTimer()
		chunks, size := streamSnapshot(b, src, dst, snapshot.Config{})
		b.StopTimer()
		if dst.MerkleTree().Root() != src.MerkleTree().Root() {
			b.Fatal("roots differ after the snapshot")
		}
		must(b, dst.Close())
		b.ReportMetric(float64(size)/1e6, "MB")
		b.ReportMetric(float64(chunks), "chunks")
		b.ReportMetric(float64(size)/n, "B/key")
		b.StartTimer()
	}
}

// BenchmarkSnapshotSend1M measures the sending side alone: reading and
// encoding every chunk of a 1,000,000-key store. Run with -benchtime 1x.
func BenchmarkSnapshotSend1M(b *testing.B) {
	const n = 1_000_000
	src, err := Open(b.TempDir(), Options{})
	must(b, err)
	defer src.Close()
	fillKeys(b, src, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cur, prog := snapshot.Cursor{}, snapshot.Progress{}
		size := 0
		for {
			c, err := snapshot.Next(src.SnapshotSource(), cur, prog, n, snapshot.Config{})
			must(b, err)
			enc, _ := c.MarshalBinary()
			size += len(enc)
			cur, prog = c.Next(), c.Progress
			if c.Last {
				break
			}
		}
		b.ReportMetric(float64(size)/1e6, "MB")
	}
}
