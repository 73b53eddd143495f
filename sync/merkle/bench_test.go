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
	return benchStatesSketch(b, n, d, cfg, 0)
}

// benchStatesSketch is benchStates with sketches of the given length (0:
// none) on both sides.
func benchStatesSketch(b *testing.B, n, d int, cfg Config, sketch int) (*MemState, *MemState) {
	b.Helper()
	x, _ := NewMemState(cfg.withDefaults().Depth)
	y, _ := NewMemState(cfg.withDefaults().Depth)
	if sketch > 0 {
		if err := x.Tree.EnableSketch(sketch); err != nil {
			b.Fatal(err)
		}
		if err := y.Tree.EnableSketch(sketch); err != nil {
			b.Fatal(err)
		}
	}
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

// BenchmarkAntiEntropyUpdates is BenchmarkAntiEntropy where the d keys
// exist on both sides with different versions (missed updates), at the
// default configuration. Both sides then send their version; the ratio is
// still taken against one entry per key.
func BenchmarkAntiEntropyUpdates(b *testing.B) {
	const n = 1_000_000
	for _, d := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprintf("d=%d", d), func(b *testing.B) {
			cfg := Config{FullSyncThreshold: 1}
			x, y := benchStates(b, n, 0, cfg)
			for i := 0; i < d; i++ {
				k := uint64(i * (n / d))
				y.Put(kh(k), dg(k, 1))
			}
			b.ReportAllocs()
			b.ResetTimer()
			var r Result
			for i := 0; i < b.N; i++ {
				r, _ = session(b, cfg, x, cfg, y)
			}
			b.StopTimer()
			proto := r.BytesSent + r.BytesReceived
			mine, _ := r.Entries(x.Index)
			if len(mine) != d {
				b.Fatalf("found %d entries, want %d", len(mine), d)
			}
			b.ReportMetric(float64(proto)/float64(d), "proto-B/key")
			b.ReportMetric(float64(r.RoundTrips), "round-trips")
			b.ReportMetric(float64(proto+d*benchEntryBytes)/float64(d*benchEntryBytes), "ratio")
			b.ReportMetric(float64(proto+100*d)/float64(100*d), "ratio@100B")
		})
	}
}

// BenchmarkTreeUpdate measures one incremental write: replace a key's
// digest in a tree of depth 16 (two entry hashes and 17 node updates).
func BenchmarkTreeUpdate(b *testing.B) {
	t, _ := NewTree(16)
	hs := make([]KeyHash, 1024)
	ds := make([][2]Digest, len(hs))
	for i := range hs {
		hs[i] = kh(uint64(i))
		ds[i] = [2]Digest{dg(uint64(i), 0), dg(uint64(i), 1)}
		t.Add(hs[i], ds[i][0])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j, v := i%len(hs), (i/len(hs))%2
		t.Update(hs[j], &ds[j][v], &ds[j][1-v])
	}
}

// BenchmarkFullSyncDecision runs a session with the default configuration
// (full_sync_threshold 0.1 of 65,536 leaves) where d of n = 1,000,000 keys
// differ, and reports whether and after how many round trips and bytes it
// decided on a full sync.
func BenchmarkFullSyncDecision(b *testing.B) {
	const n = 1_000_000
	for _, d := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("d=%d", d), func(b *testing.B) {
			cfg := DefaultConfig()
			x, y := benchStates(b, n, d, cfg)
			b.ResetTimer()
			var r Result
			for i := 0; i < b.N; i++ {
				r, _ = session(b, cfg, x, cfg, y)
			}
			full := 0.0
			if r.FullSync {
				full = 1
			}
			b.ReportMetric(full, "full-sync")
			b.ReportMetric(float64(r.RoundTrips), "round-trips")
			b.ReportMetric(float64(r.BytesSent+r.BytesReceived), "proto-B")
			b.ReportMetric(float64(r.DifferingLeaves)/float64(r.Leaves), "leaf-frac")
		})
	}
}

// BenchmarkAntiEntropyCoded is BenchmarkAntiEntropy (new keys) and
// BenchmarkAntiEntropyUpdates (changed keys) with DefaultSketchSymbols
// sketches on both sides: the coded fast path, falling back to the Merkle
// descent past what the sketch decodes. hint=1 passes the true number of
// differing entries as Config.ExpectedDifferences, as the engine does with
// the last session's count.
func BenchmarkAntiEntropyCoded(b *testing.B) {
	const n = 1_000_000
	for _, kind := range []string{"new", "updated"} {
		for _, d := range []int{1, 100, 10_000} {
			var x, y *MemState
			for _, hint := range []int{0, 1} {
				b.Run(fmt.Sprintf("%s/d=%d/hint=%d", kind, d, hint), func(b *testing.B) {
					cfg := Config{FullSyncThreshold: 1}
					if x == nil {
						if kind == "new" {
							x, y = benchStatesSketch(b, n, d, cfg, DefaultSketchSymbols)
						} else {
							x, y = benchStatesSketch(b, n, 0, cfg, DefaultSketchSymbols)
							for i := 0; i < d; i++ {
								k := uint64(i * (n / d))
								y.Put(kh(k), dg(k, 1))
							}
						}
					}
					ca := cfg
					if hint == 1 {
						ca.ExpectedDifferences = d
						if kind == "updated" {
							ca.ExpectedDifferences = 2 * d
						}
					}
					b.ReportAllocs()
					b.ResetTimer()
					var r Result
					for i := 0; i < b.N; i++ {
						r, _ = session(b, ca, x, cfg, y)
					}
					b.StopTimer()
					found, _ := r.Entries(y.Index)
					if len(found) != d {
						b.Fatalf("found %d entries, want %d", len(found), d)
					}
					proto := r.BytesSent + r.BytesReceived
					coded := 0.0
					if r.Coded {
						coded = 1
					}
					b.ReportMetric(coded, "coded")
					b.ReportMetric(float64(proto)/float64(d), "proto-B/key")
					b.ReportMetric(float64(r.RoundTrips), "round-trips")
					b.ReportMetric(float64(proto+d*benchEntryBytes)/float64(d*benchEntryBytes), "ratio")
					b.ReportMetric(float64(proto+100*d)/float64(100*d), "ratio@100B")
				})
			}
		}
	}
}

// BenchmarkTreeUpdateSketch is BenchmarkTreeUpdate with a
// DefaultSketchSymbols sketch: the cost the coded path adds to each write.
func BenchmarkTreeUpdateSketch(b *testing.B) {
	t, _ := NewTree(16)
	if err := t.EnableSketch(DefaultSketchSymbols); err != nil {
		b.Fatal(err)
	}
	hs := make([]KeyHash, 1024)
	ds := make([][2]Digest, len(hs))
	for i := range hs {
		hs[i] = kh(uint64(i))
		ds[i] = [2]Digest{dg(uint64(i), 0), dg(uint64(i), 1)}
		t.Add(hs[i], ds[i][0])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j, v := i%len(hs), (i/len(hs))%2
		t.Update(hs[j], &ds[j][v], &ds[j][1-v])
	}
}
