package replica

import (
	"testing"

	"pgregory.net/rapid"
)

func TestClockIsMonotonicAndTracksPhysicalTime(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := NewClock(Timestamp{}, 0)
		var prev Timestamp
		steps := rapid.IntRange(1, 100).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			pt := rapid.Int64Range(0, 1000).Draw(t, "pt")
			if rapid.Bool().Draw(t, "remote") {
				remote := Timestamp{Wall: rapid.Int64Range(0, 1200).Draw(t, "rw"), Logical: rapid.Uint32Range(0, 3).Draw(t, "rl")}
				c.Update(remote, pt)
				if c.Last().Less(remote) {
					t.Fatalf("clock %v behind adopted remote %v", c.Last(), remote)
				}
			}
			now := c.Now(pt)
			if !prev.Less(now) {
				t.Fatalf("reading %v not after %v", now, prev)
			}
			if now.Wall < pt {
				t.Fatalf("reading %v behind physical time %d", now, pt)
			}
			prev = now
		}
	})
}

func TestClockRefusesRemoteReadingsBeyondSkew(t *testing.T) {
	c := NewClock(Timestamp{Wall: 100}, 50)
	if c.Update(Timestamp{Wall: 1000}, 100) {
		t.Fatal("reading 900 ahead adopted with max skew 50")
	}
	if got := c.Now(100); got.Wall != 100 || got.Logical != 1 {
		t.Fatalf("Now = %v after a refused reading", got)
	}
	if !c.Update(Timestamp{Wall: 140}, 100) || c.Now(100).Wall != 140 {
		t.Fatal("reading within skew not adopted")
	}
}

func TestClockLogicalOverflowCarries(t *testing.T) {
	c := NewClock(Timestamp{Wall: 7, Logical: ^uint32(0)}, 0)
	if got := c.Now(0); got != (Timestamp{Wall: 8}) {
		t.Fatalf("Now = %v, want 8.0", got)
	}
}
