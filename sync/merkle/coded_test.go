package merkle

import (
	"testing"
)

// codedPair returns two states of n common keys where b also holds extra
// keys a lacks and a holds updated versions of upd keys; sketch > 0 gives
// each side a sketch of that length.
func codedPair(t *testing.T, n, extra, upd, sketchA, sketchB int) (*MemState, *MemState) {
	t.Helper()
	a, _ := NewMemState(10)
	b, _ := NewMemState(10)
	for _, x := range []struct {
		s *MemState
		n int
	}{{a, sketchA}, {b, sketchB}} {
		if x.n > 0 {
			if err := x.s.Tree.EnableSketch(x.n); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range n {
		a.Put(kh(uint64(i)), dg(uint64(i), 0))
		b.Put(kh(uint64(i)), dg(uint64(i), 0))
	}
	for i := range extra {
		b.Put(kh(uint64(n+i)), dg(uint64(n+i), 0))
	}
	for i := range upd {
		a.Put(kh(uint64(i)), dg(uint64(i), 1))
	}
	return a, b
}

func TestCodedOneDifferenceOneRoundTrip(t *testing.T) {
	a, b := codedPair(t, 5000, 1, 0, 256, 256)
	ra, rb := session(t, DefaultConfig(), a, DefaultConfig(), b)
	if !ra.Coded || !rb.Coded || ra.RoundTrips != 1 {
		t.Fatalf("coded %v/%v after %d round trips", ra.Coded, rb.Coded, ra.RoundTrips)
	}
	if len(ra.Ranges) != 1 || !ra.Ranges[0].Contains(kh(5000)) {
		t.Fatalf("ranges %v do not name the one new key", ra.Ranges)
	}
	// The whole exchange is a few symbols and one prefix.
	if proto := ra.BytesSent + ra.BytesReceived; proto > 125 {
		t.Fatalf("one difference cost %d protocol bytes", proto)
	}
}

func TestCodedGrowsThenDecodes(t *testing.T) {
	// 60 updated keys: equal counts give no size hint, so the responder
	// asks for more symbols (eight times what it has) until it decodes.
	a, b := codedPair(t, 5000, 0, 60, 1024, 1024)
	ra, rb := session(t, DefaultConfig(), a, DefaultConfig(), b)
	if !ra.Coded || !rb.Coded {
		t.Fatalf("not decoded: coded %v/%v", ra.Coded, rb.Coded)
	}
	if ra.RoundTrips > 3 {
		t.Fatalf("%d round trips", ra.RoundTrips)
	}
	if len(ra.Ranges) != 60 {
		t.Fatalf("%d ranges for 60 differing keys", len(ra.Ranges))
	}
	// With the last session's count as a hint it is one round trip.
	cfg := DefaultConfig()
	cfg.ExpectedDifferences = 120 // entries: each updated key differs on both sides
	ra, _ = session(t, cfg, a, DefaultConfig(), b)
	if !ra.Coded || ra.RoundTrips != 1 {
		t.Fatalf("with a hint: coded %v after %d round trips", ra.Coded, ra.RoundTrips)
	}
}

func TestCodedFallsBackToMerkle(t *testing.T) {
	for _, tc := range []struct {
		name             string
		extra            int
		sketchA, sketchB int
	}{
		{"too many differences", 500, 64, 64},
		{"responder without a sketch", 3, 64, 0},
		{"initiator without a sketch", 3, 0, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := codedPair(t, 2000, tc.extra, 0, tc.sketchA, tc.sketchB)
			cfg := Config{FullSyncThreshold: 1}
			ra, rb := session(t, cfg, a, cfg, b)
			if ra.Coded || rb.Coded {
				t.Fatal("decoded by the coded path")
			}
			found, err := rb.Entries(b.Index)
			if err != nil {
				t.Fatal(err)
			}
			if len(found) != tc.extra {
				t.Fatalf("Merkle path found %d of %d keys", len(found), tc.extra)
			}
		})
	}
}

func TestCodedMessagesRejectGarbage(t *testing.T) {
	good, _ := (&CodedResponse{Status: CodedDecoded, Prefixes: []uint32{1, 2}}).MarshalBinary()
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"bad version", []byte{9, 1}},
		{"unknown status", []byte{codedVersion, 7}},
		{"more without want", []byte{codedVersion, byte(CodedMore)}},
		{"zero want", []byte{codedVersion, byte(CodedMore), 0}},
		{"prefix count over limit", []byte{codedVersion, byte(CodedDecoded), 100}},
		{"truncated prefixes", good[:len(good)-1]},
		{"unordered prefixes", []byte{codedVersion, byte(CodedDecoded), 2, 0, 0, 0, 2, 0, 0, 0, 1}},
		{"trailing bytes", append([]byte{codedVersion, byte(CodedFallback)}, 0)},
	} {
		var c CodedResponse
		if err := c.UnmarshalBinary(tc.b, 8); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"truncated count", []byte{codedVersion, 0x80}},
		{"index out of range", []byte{codedVersion, 1, 0xff, 0xff, 0xff, 0x7f}},
		{"partial symbol", []byte{codedVersion, 1, 0, 1, 2, 3}},
	} {
		var c CodedRequest
		if err := c.UnmarshalBinary(tc.b, 8); err == nil {
			t.Errorf("request %s: accepted", tc.name)
		}
	}
}

// TestCodedResponderBoundsLies: symbols that no pair of sets produces
// (here: another sketch's, shifted) end in a fallback or an error, never a
// panic, and a responder never answers symbols it was not asked for.
func TestCodedResponderBoundsLies(t *testing.T) {
	a, b := codedPair(t, 100, 0, 0, 64, 64)
	r, _ := NewResponder(DefaultConfig(), b.Tree, b.Index)
	lie := a.Tree.Sketch().Symbols(0, 8)
	for i := range lie {
		lie[i].Count += 1000
	}
	resp, err := r.Handle(&Request{Start: true, Root: Node{Count: 1}, Levels: startLevels, Coded: &CodedRequest{Count: 1 << 40, Symbols: lie}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Coded == nil || resp.Coded.Status == CodedDecoded {
		t.Fatalf("lie decoded: %+v", resp.Coded)
	}
	if _, err := r.Handle(&Request{Coded: &CodedRequest{From: 3, Symbols: lie[:1]}}); err == nil && resp.Coded.Status == CodedMore {
		t.Fatal("symbols from the wrong index accepted")
	}
}

func FuzzCodedMessages(f *testing.F) {
	a, _ := codedPairF(f)
	req, _ := (&CodedRequest{Count: 5, Symbols: a.Tree.Sketch().Symbols(0, 3)}).MarshalBinary()
	resp, _ := (&CodedResponse{Status: CodedDecoded, Prefixes: []uint32{1, 9}}).MarshalBinary()
	f.Add(req)
	f.Add(resp)
	f.Fuzz(func(t *testing.T, b []byte) {
		var q CodedRequest
		if q.UnmarshalBinary(b, 64) == nil {
			if len(q.Symbols) > 64 {
				t.Fatalf("%d symbols past the limit", len(q.Symbols))
			}
			// Feeding any decoded request to a responder is bounded.
			r, _ := NewResponder(DefaultConfig(), a.Tree, a.Index)
			q.From = 0
			_, _ = r.Handle(&Request{Start: true, Levels: startLevels, Coded: &q})
		}
		var p CodedResponse
		if p.UnmarshalBinary(b, 64) == nil && len(p.Prefixes) > 64 {
			t.Fatalf("%d prefixes past the limit", len(p.Prefixes))
		}
	})
}

// codedPairF is codedPair for fuzz seeds.
func codedPairF(f *testing.F) (*MemState, *MemState) {
	a, _ := NewMemState(8)
	b, _ := NewMemState(8)
	_ = a.Tree.EnableSketch(64)
	_ = b.Tree.EnableSketch(64)
	for i := range 50 {
		a.Put(kh(uint64(i)), dg(uint64(i), 0))
		b.Put(kh(uint64(i)), dg(uint64(i), uint64(i%2)))
	}
	return a, b
}

// TestCodedProbesSizeTheSecondBatch: when keys changed rather than
// appeared (equal counts), the probes sent with the second batch estimate
// the difference: 100 changed keys decode in three round trips, and 3,000
// (more than the sketch decodes) fall back to the Merkle path after two.
func TestCodedProbesSizeTheSecondBatch(t *testing.T) {
	a, b := codedPair(t, 20000, 0, 100, DefaultSketchSymbols, DefaultSketchSymbols)
	ra, _ := session(t, DefaultConfig(), a, DefaultConfig(), b)
	if !ra.Coded || ra.RoundTrips > 3 || len(ra.Ranges) != 100 {
		t.Fatalf("100 changed keys: coded %v, %d round trips, %d ranges", ra.Coded, ra.RoundTrips, len(ra.Ranges))
	}
	a, b = codedPair(t, 20000, 0, 3000, DefaultSketchSymbols, DefaultSketchSymbols)
	cfg := Config{FullSyncThreshold: 1}
	ra, _ = session(t, cfg, a, cfg, b)
	merkleOnly, _ := session(t, Config{FullSyncThreshold: 1, NoCoded: true}, a, cfg, b)
	if ra.Coded || len(ra.Ranges) == 0 {
		t.Fatalf("3,000 changed keys: coded %v with %d ranges", ra.Coded, len(ra.Ranges))
	}
	if ra.RoundTrips > merkleOnly.RoundTrips+1 {
		t.Fatalf("fallback took %d round trips, the Merkle path alone %d", ra.RoundTrips, merkleOnly.RoundTrips)
	}
}
