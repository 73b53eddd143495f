package pebblestore

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/storetest"
)

// benchOrigin is as long as a libp2p Ed25519 peer ID (38 bytes).
var benchOrigin = replica.PeerID(bytes.Repeat([]byte{'p'}, 38))

// putBatches returns n batches of size put events each (100-byte values,
// 64-byte signatures), as the engine writes them.
func putBatches(n, size int) []*replica.Batch {
	w := storetest.NewWriter(string(benchOrigin))
	batches := make([]*replica.Batch, n)
	for i := range batches {
		parts := make([]*replica.Batch, size)
		for j := range parts {
			parts[j] = w.Put(fmt.Sprintf("key/%d/%d", i, j), bytes.Repeat([]byte{'v'}, 100))
			parts[j].Events[0].Signature = bytes.Repeat([]byte{'s'}, 64)
		}
		batches[i] = storetest.Merge(parts...)
	}
	return batches
}

// BenchmarkApply measures store write throughput: synced batches of 1 and
// 64 put events (100-byte values, 64-byte signatures), each with its key
// state, version vector and clock, as the engine writes them.
func BenchmarkApply(b *testing.B) {
	for _, size := range []int{1, 64} {
		b.Run(fmt.Sprintf("events=%d", size), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{})
			must(b, err)
			defer s.Close()
			batches := putBatches(b.N, size)
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
