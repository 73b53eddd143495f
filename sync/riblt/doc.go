// Package riblt is set reconciliation with rateless invertible Bloom lookup
// tables (Yang, Gilad and Alizadeh, SIGCOMM 2024): two nodes holding sets
// of fixed-size items find their symmetric difference from a stream of
// coded symbols whose length grows with the difference, not with the sets.
// About 1.4-1.7 symbols per differing item decode it, in one round trip
// when the first batch is large enough, and a node keeps a Sketch (a fixed
// prefix of its symbols) up to date in O(log n) per change, so serving
// symbols never scans the set.
//
// murmur's anti-entropy uses it as a fast path beside the Merkle descent:
// items are (key hash, state digest) prefixes, a decoded difference names
// the keys whose states the two nodes exchange, and a stream that does not
// decode within the sketch falls back to the Merkle path. Everything here
// is pure: no I/O, no clock, no randomness but what items seed.
//
//	a, _ := riblt.NewSketch(1024)
//	b, _ := riblt.NewSketch(1024)
//	// ... a.Add / b.Add the items of each set ...
//	var dec riblt.Decoder
//	for n := 0; !dec.Decoded() && n < a.Len(); n += 16 {
//		if err := dec.Add(a.Symbols(n, n+16), b.Symbols(n, n+16)); err != nil { ... }
//	}
//	onlyA, onlyB := dec.Remote(), dec.Local()
//
// A peer's symbols are claims: a decoder bounds what it recovers by what it
// was sent (ErrInconsistent), and what it recovers only tells a node which
// keys to ask about, never what their states are.
package riblt
