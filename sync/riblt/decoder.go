package riblt

import (
	"container/heap"
	"errors"
	"fmt"
)

// ErrInconsistent reports a symbol stream that no pair of sets produces: an
// item recovered twice, more items than the symbols can hold, or symbols
// that never empty out. From a peer it is a fault.
var ErrInconsistent = errors.New("riblt: inconsistent symbols")

// Decoder recovers the symmetric difference of a remote and a local set
// from their coded symbols, received a batch at a time. Feed it the remote
// symbols with the local symbols of the same indices (Add); once Decoded
// reports true, Remote lists the items only the remote set holds and Local
// the items only the local set holds.
//
// Work is bounded by the symbols received: each symbol is peeled at most
// once per item, each recovered item touches O(log n) symbols, and no more
// items are accepted than MaxItems.
type Decoder struct {
	coded   []Symbol
	items   map[Item]bool
	remote  []Item
	local   []Item
	pending pendingHeap
	queue   []int
	// MaxItems bounds the items recovered; 0 means two per symbol received
	// plus 16, more than a consistent stream of that length can yield.
	MaxItems int
}

// Symbols returns how many symbols the decoder has received.
func (d *Decoder) Symbols() int { return len(d.coded) }

// Add appends the next len(remote) symbols: remote[i] and local[i] are the
// two sets' symbols of index d.Symbols()+i. It peels what it can and
// returns ErrInconsistent (wrapped) if the stream cannot come from two sets.
func (d *Decoder) Add(remote, local []Symbol) error {
	if len(remote) != len(local) {
		return fmt.Errorf("riblt: %d remote symbols against %d local", len(remote), len(local))
	}
	if len(d.coded)+len(remote) > MaxSymbols {
		return fmt.Errorf("%w: more than %d symbols", ErrInconsistent, MaxSymbols)
	}
	if d.items == nil {
		d.items = map[Item]bool{}
	}
	for i := range remote {
		idx := len(d.coded)
		c := remote[i].Sub(local[i])
		c.Count = residue(c.Count)
		// Take out every recovered item that maps here.
		for len(d.pending) > 0 && d.pending[0].m.index == uint64(idx) {
			p := &d.pending[0]
			c.add(p.item, p.check, -p.sign)
			c.Count = residue(c.Count)
			p.m.next()
			heap.Fix(&d.pending, 0)
		}
		d.coded = append(d.coded, c)
		if c.pure() {
			d.queue = append(d.queue, idx)
		}
	}
	return d.peel()
}

func (d *Decoder) peel() error {
	limit := d.MaxItems
	if limit == 0 {
		limit = 2*len(d.coded) + 16
	}
	for len(d.queue) > 0 {
		idx := d.queue[len(d.queue)-1]
		d.queue = d.queue[:len(d.queue)-1]
		s := d.coded[idx]
		if !s.pure() {
			continue // changed since it was queued
		}
		it, sign := s.Sum, s.Count
		if d.items[it] {
			return fmt.Errorf("%w: item recovered twice", ErrInconsistent)
		}
		if len(d.items) >= limit {
			return fmt.Errorf("%w: more than %d items in %d symbols", ErrInconsistent, limit, len(d.coded))
		}
		d.items[it] = true
		if sign > 0 {
			d.remote = append(d.remote, it)
		} else {
			d.local = append(d.local, it)
		}
		c := Check(it)
		m := newMapping(c)
		for j := uint64(0); j < uint64(len(d.coded)); j = m.next() {
			d.coded[j].add(it, c, -sign)
			d.coded[j].Count = residue(d.coded[j].Count)
			if d.coded[j].pure() {
				d.queue = append(d.queue, int(j))
			}
		}
		heap.Push(&d.pending, pendingItem{item: it, check: c, sign: sign, m: m})
	}
	return nil
}

// Decoded reports whether every symbol received has been peeled to zero.
// Every item maps to symbol 0, so an item of the difference not yet
// recovered leaves symbol 0 nonzero (short of a checksum collision
// and equal XORs): when Decoded is true the items recovered are the whole
// symmetric difference.
func (d *Decoder) Decoded() bool {
	if len(d.coded) == 0 {
		return false
	}
	for _, s := range d.coded {
		if !s.IsZero() {
			return false
		}
	}
	return true
}

// Remote returns the items recovered that only the remote set holds.
func (d *Decoder) Remote() []Item { return d.remote }

// Local returns the items recovered that only the local set holds.
func (d *Decoder) Local() []Item { return d.local }

// residue reduces a count difference modulo 256 into [-128, 127]: symbols
// travel with counts modulo 256 (AppendSymbols), and a difference whose
// magnitude exceeds 127 is never pure or zero anyway, but for a checksum
// collision, which the purity test already risks.
func residue(c int64) int64 { return int64(int8(c)) }

// pendingItem is a recovered item waiting to be taken out of the symbols
// still to come; m.index is the next index it maps to.
type pendingItem struct {
	item  Item
	check uint32
	sign  int64
	m     mapping
}

// pendingHeap orders recovered items by their next symbol index.
type pendingHeap []pendingItem

func (h pendingHeap) Len() int           { return len(h) }
func (h pendingHeap) Less(i, j int) bool { return h[i].m.index < h[j].m.index }
func (h pendingHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)        { *h = append(*h, x.(pendingItem)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
