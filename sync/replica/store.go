package replica

import "fmt"

// Store is the durable state of one node, owned by the engine: the event log
// (by ID and by origin and sequence number), the key/value state derived
// from it (with siblings per key), the node's version vector, its clock and
// small named metadata.
//
// The engine never writes to a Store directly. It collects writes in a Batch
// handed out in Ready; the caller applies it with Apply before sending any
// message of that Ready, so nothing is announced that a crash could lose.
// Reads may be served while no Apply is running; implementations used from
// more than one goroutine must make Apply atomic with respect to reads.
//
// Invariants the engine maintains (doc.go, "Garbage collection and
// catch-up"): for every origin o the log holds the events of o with seq
// above the garbage-collection floor up to VersionVector()[o], possibly
// some below the floor, and possibly events above the vector that key
// states hold as versions (received as state).
//
// Methods that find nothing return an error wrapping ErrNotFound. Returned
// objects belong to the caller and may be modified; event byte slices are
// shared and must be treated as immutable.
type Store interface {
	// Event returns the event with the given ID.
	Event(id EventID) (*Event, error)
	// HasEvent reports whether the log holds the event with the given ID.
	HasEvent(id EventID) (bool, error)
	// EventAt returns the event of origin with sequence number seq.
	EventAt(origin PeerID, seq uint64) (*Event, error)
	// ScanEvents calls fn for the events of origin with from <= seq <= to,
	// in ascending seq order, until fn returns false. to == 0 means no upper
	// bound. Missing sequence numbers are skipped.
	ScanEvents(origin PeerID, from, to uint64, fn func(*Event) bool) error

	// KeyState returns the state of key.
	KeyState(key string) (*KeyState, error)
	// ScanKeys calls fn for every key starting with prefix, in ascending key
	// order, until fn returns false.
	ScanKeys(prefix string, fn func(*KeyState) bool) error
	// ScanKeyHashes calls fn for every key whose KeyHash is >= from, in
	// ascending KeyHash order, until fn returns false. Anti-entropy uses it to
	// walk Merkle buckets (contiguous KeyHash ranges).
	ScanKeyHashes(from KeyHash, fn func(KeyHash, *KeyState) bool) error

	// VersionVector returns the node's version vector.
	VersionVector() (VersionVector, error)
	// Clock returns the highest HLC reading persisted (zero when none).
	Clock() (Timestamp, error)
	// Meta returns the named metadata value.
	Meta(name string) ([]byte, error)

	// Apply writes every part of b atomically. It must be durable when it
	// returns nil; on error nothing of b may be visible.
	Apply(b *Batch) error
	// Close releases the store. Later calls return ErrClosed.
	Close() error
}

// Batch is an atomic set of store writes. The engine produces batches with
// Events, Keys, VersionVector and Clock; a garbage collector or snapshot
// installer (issue 4) may also use the deletions.
type Batch struct {
	// Events are appended to the log, indexed by ID and by (origin, seq).
	Events []*Event
	// Keys replace the whole state of their keys.
	Keys []*KeyState
	// VersionVector entries are raised to at least these values (pointwise max).
	VersionVector VersionVector
	// Clock, if not zero, becomes the persisted HLC high-water mark (it only
	// ever grows).
	Clock Timestamp
	// Meta sets named metadata values; a nil value deletes the name.
	Meta map[string][]byte

	// DeleteEvents removes events from the log (garbage collection of
	// superseded writes). It is applied before Events.
	DeleteEvents []EventID
	// DeleteKeys removes the state of keys (garbage collection of
	// tombstones known everywhere). It is applied before Keys.
	DeleteKeys []string
}

// Check reports the first nil event or key state of b, which no store may
// write: every Store's Apply calls it before anything else.
func (b *Batch) Check() error {
	for i, e := range b.Events {
		if e == nil {
			return fmt.Errorf("event %d is nil", i)
		}
	}
	for i, ks := range b.Keys {
		if ks == nil {
			return fmt.Errorf("key state %d is nil", i)
		}
	}
	return nil
}

// Empty reports whether b writes nothing.
func (b *Batch) Empty() bool {
	return b == nil || (len(b.Events) == 0 && len(b.Keys) == 0 && len(b.VersionVector) == 0 &&
		b.Clock.IsZero() && len(b.Meta) == 0 && len(b.DeleteEvents) == 0 && len(b.DeleteKeys) == 0)
}
