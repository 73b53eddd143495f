package order

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// Limits on what a Raft entry may carry. A leader never proposes more; a
// decoder refuses more before allocating.
const (
	// MaxRefsPerEntry bounds the events one log entry orders.
	MaxRefsPerEntry = 4096
	// MaxDepsPerRef bounds the causal predecessors one reference names
	// (the engine bounds an event's context the same way).
	MaxDepsPerRef = replica.MaxContextEntries
)

// ErrMalformed reports an entry, snapshot or message that does not decode.
var ErrMalformed = errors.New("order: malformed encoding")

// Ref names one event for ordering: its ID (the sha256 of its canonical
// encoding), its (origin, seq) dot, and the dots its causal context covers
// (Deps: per origin, the highest sequence number the event's context names).
// The Raft log carries Refs, never payloads: payloads travel by gossip.
type Ref struct {
	ID     replica.EventID
	Origin replica.PeerID
	Seq    uint64
	Deps   []replica.Dot
}

// RefOf returns the reference for an event: its ID, dot, and its context as
// dependencies (sorted by origin, so equal events give equal bytes).
func RefOf(ev *replica.Event) Ref {
	r := Ref{ID: ev.ID(), Origin: ev.Origin, Seq: ev.Seq}
	for o, s := range ev.Context {
		if s > 0 {
			r.Deps = append(r.Deps, replica.Dot{Origin: o, Seq: s})
		}
	}
	sortDots(r.Deps)
	return r
}

// Compacted reports whether r stands for an event the leader's store had
// already garbage-collected when it ordered it: its ID is all zeros, and
// only its dot is known.
func (r Ref) Compacted() bool { return r.ID == replica.EventID{} }

func sortDots(d []replica.Dot) {
	for i := 1; i < len(d); i++ {
		for j := i; j > 0 && d[j].Origin < d[j-1].Origin; j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
}

// entryVersion is the first byte of an encoded entry.
const entryVersion = 1

// EncodeEntry encodes refs as the data of one normal Raft entry: a version
// byte, a uvarint count, then per ref the 32-byte ID, the uvarint-prefixed
// origin, the uvarint seq, a uvarint dependency count and per dependency
// the uvarint-prefixed origin and uvarint seq.
func EncodeEntry(refs []Ref) []byte {
	b := []byte{entryVersion}
	b = binary.AppendUvarint(b, uint64(len(refs)))
	for _, r := range refs {
		b = append(b, r.ID[:]...)
		b = appendString(b, string(r.Origin))
		b = binary.AppendUvarint(b, r.Seq)
		b = binary.AppendUvarint(b, uint64(len(r.Deps)))
		for _, d := range r.Deps {
			b = appendString(b, string(d.Origin))
			b = binary.AppendUvarint(b, d.Seq)
		}
	}
	return b
}

// DecodeEntry decodes what EncodeEntry produced, refusing counts and
// lengths beyond the limits before allocating.
func DecodeEntry(b []byte) ([]Ref, error) {
	d := decoder{b: b}
	if v := d.byte(); v != entryVersion {
		return nil, fmt.Errorf("%w: entry version %d, want %d", ErrMalformed, v, entryVersion)
	}
	n := d.count(MaxRefsPerEntry, "refs")
	refs := make([]Ref, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		var r Ref
		copy(r.ID[:], d.bytes(32))
		r.Origin = replica.PeerID(d.string(replica.MaxPeerIDSize))
		r.Seq = d.uvarint()
		nd := d.count(MaxDepsPerRef, "deps")
		if nd > 0 {
			r.Deps = make([]replica.Dot, 0, nd)
		}
		for j := 0; j < nd && d.err == nil; j++ {
			r.Deps = append(r.Deps, replica.Dot{Origin: replica.PeerID(d.string(replica.MaxPeerIDSize)), Seq: d.uvarint()})
		}
		if d.err == nil && (r.Origin == "" || r.Seq == 0) {
			d.err = fmt.Errorf("%w: ref %d has an empty origin or seq 0", ErrMalformed, i)
		}
		refs = append(refs, r)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return refs, nil
}

// RaftID maps a peer ID to its Raft node ID: the first 8 bytes of the
// sha256 of the peer ID, big-endian (never 0, which Raft reserves). Every
// node derives the same ID, and a received message's sender is checked
// against the ID of the authenticated peer it came from.
func RaftID(p replica.PeerID) uint64 {
	h := sha256.Sum256([]byte(p))
	id := binary.BigEndian.Uint64(h[:8])
	if id == 0 {
		id = 1
	}
	return id
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads the encodings of this package; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated %s", ErrMalformed, what)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail("byte")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil || len(d.b) < n {
		d.fail("bytes")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint64be() uint64 {
	b := d.bytes(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func (d *decoder) string(max int) string {
	n := d.uvarint()
	if d.err == nil && n > uint64(max) {
		d.err = fmt.Errorf("%w: string of %d bytes, limit %d", ErrMalformed, n, max)
	}
	return string(d.bytes(int(min(n, uint64(max)))))
}

// count reads a uvarint count and refuses one above max or above what the
// remaining bytes could possibly hold (each item takes at least one byte).
func (d *decoder) count(max int, what string) int {
	n := d.uvarint()
	if d.err == nil && (n > uint64(max) || n > uint64(len(d.b))) {
		d.err = fmt.Errorf("%w: %d %s, limit %d", ErrMalformed, n, what, min(max, len(d.b)))
		return 0
	}
	return int(n)
}
