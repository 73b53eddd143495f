package order

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// Ordered is one position of the global order.
type Ordered struct {
	// Index is the event's place in the global order: 1, 2, 3, ... without
	// gaps, the same on every node.
	Index uint64
	// ID is the event's ID (all zeros for an event the leader's store had
	// compacted away when it was ordered; see Ref.Compacted).
	ID replica.EventID
	// Origin and Seq are the event's dot.
	Origin replica.PeerID
	Seq    uint64
}

// State is the replicated state machine: the global order so far, the
// vector of ordered dots, and the Raft members' peer IDs. Every node that
// applies the same committed entries holds the same State.
type State struct {
	order   []Ordered
	vector  replica.VersionVector
	members map[uint64]replica.PeerID
	origins map[replica.PeerID]replica.PeerID // interned origin strings
}

// NewState returns an empty state.
func NewState() *State {
	return &State{vector: replica.VersionVector{}, members: map[uint64]replica.PeerID{}, origins: map[replica.PeerID]replica.PeerID{}}
}

// Len is the number of ordered events (the highest index).
func (s *State) Len() uint64 { return uint64(len(s.order)) }

// Vector returns a copy of the vector of ordered dots: per origin, the
// highest ordered sequence number (an origin's events are ordered in seq
// order without gaps).
func (s *State) Vector() replica.VersionVector {
	v := make(replica.VersionVector, len(s.vector))
	for o, n := range s.vector {
		v[o] = n
	}
	return v
}

// Range returns up to limit ordered events from index from (1-based).
func (s *State) Range(from uint64, limit int) []Ordered {
	if from == 0 {
		from = 1
	}
	if from > s.Len() || limit <= 0 {
		return nil
	}
	end := min(from-1+uint64(limit), s.Len())
	return slices.Clone(s.order[from-1 : end])
}

// Member returns the peer ID of Raft node id, if known.
func (s *State) Member(id uint64) (replica.PeerID, bool) {
	p, ok := s.members[id]
	return p, ok
}

// Members returns the known Raft node IDs and their peer IDs.
func (s *State) Members() map[uint64]replica.PeerID {
	m := make(map[uint64]replica.PeerID, len(s.members))
	for id, p := range s.members {
		m[id] = p
	}
	return m
}

// setMember records id's peer ID (or forgets it for an empty peer ID).
func (s *State) setMember(id uint64, p replica.PeerID) {
	if p == "" {
		delete(s.members, id)
		return
	}
	s.members[id] = p
}

// Orderable reports whether r may take the next index: it is the next
// event of its origin, and every dependency is already ordered. This rule
// is what makes the order consistent with causality, and it is applied
// identically by every node to every committed reference, so a reference
// the leader proposed too early, twice, or after a lost proposal is simply
// skipped (and proposed again later) without any node diverging.
func (s *State) Orderable(r Ref) bool {
	if r.Seq != s.vector[r.Origin]+1 {
		return false
	}
	for _, d := range r.Deps {
		if d.Origin == r.Origin {
			if d.Seq >= r.Seq {
				return false
			}
			continue
		}
		if s.vector[d.Origin] < d.Seq {
			return false
		}
	}
	return true
}

// apply appends every orderable ref of a committed entry, in entry order,
// and returns the newly ordered positions, and whether any ref was skipped
// for coming too early (rather than being ordered already).
func (s *State) apply(refs []Ref) (out []Ordered, premature bool) {
	for _, r := range refs {
		if !s.Orderable(r) {
			premature = premature || r.Seq > s.vector[r.Origin]
			continue
		}
		o := s.intern(r.Origin)
		ord := Ordered{Index: s.Len() + 1, ID: r.ID, Origin: o, Seq: r.Seq}
		s.order = append(s.order, ord)
		s.vector[o] = r.Seq
		out = append(out, ord)
	}
	return out, premature
}

func (s *State) intern(p replica.PeerID) replica.PeerID {
	if q, ok := s.origins[p]; ok {
		return q
	}
	s.origins[p] = p
	return p
}

// stateVersion is the first byte of an encoded State.
const stateVersion = 1

// Encode returns the State as snapshot data: a version byte; the members
// (uvarint count, then per member the 8-byte big-endian Raft ID and the
// uvarint-prefixed peer ID, sorted by ID); the origins (uvarint count, then
// uvarint-prefixed peer IDs); the order (uvarint count, then per position
// the uvarint origin number, the uvarint seq and the 32-byte ID).
func (s *State) Encode() []byte {
	b := make([]byte, 0, 16+len(s.order)*36)
	b = append(b, stateVersion)
	ids := make([]uint64, 0, len(s.members))
	for id := range s.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = binary.BigEndian.AppendUint64(b, id)
		b = appendString(b, string(s.members[id]))
	}
	num := map[replica.PeerID]uint64{}
	var names []replica.PeerID
	for _, o := range s.order {
		if _, ok := num[o.Origin]; !ok {
			num[o.Origin] = uint64(len(names))
			names = append(names, o.Origin)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, n := range names {
		b = appendString(b, string(n))
	}
	b = binary.AppendUvarint(b, uint64(len(s.order)))
	for _, o := range s.order {
		b = binary.AppendUvarint(b, num[o.Origin])
		b = binary.AppendUvarint(b, o.Seq)
		b = append(b, o.ID[:]...)
	}
	return b
}

// DecodeState decodes snapshot data written by Encode, checking that the
// order it lists obeys the per-origin rule (seq 1, 2, 3, ... per origin).
func DecodeState(b []byte) (*State, error) {
	s := NewState()
	if len(b) == 0 {
		return s, nil
	}
	d := decoder{b: b}
	if v := d.byte(); v != stateVersion {
		return nil, fmt.Errorf("%w: state version %d, want %d", ErrMalformed, v, stateVersion)
	}
	nm := d.count(1<<16, "members")
	for i := 0; i < nm && d.err == nil; i++ {
		id := d.uint64be()
		s.members[id] = replica.PeerID(d.string(replica.MaxPeerIDSize))
	}
	no := d.count(len(b), "origins")
	names := make([]replica.PeerID, 0, no)
	for i := 0; i < no && d.err == nil; i++ {
		names = append(names, s.intern(replica.PeerID(d.string(replica.MaxPeerIDSize))))
	}
	n := d.count(len(b), "positions")
	s.order = make([]Ordered, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		k := d.uvarint()
		seq := d.uvarint()
		idb := d.bytes(32)
		if d.err != nil {
			break
		}
		if k >= uint64(len(names)) {
			return nil, fmt.Errorf("%w: position %d names origin %d of %d", ErrMalformed, i+1, k, len(names))
		}
		o := names[k]
		if seq != s.vector[o]+1 {
			return nil, fmt.Errorf("%w: position %d orders %s seq %d after seq %d", ErrMalformed, i+1, o, seq, s.vector[o])
		}
		ord := Ordered{Index: uint64(i + 1), Origin: o, Seq: seq}
		copy(ord.ID[:], idb)
		s.order = append(s.order, ord)
		s.vector[o] = seq
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes in state", ErrMalformed, len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return s, nil
}
