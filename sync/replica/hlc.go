package replica

import (
	"fmt"
	"math"
)

// Timestamp is a hybrid logical clock reading: physical time in nanoseconds
// since the Unix epoch plus a logical counter that orders readings taken
// within the same physical instant. Timestamps from every node are totally
// ordered by (Wall, Logical); ties between nodes are broken by origin ID
// where a total order is needed (see KeyState.Winner).
type Timestamp struct {
	// Wall is the physical component, in Unix nanoseconds.
	Wall int64
	// Logical counts readings that share the same Wall.
	Logical uint32
}

// Compare returns -1, 0 or +1 as t is before, equal to or after u.
func (t Timestamp) Compare(u Timestamp) int {
	switch {
	case t.Wall < u.Wall:
		return -1
	case t.Wall > u.Wall:
		return 1
	case t.Logical < u.Logical:
		return -1
	case t.Logical > u.Logical:
		return 1
	}
	return 0
}

// Less reports whether t orders strictly before u.
func (t Timestamp) Less(u Timestamp) bool { return t.Compare(u) < 0 }

// IsZero reports whether t is the zero reading.
func (t Timestamp) IsZero() bool { return t.Wall == 0 && t.Logical == 0 }

// String formats t as wall.logical.
func (t Timestamp) String() string { return fmt.Sprintf("%d.%d", t.Wall, t.Logical) }

// next returns the smallest timestamp strictly after t.
func (t Timestamp) next() Timestamp {
	if t.Logical == math.MaxUint32 {
		return Timestamp{Wall: t.Wall + 1}
	}
	return Timestamp{Wall: t.Wall, Logical: t.Logical + 1}
}

// Clock is a hybrid logical clock (Kulkarni et al., "Logical Physical Clocks").
// It never reads the system time: the caller passes the physical time to Now
// and Update, which keeps the engine deterministic. Every reading is strictly
// greater than every reading before it and than every remote reading merged
// with Update (unless that remote reading is more than MaxSkew ahead of the
// physical time, in which case it is not adopted, so a peer with a broken
// clock cannot drag ours into the future).
//
// The zero Clock is ready to use and has no skew limit.
type Clock struct {
	last Timestamp
	// MaxSkew bounds how far ahead of physical time a remote reading may be
	// to be adopted by Update, in nanoseconds. Zero means no bound.
	MaxSkew int64
}

// NewClock returns a clock that continues after last (for example the value
// persisted before a restart) and refuses to adopt remote readings more than
// maxSkew nanoseconds ahead of physical time (0: no bound).
func NewClock(last Timestamp, maxSkew int64) *Clock {
	return &Clock{last: last, MaxSkew: maxSkew}
}

// Last returns the most recent reading issued or adopted.
func (c *Clock) Last() Timestamp { return c.last }

// Now returns a new reading for a local event at physical time pt.
func (c *Clock) Now(pt int64) Timestamp {
	if pt > c.last.Wall {
		c.last = Timestamp{Wall: pt}
	} else {
		c.last = c.last.next()
	}
	return c.last
}

// Update merges a remote reading observed at physical time pt, so that later
// local readings order after it. It reports whether the remote reading was
// adopted; a reading further than MaxSkew ahead of pt is ignored.
func (c *Clock) Update(remote Timestamp, pt int64) bool {
	if c.MaxSkew > 0 && remote.Wall > pt && remote.Wall-pt > c.MaxSkew {
		return false
	}
	if remote.Compare(c.last) > 0 {
		c.last = remote
	}
	return true
}
