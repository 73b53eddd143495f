package pebblestore

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
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
				batches := putBatches(b.N, size)
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
