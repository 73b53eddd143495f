package pebblestore

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/storetest"
)

// BenchmarkWriteCPU measures the CPU of Apply without the disk (an
// in-memory file system, so a sync costs nothing): batches of 1 and 64 put
// events, with the default coded sketch and with none (SketchSymbols -1),
// to show what persisting the sketch symbol by symbol costs per write.
func BenchmarkWriteCPU(b *testing.B) {
	for _, sketch := range []int{0, -1} {
		for _, size := range []int{1, 64} {
			b.Run(fmt.Sprintf("sketch=%d/events=%d", sketch, size), func(b *testing.B) {
				s, err := Open("store", Options{FS: vfs.NewMem(), SketchSymbols: sketch})
				must(b, err)
				defer s.Close()
				w := storetest.NewWriter(string(benchOrigin))
				batches := make([]*replica.Batch, b.N)
				for i := range batches {
					parts := make([]*replica.Batch, size)
					for j := range parts {
						parts[j] = w.Put(fmt.Sprintf("key/%d/%d", i, j), bytes.Repeat([]byte{'v'}, 100))
						parts[j].Events[0].Signature = bytes.Repeat([]byte{'s'}, 64)
					}
					batches[i] = storetest.Merge(parts...)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for _, bt := range batches {
					must(b, s.Apply(bt))
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N*size), "µs/event")
			})
		}
	}
}
