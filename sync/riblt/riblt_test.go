package riblt

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// item returns a distinct item for each i.
func item(i uint64) Item {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], i)
	h := sha256.Sum256(b[:])
	var it Item
	copy(it[:], h[:])
	return it
}

// reconcile streams a's symbols against b's in batches of step until the
// decoder succeeds or the sketches run out.
func reconcile(a, b *Sketch, step int) (*Decoder, error) {
	var dec Decoder
	for n := 0; n < a.Len() && !dec.Decoded(); n += step {
		if err := dec.Add(a.Symbols(n, n+step), b.Symbols(n, n+step)); err != nil {
			return &dec, err
		}
	}
	return &dec, nil
}

func sortItems(s []Item) []Item {
	s = slices.Clone(s)
	slices.SortFunc(s, func(x, y Item) int { return slices.Compare(x[:], y[:]) })
	return s
}

// TestDecodeRecoversSymmetricDifference: whenever the decoder reports
// success, what it recovered is exactly the symmetric difference; with
// enough symbols it always succeeds.
func TestDecodeRecoversSymmetricDifference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		common := rapid.IntRange(0, 300).Draw(t, "common")
		onlyA := rapid.IntRange(0, 60).Draw(t, "onlyA")
		onlyB := rapid.IntRange(0, 60).Draw(t, "onlyB")
		step := rapid.IntRange(1, 40).Draw(t, "step")
		base := rapid.Uint64().Draw(t, "base")
		a, _ := NewSketch(1024)
		b, _ := NewSketch(1024)
		var wantA, wantB []Item
		for i := 0; i < common; i++ {
			a.Add(item(base + uint64(i)))
			b.Add(item(base + uint64(i)))
		}
		for i := 0; i < onlyA; i++ {
			it := item(base + uint64(common+i))
			a.Add(it)
			wantA = append(wantA, it)
		}
		for i := 0; i < onlyB; i++ {
			it := item(base + uint64(common+onlyA+i))
			b.Add(it)
			wantB = append(wantB, it)
		}
		dec, err := reconcile(a, b, step)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !dec.Decoded() {
			t.Fatalf("%d differences not decoded in %d symbols", onlyA+onlyB, a.Len())
		}
		if got, want := sortItems(dec.Remote()), sortItems(wantA); !slices.Equal(got, want) {
			t.Fatalf("remote-only items: got %d, want %d", len(got), len(want))
		}
		if got, want := sortItems(dec.Local()), sortItems(wantB); !slices.Equal(got, want) {
			t.Fatalf("local-only items: got %d, want %d", len(got), len(want))
		}
	})
}

// TestSketchIncrementalEqualsRebuilt: a sketch maintained through adds,
// removes and updates equals one built from the final set.
func TestSketchIncrementalEqualsRebuilt(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ops := rapid.SliceOfN(rapid.IntRange(0, 50), 1, 200).Draw(t, "ops")
		inc, _ := NewSketch(256)
		set := map[int]Item{}
		for i, k := range ops {
			cur := item(uint64(i + 1000))
			if old, ok := set[k]; ok {
				if i%3 == 0 {
					inc.Update(&old, nil)
					delete(set, k)
					continue
				}
				inc.Update(&old, &cur)
			} else {
				inc.Update(nil, &cur)
			}
			set[k] = cur
		}
		fresh, _ := NewSketch(256)
		for _, it := range set {
			fresh.Add(it)
		}
		if !inc.Equal(fresh) {
			t.Fatal("incremental sketch differs from the rebuilt one")
		}
		if inc.Count() != int64(len(set)) {
			t.Fatalf("count %d, set %d", inc.Count(), len(set))
		}
	})
}

// TestIdenticalSetsDecodeAtOnce: equal sets decode after one symbol.
func TestIdenticalSetsDecodeAtOnce(t *testing.T) {
	a, _ := NewSketch(64)
	for i := range 1000 {
		a.Add(item(uint64(i)))
	}
	var dec Decoder
	if err := dec.Add(a.Symbols(0, 1), a.Symbols(0, 1)); err != nil {
		t.Fatal(err)
	}
	if !dec.Decoded() || len(dec.Remote())+len(dec.Local()) != 0 {
		t.Fatalf("identical sets: decoded %v with %d items", dec.Decoded(), len(dec.Remote())+len(dec.Local()))
	}
}

// TestOneDifferenceOneSymbol: a single difference decodes from symbol 0.
func TestOneDifferenceOneSymbol(t *testing.T) {
	a, _ := NewSketch(64)
	b, _ := NewSketch(64)
	for i := range 1000 {
		a.Add(item(uint64(i)))
		b.Add(item(uint64(i)))
	}
	b.Add(item(5000))
	var dec Decoder
	if err := dec.Add(a.Symbols(0, 1), b.Symbols(0, 1)); err != nil {
		t.Fatal(err)
	}
	if !dec.Decoded() || len(dec.Local()) != 1 || dec.Local()[0] != item(5000) {
		t.Fatalf("one difference: decoded %v, local %d, remote %d", dec.Decoded(), len(dec.Local()), len(dec.Remote()))
	}
}

// TestAdversarialSymbolsBounded: arbitrary remote symbols never make the
// decoder report items beyond its bound, panic, or claim success with
// items that do not reproduce the stream.
func TestAdversarialSymbolsBounded(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 64).Draw(t, "n")
		local, _ := NewSketch(n)
		for i := 0; i < rapid.IntRange(0, 100).Draw(t, "local"); i++ {
			local.Add(item(uint64(i)))
		}
		remote := make([]Symbol, n)
		for i := range remote {
			if rapid.Bool().Draw(t, fmt.Sprint("pure", i)) {
				it := item(rapid.Uint64Range(0, 200).Draw(t, fmt.Sprint("it", i)))
				remote[i] = Symbol{Sum: it, Check: Check(it), Count: rapid.Int64Range(-3, 3).Draw(t, fmt.Sprint("c", i))}
			} else {
				copy(remote[i].Sum[:], rapid.SliceOfN(rapid.Byte(), ItemSize, ItemSize).Draw(t, fmt.Sprint("sum", i)))
				remote[i].Check = rapid.Uint32().Draw(t, fmt.Sprint("check", i))
				remote[i].Count = rapid.Int64().Draw(t, fmt.Sprint("count", i))
			}
		}
		var dec Decoder
		err := dec.Add(remote, local.Symbols(0, n))
		if err != nil && !errors.Is(err, ErrInconsistent) {
			t.Fatalf("unexpected error: %v", err)
		}
		if got := len(dec.Remote()) + len(dec.Local()); got > 2*n+16 {
			t.Fatalf("%d items from %d symbols", got, n)
		}
		if err == nil && dec.Decoded() {
			// Success means the recovered sets reproduce the stream.
			re, _ := NewSketch(n)
			for _, it := range dec.Remote() {
				re.Add(it)
			}
			for _, it := range dec.Local() {
				re.Remove(it)
			}
			for i, s := range re.Symbols(0, n) {
				want := remote[i].Sub(local.Symbols(i, i+1)[0])
				s.Count, want.Count = residue(s.Count), residue(want.Count)
				if s != want {
					t.Fatalf("decoded items do not reproduce symbol %d", i)
				}
			}
		}
	})
}

func TestWireRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		syms := make([]Symbol, rapid.IntRange(0, 20).Draw(t, "n"))
		for i := range syms {
			copy(syms[i].Sum[:], rapid.SliceOfN(rapid.Byte(), ItemSize, ItemSize).Draw(t, "sum"))
			syms[i].Check = rapid.Uint32().Draw(t, "check")
			syms[i].Count = rapid.Int64().Draw(t, "count")
		}
		got, err := ParseSymbols(AppendSymbols(nil, syms), len(syms))
		if err != nil {
			t.Fatal(err)
		}
		for i := range syms {
			syms[i].Count = int64(int8(syms[i].Count))
		}
		if !slices.Equal(got, syms) {
			t.Fatal("round trip changed the symbols (counts modulo 256)")
		}
	})
}

func TestParseSymbolsErrors(t *testing.T) {
	one := AppendSymbols(nil, []Symbol{{Count: 1}})
	for _, tc := range []struct {
		name string
		b    []byte
		max  int
	}{
		{"truncated", one[:len(one)-2], 4},
		{"over max", append(one, one...), 1},
	} {
		if _, err := ParseSymbols(tc.b, tc.max); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func FuzzParseAndDecode(f *testing.F) {
	a, _ := NewSketch(8)
	a.Add(item(1))
	f.Add(AppendSymbols(nil, a.Symbols(0, 8)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		syms, err := ParseSymbols(b, 256)
		if err != nil {
			return
		}
		local, _ := NewSketch(max(1, len(syms)))
		var dec Decoder
		_ = dec.Add(syms, local.Symbols(0, len(syms)))
		if n := len(dec.Remote()) + len(dec.Local()); n > 2*len(syms)+16 {
			t.Fatalf("%d items from %d symbols", n, len(syms))
		}
	})
}
