package merkle

import (
	"fmt"
	"testing"
)

// benchEntryBytes is the size assumed for one differing entry when the
// benchmarks report anti-entropy bytes as a ratio: a 16-byte key, a 100-byte
// value and about 130 bytes of version (origin peer ID, seq, HLC, event ID)
// and causal context, as sync.KeyState encodes in the Pebble store.
const benchEntryBytes = 250

// benchStates builds two states of n keys where b additionally holds d keys
// a lacks (writes a missed).
func benchStates(b *testing.B, n, d int, cfg Config) (*MemState, *MemState) {
	b.Helper()
	x, _ := NewMemState(cfg.withDefaults().Depth)
	y, _ := NewMemState(cfg.withDefaults().Depth)
	for i := 0; i < n; i++ {
		h, v := kh(uint64(i)), dg(uint64(i), 0)
		x.Put(h, v)
		y.Put(h, v)
	}
	for i := n; i < n+d; i++ {
		y.Put(kh(uint64(i)), dg(uint64(i), 0))
	}
	return x, y
}

// BenchmarkAntiEntropy reports the protocol bytes and round trips to find d
// differing keys among n = 1,000,000, and the total anti-entropy bytes
// (protocol plus entries) as a ratio to the differing entries' bytes.
// Run with -bench; building the states takes a few seconds.
func BenchmarkAntiEntropy(b *testing.B) {
	const n = 1_000_000
	for _, d := range []int{1, 100, 10_000} {
		var x, y *MemState // built once per d, on first use
		for _, lpr := range []int{1, 2, 3} {
			b.Run(fmt.Sprintf("d=%d/levels=%d", d, lpr), func(b *testing.B) {
				cfg := Config{FullSyncThreshold: 1, LevelsPerRound: lpr}
				if x == nil {
					x, y = benchStates(b, n, d, cfg)
				}
				b.ReportAllocs()
				b.ResetTimer()
				var r Result
				for i := 0; i < b.N; i++ {
					r, _ = session(b, cfg, x, cfg, y)
				}
				b.StopTimer()
				proto := r.BytesSent + r.BytesReceived
				entries := d * benchEntryBytes
				found, _ := r.Entries(x.Index)
				theirs, _ := r.Entries(y.Index)
				if len(found)+len(theirs) != d {
					b.Fatalf("found %d+%d entries, want %d", len(found), len(theirs), d)
				}
				b.ReportMetric(float64(proto), "proto-B")
				b.ReportMetric(float64(proto)/float64(d), "proto-B/key")
				b.ReportMetric(float64(r.RoundTrips), "round-trips")
				b.ReportMetric(float64(proto+entries)/float64(entries), "ratio")
				b.ReportMetric(float64(proto+100*d)/float64(100*d), "ratio@100B")
				b.ReportMetric(float64(r.DifferingLeaves)/float64(r.Leaves), "leaf-frac")
			})
		}
	}
}

// BenchmarkTreeUpdate measures one incremental write: replace a key's
// digest in a tree of depth 16.
func BenchmarkTreeUpdate(b *testing.B) {
	t, _ := NewTree(16)
	hs := make([]KeyHash, 1024)
	for i := range hs {
		hs[i] = kh(uint64(i))
		t.Add(hs[i], dg(uint64(i), 0))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := uint64(i % len(hs))
		old, cur := dg(j, uint64(i/len(hs))), dg(j, uint64(i/len(hs)+1))
		t.Update(hs[j], &old, &cur)
	}
}
