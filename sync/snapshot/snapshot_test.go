package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// memSource is a state held as items sorted by key.
type memSource []Item

func newMemSource(n int, valueSize func(i int) int) memSource {
	var s memSource
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("key-%d", i)
		s = append(s, Item{Key: k, Value: bytes.Repeat([]byte{byte(i)}, valueSize(i))})
	}
	slices.SortFunc(s, func(a, b Item) int { return strings.Compare(a.Key, b.Key) })
	return s
}

func (s memSource) Scan(from string, fn func(Item) bool) error {
	i, _ := slices.BinarySearchFunc(s, from, func(it Item, k string) int { return strings.Compare(it.Key, k) })
	for _, it := range s[i:] {
		if !fn(it) {
			break
		}
	}
	return nil
}

// wire passes a chunk through its encoding.
func wire(t interface{ Fatal(...any) }, c *Chunk, cfg Config) *Chunk {
	b, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var out Chunk
	if err := out.UnmarshalBinary(b, cfg); err != nil {
		t.Fatal(err)
	}
	return &out
}

// TestStreamResumes is the snapshot property: for random states, chunk
// limits and interruption points, streaming with resumes from the saved
// cursor delivers every item exactly once, in order, with progress ending
// at the total.
func TestStreamResumes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 300).Draw(t, "keys")
		maxVal := rapid.IntRange(0, 300).Draw(t, "maxValue")
		src := newMemSource(n, func(i int) int { return (i * 37) % (maxVal + 1) })
		cfg := Config{MaxChunkBytes: rapid.IntRange(1, 4000).Draw(t, "chunkBytes"), MaxChunkItems: rapid.IntRange(1, 50).Draw(t, "chunkItems")}
		var got []Item
		var cur Cursor
		var prog Progress
		for restarts := 0; ; restarts++ {
			if restarts > n+2 {
				t.Fatal("no progress")
			}
			r := NewReceiver(cur, cfg) // a restarted receiver resumes from its saved cursor
			stopAfter := rapid.IntRange(1, 5).Draw(t, "chunksBeforeRestart")
			for i := 0; i < stopAfter && !r.Done(); i++ {
				c, err := Next(src, r.Cursor(), prog, uint64(len(src)), cfg)
				if err != nil {
					t.Fatal(err)
				}
				if err := r.Accept(wire(t, c, cfg), func(items []Item) error { got = append(got, items...); return nil }); err != nil {
					t.Fatal(err)
				}
				prog = r.Progress()
			}
			cur = r.Cursor()
			if r.Done() {
				break
			}
		}
		if len(got) != len(src) {
			t.Fatalf("received %d items of %d", len(got), len(src))
		}
		for i := range got {
			if got[i].Key != src[i].Key || !bytes.Equal(got[i].Value, src[i].Value) {
				t.Fatalf("item %d differs", i)
			}
		}
		if prog.KeysDone != uint64(n) || prog.KeysTotal != uint64(n) || prog.Fraction() != 1 {
			t.Fatalf("final progress %+v for %d keys", prog, n)
		}
	})
}

func TestProgressEstimatesBytes(t *testing.T) {
	src := newMemSource(1000, func(int) int { return 100 })
	c, err := Next(src, Cursor{}, Progress{}, 1000, Config{MaxChunkBytes: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	p := c.Progress
	if c.Last || p.KeysDone == 0 || p.KeysTotal != 1000 {
		t.Fatalf("first chunk: last %v progress %+v", c.Last, p)
	}
	per := float64(p.BytesDone) / float64(p.KeysDone)
	if want := uint64(per * 1000); p.BytesTotal != want {
		t.Fatalf("bytes total %d, want %d", p.BytesTotal, want)
	}
	if f := p.Fraction(); f <= 0 || f >= 1 {
		t.Fatalf("fraction %v", f)
	}
}

func TestReceiverRejects(t *testing.T) {
	src := newMemSource(50, func(int) int { return 10 })
	cfg := Config{MaxChunkItems: 10}
	c, _ := Next(src, Cursor{}, Progress{}, 50, cfg)
	nop := func([]Item) error { return nil }

	r := NewReceiver(Cursor{}, cfg)
	skip, _ := Next(src, c.Next(), c.Progress, 50, cfg)
	if err := r.Accept(skip, nop); !errors.Is(err, ErrInvalidChunk) {
		t.Fatalf("chunk that skips the first: %v", err)
	}
	bad := *c
	bad.Items = slices.Clone(c.Items)
	bad.Items[1], bad.Items[2] = bad.Items[2], bad.Items[1]
	if err := r.Accept(&bad, nop); !errors.Is(err, ErrInvalidChunk) {
		t.Fatalf("items out of order: %v", err)
	}
	bad.Items = slices.Clone(c.Items)
	bad.Items[3].Key = bad.Items[2].Key
	if err := r.Accept(&bad, nop); !errors.Is(err, ErrInvalidChunk) {
		t.Fatalf("a key twice: %v", err)
	}
	failing := errors.New("disk full")
	if err := r.Accept(c, func([]Item) error { return failing }); !errors.Is(err, failing) || r.Cursor() != (Cursor{}) {
		t.Fatalf("failed apply: %v, cursor moved %v", err, r.Cursor().Started)
	}
	if err := r.Accept(c, nop); err != nil {
		t.Fatal(err)
	}
	if err := r.Accept(c, nop); !errors.Is(err, ErrInvalidChunk) {
		t.Fatalf("the same chunk twice: %v", err)
	}
}

func TestDecodeLimits(t *testing.T) {
	src := newMemSource(20, func(int) int { return 1000 })
	c, _ := Next(src, Cursor{}, Progress{}, 20, Config{})
	b, _ := c.MarshalBinary()
	var out Chunk
	if err := out.UnmarshalBinary(b, Config{MaxChunkItems: 5}); !errors.Is(err, ErrChunkTooLarge) {
		t.Fatalf("20 items with limit 5: %v", err)
	}
	if err := out.UnmarshalBinary(b, Config{MaxItemBytes: 500}); !errors.Is(err, ErrChunkTooLarge) {
		t.Fatalf("1000-byte values with limit 500: %v", err)
	}
	for _, g := range [][]byte{nil, {9, 0}, {wireVersion, 0x80}, {wireVersion, 1, 2}, b[:len(b)-1], append(slices.Clone(b), 0)} {
		if err := out.UnmarshalBinary(g, Config{}); err == nil {
			t.Fatalf("garbage %x decoded", g[:min(len(g), 8)])
		}
	}
}

func FuzzChunkDecode(f *testing.F) {
	src := newMemSource(5, func(i int) int { return i })
	c, _ := Next(src, Cursor{}, Progress{}, 5, Config{MaxChunkItems: 3})
	b, _ := c.MarshalBinary()
	f.Add(b)
	c2, _ := Next(src, c.Next(), c.Progress, 5, Config{})
	b, _ = c2.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Chunk
		if c.UnmarshalBinary(b, Config{}) != nil {
			return
		}
		again, _ := c.MarshalBinary()
		var d Chunk
		if err := d.UnmarshalBinary(again, Config{}); err != nil || len(d.Items) != len(c.Items) || d.From != c.From {
			t.Fatalf("re-decode: %v", err)
		}
	})
}
