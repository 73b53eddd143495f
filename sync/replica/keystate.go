package replica

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strings"

	"github.com/murmur-p2p/murmur/sync/causal"
)

// Version is one value of a key: the write that produced it.
type Version struct {
	// Origin and Seq identify the write.
	Origin PeerID
	Seq    uint64
	// Time is the write's HLC timestamp.
	Time Timestamp
	// Op is OpPut or OpDelete (a tombstone).
	Op Op
	// Value is the value written (nil for a tombstone).
	Value []byte
	// Event is the ID of the event that carried the write.
	Event EventID
}

// Dot returns the version's write identity.
func (v Version) Dot() Dot { return Dot{Origin: v.Origin, Seq: v.Seq} }

// Tombstone reports whether the version is a delete.
func (v Version) Tombstone() bool { return v.Op == OpDelete }

// wins reports whether v orders before w in the deterministic read order:
// highest HLC first, then highest origin ID, then highest seq.
func (v Version) wins(w Version) bool {
	if c := v.Time.Compare(w.Time); c != 0 {
		return c > 0
	}
	if v.Origin != w.Origin {
		return v.Origin > w.Origin
	}
	return v.Seq > w.Seq
}

// KeyHash is the sha256 of a key; stores can index state in this order so
// anti-entropy can walk key ranges as Merkle buckets.
type KeyHash [32]byte

// HashKey returns the KeyHash of key.
func HashKey(key string) KeyHash { return sha256.Sum256([]byte(key)) }

// KeyState is the replicated state of one key: the versions that no other
// known write has superseded (siblings when more than one) and the causal
// context of every write to the key this node has applied. The state is the
// same on every node that applied the same set of writes, whatever the
// order (a dotted version vector set).
type KeyState struct {
	// Key is the key.
	Key string
	// Versions are the current siblings, in read order: Versions[0] is the
	// deterministic winner. More than one means concurrent writes (a conflict).
	Versions []Version
	// Context covers every write to Key this node has applied, including
	// superseded ones. A write whose dot it covers changes nothing.
	Context VersionVector
}

// Clone returns a copy of ks that shares only the immutable value bytes.
func (ks *KeyState) Clone() *KeyState {
	if ks == nil {
		return nil
	}
	return &KeyState{Key: ks.Key, Versions: slices.Clone(ks.Versions), Context: ks.Context.Clone()}
}

// Winner returns the version plain reads see. ok is false for an empty state.
func (ks *KeyState) Winner() (v Version, ok bool) {
	if ks == nil || len(ks.Versions) == 0 {
		return Version{}, false
	}
	return ks.Versions[0], true
}

// holds reports whether one of the versions is the write with event ID id.
func (ks *KeyState) holds(id EventID) bool {
	for _, v := range ks.Versions {
		if v.Event == id {
			return true
		}
	}
	return false
}

// Conflict reports whether the key has concurrent siblings.
func (ks *KeyState) Conflict() bool { return ks != nil && len(ks.Versions) > 1 }

// Deleted reports whether the winner is a tombstone (or there is none).
func (ks *KeyState) Deleted() bool {
	w, ok := ks.Winner()
	return !ok || w.Tombstone()
}

// Apply merges the write e (with ID id) into ks. It returns false when the
// write changes nothing: it was applied before or a known write superseded it.
// Otherwise the write becomes a version, every version its context covers is
// dropped, and the key's context grows by the write and its context.
func (ks *KeyState) Apply(e *Event, id EventID) bool {
	if ks.Context == nil {
		ks.Context = make(VersionVector)
	}
	w := e.write()
	if !causal.Applies(ks.Context, w) {
		return false
	}
	kept := ks.Versions[:0]
	for _, v := range ks.Versions {
		if !w.Supersedes(v.Dot()) {
			kept = append(kept, v)
		}
	}
	nv := Version{Origin: e.Origin, Seq: e.Seq, Time: e.Time, Op: e.Op, Value: e.Value, Event: id}
	i := 0
	for i < len(kept) && kept[i].wins(nv) {
		i++
	}
	ks.Versions = slices.Insert(kept, i, nv)
	ks.Context.Merge(e.Context)
	ks.Context.Raise(e.Origin, e.Seq)
	return true
}

// CompareWrites tells how write a relates causally to write b on the same
// key: Before when b's context covers a, After when a's covers b, Equal for
// the same write, Concurrent otherwise.
func CompareWrites(a, b *Event) Causality { return causal.CompareWrites(a.write(), b.write()) }

// write returns the event as causality sees it.
func (e *Event) write() causal.Write { return causal.Write{Dot: e.Dot(), Context: e.Context} }

// Equal reports whether ks and o hold the same key, versions and context.
func (ks *KeyState) Equal(o *KeyState) bool {
	if ks.Key != o.Key || len(ks.Versions) != len(o.Versions) || !ks.Context.Equal(o.Context) {
		return false
	}
	for i := range ks.Versions {
		if ks.Versions[i].Event != o.Versions[i].Event {
			return false
		}
	}
	return true
}

// hasPrefix reports whether key starts with prefix.
func hasPrefix(key, prefix string) bool { return strings.HasPrefix(key, prefix) }

// digestDomain separates key-state digests from other sha256 uses.
const digestDomain = "murmur/keystate/v1\x00"

// Digest returns the canonical digest of the key's state, which the Merkle
// tree of anti-entropy covers: sha256 over "murmur/keystate/v1\x00", the
// uvarint-prefixed key, the uvarint number of versions, their event IDs in
// read order, and the context as a uvarint entry count followed by
// (uvarint-prefixed origin, uvarint seq) sorted by origin. Nodes holding
// equal states (Equal) get equal digests; every store computes it this way.
func (ks *KeyState) Digest() [32]byte {
	b := make([]byte, 0, len(digestDomain)+16+len(ks.Key)+32*len(ks.Versions)+len(ks.Context)*48)
	b = append(b, digestDomain...)
	b = appendBytes(b, []byte(ks.Key))
	b = binary.AppendUvarint(b, uint64(len(ks.Versions)))
	for _, v := range ks.Versions {
		b = append(b, v.Event[:]...)
	}
	origins := ks.Context.Origins()
	b = binary.AppendUvarint(b, uint64(len(origins)))
	for _, o := range origins {
		b = appendBytes(b, []byte(o))
		b = binary.AppendUvarint(b, ks.Context[o])
	}
	return sha256.Sum256(b)
}
