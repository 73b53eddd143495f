package snapshot

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidChunk marks a chunk that is malformed, out of order or does
	// not continue from the receiver's cursor.
	ErrInvalidChunk = errors.New("snapshot: invalid chunk")
	// ErrChunkTooLarge marks a chunk over the configured limits.
	ErrChunkTooLarge = errors.New("snapshot: chunk too large")
)

// Item is one key of the state.
type Item struct {
	// Key is the key.
	Key string
	// Value is the key's encoded state.
	Value []byte
}

// size is the item's encoded size in a chunk.
func (it Item) size() int {
	return uvarintLen(uint64(len(it.Key))) + len(it.Key) + uvarintLen(uint64(len(it.Value))) + len(it.Value)
}

// Source lists a state in ascending key order (bytewise).
type Source interface {
	// Scan calls fn for every item whose key is >= from, in ascending key
	// order, until fn returns false.
	Scan(from string, fn func(Item) bool) error
}

// Cursor is a resume point: the last key received, or the start of the
// state when Started is false.
type Cursor struct {
	// Started is false before the first item.
	Started bool
	// After is the last key received.
	After string
}

// Progress tells how far a snapshot has come. Totals are the sender's
// state size when the chunk was made; BytesTotal is an estimate
// (BytesDone per key, times KeysTotal) since only the keys are counted
// ahead.
type Progress struct {
	// KeysDone and BytesDone count items and their encoded bytes sent so far.
	KeysDone, BytesDone uint64
	// KeysTotal is the number of keys the sender holds.
	KeysTotal uint64
	// BytesTotal estimates the bytes of the whole snapshot.
	BytesTotal uint64
}

// Fraction returns the share of keys done, in [0, 1].
func (p Progress) Fraction() float64 {
	if p.KeysTotal == 0 {
		return 1
	}
	return min(1, float64(p.KeysDone)/float64(p.KeysTotal))
}

// Config bounds chunks.
type Config struct {
	// MaxChunkBytes caps a chunk's encoded size; an item larger than it is
	// sent alone. Default 1 MiB (max_message_size's default).
	MaxChunkBytes int
	// MaxChunkItems caps the items in a chunk. Default 16384.
	MaxChunkItems int
	// MaxItemBytes caps one item (key and value) a receiver accepts.
	// Default 2 MiB.
	MaxItemBytes int
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{MaxChunkBytes: 1 << 20, MaxChunkItems: 1 << 14, MaxItemBytes: 2 << 20}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxChunkBytes <= 0 {
		c.MaxChunkBytes = d.MaxChunkBytes
	}
	if c.MaxChunkItems <= 0 {
		c.MaxChunkItems = d.MaxChunkItems
	}
	if c.MaxItemBytes <= 0 {
		c.MaxItemBytes = d.MaxItemBytes
	}
	return c
}

// Chunk is one message of a snapshot.
type Chunk struct {
	// From is the cursor the chunk continues from.
	From Cursor
	// Items are the next items after From, in ascending key order.
	Items []Item
	// Last says no items follow: the snapshot is complete.
	Last bool
	// Progress is the sender's progress after this chunk.
	Progress Progress
}

// Next returns the chunk after cur: up to cfg's limits of the items of src
// that follow cur. done is the progress before this chunk (zero at the
// start) and keysTotal the number of keys src holds (a merkle tree's root
// count).
func Next(src Source, cur Cursor, done Progress, keysTotal uint64, cfg Config) (*Chunk, error) {
	cfg = cfg.withDefaults()
	c := &Chunk{From: cur, Last: true}
	size := 0
	err := src.Scan(cur.After, func(it Item) bool {
		if cur.Started && it.Key <= cur.After {
			return true // the last item sent: resume after it
		}
		s := it.size()
		if len(c.Items) > 0 && (size+s > cfg.MaxChunkBytes || len(c.Items) >= cfg.MaxChunkItems) {
			c.Last = false
			return false
		}
		c.Items = append(c.Items, it)
		size += s
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot: read state after %q: %w", cur.After, err)
	}
	p := done
	p.KeysDone += uint64(len(c.Items))
	p.BytesDone += uint64(size)
	p.KeysTotal = max(keysTotal, p.KeysDone)
	if c.Last {
		p.KeysTotal = p.KeysDone
	}
	if p.KeysDone > 0 {
		p.BytesTotal = uint64(float64(p.BytesDone) / float64(p.KeysDone) * float64(p.KeysTotal))
	}
	c.Progress = p
	return c, nil
}

// Next returns the cursor after c.
func (c *Chunk) Next() Cursor {
	if len(c.Items) == 0 {
		return c.From
	}
	return Cursor{Started: true, After: c.Items[len(c.Items)-1].Key}
}

// Receiver checks the chunks of one snapshot as they arrive.
type Receiver struct {
	cfg      Config
	cur      Cursor
	progress Progress
	done     bool
}

// NewReceiver returns a receiver that expects the chunk after cur (the
// zero Cursor for a new snapshot, or one saved by an interrupted one).
func NewReceiver(cur Cursor, cfg Config) *Receiver {
	return &Receiver{cfg: cfg.withDefaults(), cur: cur}
}

// Cursor returns the resume point: the chunk to ask for next.
func (r *Receiver) Cursor() Cursor { return r.cur }

// Progress returns the progress reported by the last accepted chunk.
func (r *Receiver) Progress() Progress { return r.progress }

// Done reports whether the last chunk was accepted.
func (r *Receiver) Done() bool { return r.done }

// Accept checks c and, if it is the next chunk, calls apply with its items
// and advances the cursor once apply succeeds. It rejects chunks that do
// not start at the cursor and items out of order or at or before the
// cursor.
func (r *Receiver) Accept(c *Chunk, apply func([]Item) error) error {
	if r.done {
		return fmt.Errorf("%w: chunk after the last one", ErrInvalidChunk)
	}
	if c.From != r.cur {
		return fmt.Errorf("%w: chunk continues from %q, expected %q", ErrInvalidChunk, c.From.After, r.cur.After)
	}
	prev := r.cur
	for i, it := range c.Items {
		if prev.Started && it.Key <= prev.After {
			return fmt.Errorf("%w: item %d (%q) out of order", ErrInvalidChunk, i, it.Key)
		}
		prev = Cursor{Started: true, After: it.Key}
	}
	if !c.Last && len(c.Items) == 0 {
		return fmt.Errorf("%w: empty chunk that is not the last", ErrInvalidChunk)
	}
	if err := apply(c.Items); err != nil {
		return fmt.Errorf("snapshot: apply chunk after %q: %w", r.cur.After, err)
	}
	r.cur = prev
	r.progress = c.Progress
	r.done = c.Last
	return nil
}
