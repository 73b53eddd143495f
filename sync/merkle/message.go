package merkle

import (
	"encoding/binary"
	"fmt"
)

// Mark is the initiator's verdict on one node of a response.
type Mark uint8

const (
	// MarkEqual: both sides hold the same entries under the node.
	MarkEqual Mark = 0
	// MarkDescend: the node differs; the next response hashes its
	// descendants.
	MarkDescend Mark = 1
	// MarkExchange: the node differs and is small (one side has no entries
	// under it, or each side at most one); both sides send the other their
	// entries in it.
	MarkExchange Mark = 2
	// MarkList: the node differs and the responder has few entries under
	// it; the next response lists them (KeyHash prefix and hash), so the
	// initiator can tell exactly which differ without descending further.
	MarkList Mark = 3
)

// Listed is one entry (or the entries sharing one 64-bit KeyHash prefix) of
// a node marked MarkList: the level-64 node with that prefix.
type Listed struct {
	// Prefix is the first 8 bytes of the KeyHash, big-endian.
	Prefix uint64
	// NodeHash is the level-64 node's hash and count (1 but for prefix
	// collisions).
	NodeHash
}

// NodeHash is a node as the protocol sends it: the first lane of its sum
// and its count.
type NodeHash struct {
	// Hash is Node.Sum[0].
	Hash uint64
	// Count is Node.Count.
	Count uint64
}

func shortOf(n Node) NodeHash { return NodeHash{Hash: n.short(), Count: n.Count} }

// Request is a message from the initiator to the responder.
type Request struct {
	// Start opens a session. Root is then the initiator's root node.
	Start bool
	// Root is the initiator's root (only with Start).
	Root Node
	// Marks holds one Mark per node of the previous response, in order
	// (empty with Start and FullSync).
	Marks []Mark
	// Levels is how many levels below each node marked MarkDescend (below
	// the root, with Start) the next response hashes. 0 with Done and
	// FullSync.
	Levels int
	// Done ends the session: no node is marked MarkDescend and no response
	// follows. The Marks are final.
	Done bool
	// FullSync ends the session with the decision to stream a snapshot
	// instead of exchanging entries.
	FullSync bool
	// Coded carries sketch symbols (the coded fast path). It is not part
	// of MarshalBinary: the wire carries it in a field of its own.
	Coded *CodedRequest
}

// Response is a message from the responder to the initiator.
type Response struct {
	// InSync says the roots are equal: the session is over.
	InSync bool
	// Root is the responder's root node (only in reply to Start).
	Root Node
	// HasRoot says Root is set.
	HasRoot bool
	// Nodes holds, for each node the request asked to expand (in order), its
	// 2^Levels descendants in KeyHash order except the last, which the
	// initiator derives from the parent: the sum and count of a node are the
	// sums of its children's.
	Nodes []NodeHash
	// Lists holds, for each node the request marked MarkList (in order),
	// the responder's entries under it in ascending prefix order.
	Lists [][]Listed
	// Coded answers the request's Coded symbols. It is not part of
	// MarshalBinary: the wire carries it in a field of its own.
	Coded *CodedResponse
}

const (
	wireVersion = 1

	reqStart    = 1
	reqDone     = 2
	reqFullSync = 4

	respInSync  = 1
	respHasRoot = 2
)

// MarshalBinary encodes r: a version byte, a flags byte, the levels byte,
// the 40-byte root with Start, then a uvarint mark count and the marks
// packed four to a byte (low bits first).
func (r *Request) MarshalBinary() ([]byte, error) {
	if r.Levels < 0 || r.Levels > maxJump {
		return nil, fmt.Errorf("%w: request levels %d", ErrInvalidMessage, r.Levels)
	}
	b := make([]byte, 0, r.Size())
	var flags byte
	if r.Start {
		flags |= reqStart
	}
	if r.Done {
		flags |= reqDone
	}
	if r.FullSync {
		flags |= reqFullSync
	}
	b = append(b, wireVersion, flags, byte(r.Levels))
	if r.Start {
		b = r.Root.AppendBinary(b)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Marks)))
	packed := make([]byte, (len(r.Marks)+3)/4)
	for i, m := range r.Marks {
		if m > MarkList {
			return nil, fmt.Errorf("%w: mark %d of node %d", ErrInvalidMessage, m, i)
		}
		packed[i/4] |= byte(m) << (2 * (i % 4))
	}
	return append(b, packed...), nil
}

// Size returns the length of r's encoding, plus that of Coded.
func (r *Request) Size() int {
	n := 3 + uvarintLen(uint64(len(r.Marks))) + (len(r.Marks)+3)/4
	if r.Start {
		n += NodeSize
	}
	if r.Coded != nil {
		n += r.Coded.Size()
	}
	return n
}

// UnmarshalBinary decodes a request, rejecting more than maxMarks marks
// before allocating them.
func (r *Request) UnmarshalBinary(b []byte, maxMarks int) error {
	*r = Request{}
	if len(b) < 3 {
		return fmt.Errorf("%w: request of %d bytes", ErrInvalidMessage, len(b))
	}
	if b[0] != wireVersion {
		return fmt.Errorf("%w: request version %d, want %d", ErrInvalidMessage, b[0], wireVersion)
	}
	flags := b[1]
	if flags&^(reqStart|reqDone|reqFullSync) != 0 {
		return fmt.Errorf("%w: unknown request flags %#x", ErrInvalidMessage, flags)
	}
	r.Start, r.Done, r.FullSync = flags&reqStart != 0, flags&reqDone != 0, flags&reqFullSync != 0
	r.Levels = int(b[2])
	if r.Levels > maxJump {
		return fmt.Errorf("%w: request levels %d above %d", ErrInvalidMessage, r.Levels, maxJump)
	}
	b = b[3:]
	if r.Start {
		var err error
		if r.Root, b, err = readRoot(b, "request"); err != nil {
			return err
		}
	}
	n, b, err := readCount(b, "request marks", maxMarks)
	if err != nil {
		return err
	}
	if uint64(len(b)) != (n+3)/4 {
		return fmt.Errorf("%w: %d bytes of marks for %d marks", ErrInvalidMessage, len(b), n)
	}
	r.Marks = make([]Mark, n)
	for i := range r.Marks {
		r.Marks[i] = Mark(b[i/4] >> (2 * (i % 4)) & 3)
	}
	return nil
}

// MarshalBinary encodes r: a version byte, a flags byte, the 40-byte root
// if HasRoot, a uvarint node count, then per node its 8-byte little-endian
// hash and uvarint count, then a uvarint list count and per list a uvarint
// length and per entry its 8-byte big-endian prefix, hash and uvarint count.
func (r *Response) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, r.Size())
	var flags byte
	if r.InSync {
		flags |= respInSync
	}
	if r.HasRoot {
		flags |= respHasRoot
	}
	b = append(b, wireVersion, flags)
	if r.HasRoot {
		b = r.Root.AppendBinary(b)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Nodes)))
	for _, n := range r.Nodes {
		b = binary.LittleEndian.AppendUint64(b, n.Hash)
		b = binary.AppendUvarint(b, n.Count)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Lists)))
	for _, l := range r.Lists {
		b = binary.AppendUvarint(b, uint64(len(l)))
		for _, e := range l {
			b = binary.BigEndian.AppendUint64(b, e.Prefix)
			b = binary.LittleEndian.AppendUint64(b, e.Hash)
			b = binary.AppendUvarint(b, e.Count)
		}
	}
	return b, nil
}

// Size returns the length of r's encoding, plus that of Coded.
func (r *Response) Size() int {
	n := 2 + uvarintLen(uint64(len(r.Nodes)))
	if r.Coded != nil {
		n += r.Coded.Size()
	}
	if r.HasRoot {
		n += NodeSize
	}
	for _, x := range r.Nodes {
		n += 8 + uvarintLen(x.Count)
	}
	n += uvarintLen(uint64(len(r.Lists)))
	for _, l := range r.Lists {
		n += uvarintLen(uint64(len(l)))
		for _, e := range l {
			n += 16 + uvarintLen(e.Count)
		}
	}
	return n
}

// UnmarshalBinary decodes a response, rejecting more than maxNodes nodes
// (hashes and listed entries together) before allocating them.
func (r *Response) UnmarshalBinary(b []byte, maxNodes int) error {
	*r = Response{}
	if len(b) < 2 {
		return fmt.Errorf("%w: response of %d bytes", ErrInvalidMessage, len(b))
	}
	if b[0] != wireVersion {
		return fmt.Errorf("%w: response version %d, want %d", ErrInvalidMessage, b[0], wireVersion)
	}
	flags := b[1]
	if flags&^(respInSync|respHasRoot) != 0 {
		return fmt.Errorf("%w: unknown response flags %#x", ErrInvalidMessage, flags)
	}
	r.InSync, r.HasRoot = flags&respInSync != 0, flags&respHasRoot != 0
	b = b[2:]
	if r.HasRoot {
		var err error
		if r.Root, b, err = readRoot(b, "response"); err != nil {
			return err
		}
	}
	n, b, err := readCount(b, "response nodes", maxNodes)
	if err != nil {
		return err
	}
	if uint64(len(b)) < 9*n {
		return fmt.Errorf("%w: %d bytes for %d nodes", ErrInvalidMessage, len(b), n)
	}
	r.Nodes = make([]NodeHash, n)
	for i := range r.Nodes {
		if len(b) < 9 {
			return fmt.Errorf("%w: node %d truncated", ErrInvalidMessage, i)
		}
		r.Nodes[i].Hash = binary.LittleEndian.Uint64(b)
		c, k := binary.Uvarint(b[8:])
		if k <= 0 {
			return fmt.Errorf("%w: node %d count truncated", ErrInvalidMessage, i)
		}
		r.Nodes[i].Count, b = c, b[8+k:]
	}
	nl, k := binary.Uvarint(b)
	if k <= 0 {
		return fmt.Errorf("%w: response list count truncated", ErrInvalidMessage)
	}
	b = b[k:]
	budget := uint64(maxNodes) - n
	if nl > budget || uint64(len(b)) < nl {
		return fmt.Errorf("%w: %d lists", ErrMessageTooLarge, nl)
	}
	if nl > 0 {
		r.Lists = make([][]Listed, nl)
	}
	for i := range r.Lists {
		m, k := binary.Uvarint(b)
		if k <= 0 {
			return fmt.Errorf("%w: list %d length truncated", ErrInvalidMessage, i)
		}
		b = b[k:]
		if m > budget {
			return fmt.Errorf("%w: list of %d entries, %d left of limit %d", ErrMessageTooLarge, m, budget, maxNodes)
		}
		budget -= m
		if uint64(len(b)) < 17*m {
			return fmt.Errorf("%w: %d bytes for a list of %d", ErrInvalidMessage, len(b), m)
		}
		l := make([]Listed, m)
		for j := range l {
			if len(b) < 17 {
				return fmt.Errorf("%w: list %d entry %d truncated", ErrInvalidMessage, i, j)
			}
			l[j].Prefix = binary.BigEndian.Uint64(b)
			l[j].Hash = binary.LittleEndian.Uint64(b[8:])
			c, k := binary.Uvarint(b[16:])
			if k <= 0 {
				return fmt.Errorf("%w: list %d entry %d count truncated", ErrInvalidMessage, i, j)
			}
			l[j].Count, b = c, b[16+k:]
		}
		r.Lists[i] = l
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes in response", ErrInvalidMessage, len(b))
	}
	return nil
}

// uvarintLen is the encoded size of v as a uvarint.
func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// readRoot decodes the root node at the start of b.
func readRoot(b []byte, what string) (Node, []byte, error) {
	if len(b) < NodeSize {
		return Node{}, nil, fmt.Errorf("%w: %s root truncated", ErrInvalidMessage, what)
	}
	root, err := DecodeNode(b[:NodeSize])
	if err != nil {
		return Node{}, nil, fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	return root, b[NodeSize:], nil
}

// readCount decodes a uvarint element count at the start of b and checks
// it against limit before anything is allocated for it.
func readCount(b []byte, what string, limit int) (uint64, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return 0, nil, fmt.Errorf("%w: %s count truncated", ErrInvalidMessage, what)
	}
	if n > uint64(limit) {
		return 0, nil, fmt.Errorf("%w: %d %s, limit %d", ErrMessageTooLarge, n, what, limit)
	}
	return n, b[k:], nil
}
