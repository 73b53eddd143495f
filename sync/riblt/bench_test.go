package riblt

import (
	"fmt"
	"testing"
)

// BenchmarkDecode reconciles two sets of 100,000 items that differ in d
// items (half on each side), streaming symbols one at a time, and reports
// the symbols and wire bytes needed per difference.
func BenchmarkDecode(b *testing.B) {
	const n = 100_000
	for _, d := range []int{1, 10, 100, 1000, 10_000} {
		b.Run(fmt.Sprintf("d=%d", d), func(b *testing.B) {
			size := min(MaxSymbols, 4*d+64)
			x, _ := NewSketch(size)
			y, _ := NewSketch(size)
			for i := range n {
				x.Add(item(uint64(i)))
				y.Add(item(uint64(i)))
			}
			for i := range d {
				if i%2 == 0 {
					x.Add(item(uint64(n + i)))
				} else {
					y.Add(item(uint64(n + i)))
				}
			}
			xs, ys := x.Symbols(0, size), y.Symbols(0, size)
			var used, bytes int
			b.ResetTimer()
			for range b.N {
				var dec Decoder
				k := 0
				for ; k < size && !dec.Decoded(); k++ {
					if err := dec.Add(xs[k:k+1], ys[k:k+1]); err != nil {
						b.Fatal(err)
					}
				}
				if !dec.Decoded() {
					b.Fatalf("not decoded in %d symbols", size)
				}
				used = k
				bytes = len(AppendSymbols(nil, xs[:k]))
			}
			b.ReportMetric(float64(used)/float64(d), "symbols/diff")
			b.ReportMetric(float64(bytes)/float64(d), "B/diff")
		})
	}
}

// BenchmarkSketchUpdate measures maintaining a 4,096-symbol sketch: one
// write replaces a key's item with another.
func BenchmarkSketchUpdate(b *testing.B) {
	s, _ := NewSketch(4096)
	b.ReportAllocs()
	for i := range b.N {
		old, cur := item(uint64(i)), item(uint64(i+1))
		s.Update(&old, &cur)
	}
}
