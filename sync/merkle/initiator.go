package merkle

import (
	"fmt"
	"math"

	"github.com/murmur-p2p/murmur/sync/riblt"
)

// startLevels is how far below the root the first response hashes: 15
// hashes (about 140 bytes) that split the key space into 16 parts.
const startLevels = 4

// Initiator is the active side of one reconciliation session: it decides
// which nodes differ and how deep each round descends. Use it as
//
//	req, err := ini.Start()
//	for req != nil && err == nil {
//		if req.Done || req.FullSync {
//			send(req) // the last message; the responder does not answer it
//			break
//		}
//		resp := sendAndWait(req) // the peer answers with Responder.Handle
//		req, err = ini.Step(resp)
//	}
//	res := ini.Result() // InSync, FullSync, Ranges, bytes, round trips
//
// Step returns a nil request when the roots were equal. A session holds
// no clock: the caller drops it if the peer does not answer in time, and
// must not run it concurrently with writes to the tree.
type Initiator struct {
	cfg  Config
	tree *Tree
	src  Source

	pending      []Range    // nodes the awaited response descends into or lists
	pendingMarks []Mark     // MarkDescend or MarkList for each
	theirs       []NodeHash // the responder's values of those nodes
	levels       int        // levels below each MarkDescend node
	state        int        // 0 new, 1 waiting for a response, 2 done
	deep         map[uint64]struct{}
	shallow      float64 // expected differing leaves under exchange ranges above leaf level
	coded        bool    // the coded fast path is running
	codedNext    int     // index of the next sketch symbol to send
	probed       bool    // the estimation probes were sent
	merkle       bool    // a Merkle response has been received
	result       Result
}

// NewInitiator returns an initiator over tree and src (the same state).
func NewInitiator(cfg Config, tree *Tree, src Source) (*Initiator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Initiator{
		cfg: cfg, tree: tree, src: src,
		deep:   map[uint64]struct{}{},
		result: Result{Leaves: int(tree.NumLeaves())},
	}, nil
}

// Done reports whether the session is over.
func (s *Initiator) Done() bool { return s.state == 2 }

// Result returns what the session found; it is complete once Done.
func (s *Initiator) Result() Result { return s.result }

// Start returns the first request: the root and how deep to look.
func (s *Initiator) Start() (*Request, error) {
	if s.state != 0 {
		return nil, fmt.Errorf("merkle initiator: start twice: %w", ErrSessionDone)
	}
	s.state = 1
	s.pending, s.pendingMarks = []Range{{}}, []Mark{MarkDescend}
	s.levels = startLevels
	req := &Request{Start: true, Root: s.tree.Root(), Levels: startLevels}
	if sk := s.tree.Sketch(); sk != nil && !s.cfg.NoCoded {
		k := 3 // decodes one or two differences; cheap when the guess is wrong
		if s.cfg.ExpectedDifferences > 0 {
			k = riblt.SymbolsFor(s.cfg.ExpectedDifferences)
		}
		if k <= sk.Len() { // else expect more differences than the sketch decodes
			req.Coded = &CodedRequest{Count: uint64(max(sk.Count(), 0)), Symbols: sk.Symbols(0, k)}
			s.coded, s.codedNext = true, k
		}
	}
	s.result.BytesSent += req.Size()
	return req, nil
}

// stepCoded handles a response to coded symbols: it returns done (the
// difference was decoded), or the next request, or neither when the
// response falls back to the Merkle path and step goes on with it.
func (s *Initiator) stepCoded(resp *Response) (done bool, next *Request, err error) {
	c := resp.Coded
	if c == nil {
		s.coded = false // a responder without the coded path answered the Merkle way
		return false, nil, nil
	}
	if !s.coded {
		return false, nil, fmt.Errorf("%w: coded answer to a Merkle request", ErrInvalidMessage)
	}
	merkleToo := resp.InSync || resp.HasRoot || len(resp.Nodes) > 0 || len(resp.Lists) > 0
	switch c.Status {
	case CodedDecoded:
		if merkleToo {
			return false, nil, fmt.Errorf("%w: decoded coded answer with Merkle nodes", ErrInvalidMessage)
		}
		s.state = 2
		s.result.Coded = true
		s.result.Ranges = prefixRanges(c.Prefixes)
		s.result.DifferingLeaves = countLeaves(s.tree, s.result.Ranges)
		return true, nil, nil
	case CodedMore:
		if merkleToo {
			return false, nil, fmt.Errorf("%w: coded ask with Merkle nodes", ErrInvalidMessage)
		}
		sk := s.tree.Sketch()
		n := min(c.Want, sk.Len()-s.codedNext) // none left: the responder falls back
		req := &Request{Coded: &CodedRequest{From: s.codedNext, Symbols: sk.Symbols(s.codedNext, s.codedNext+n)}}
		if !s.probed && sk.Len() >= ProbeIndex+ProbeCount {
			s.probed = true
			req.Coded.Probes = sk.Symbols(ProbeIndex, ProbeIndex+ProbeCount)
		}
		s.codedNext += n
		return false, req, nil
	}
	s.coded = false // CodedFallback: the Merkle answer to Start is in resp
	return false, nil, nil
}

// Step processes the responder's answer to the last request and returns the
// next request: nil if the session ended in sync, otherwise a request to
// send (the last one has Done or FullSync set). An error means the peer sent
// something inconsistent; the session is then over.
func (s *Initiator) Step(resp *Response) (*Request, error) {
	req, err := s.step(resp)
	if err != nil {
		s.state = 2
		return nil, fmt.Errorf("merkle initiator: %w", err)
	}
	if req != nil {
		s.result.BytesSent += req.Size()
	}
	return req, nil
}

func (s *Initiator) step(resp *Response) (*Request, error) {
	if s.state != 1 {
		return nil, ErrSessionDone
	}
	s.result.RoundTrips++
	s.result.BytesReceived += resp.Size()
	s.result.NodesCompared += len(resp.Nodes)
	if s.coded || resp.Coded != nil {
		done, next, err := s.stepCoded(resp)
		if err != nil || done || next != nil {
			return next, err
		}
	}
	first := !s.merkle
	s.merkle = true
	if resp.InSync {
		if !first {
			return nil, fmt.Errorf("%w: in-sync answer in round %d", ErrInvalidMessage, s.result.RoundTrips)
		}
		s.state = 2
		s.result.InSync = true
		return nil, nil
	}
	if first {
		if !resp.HasRoot {
			return nil, fmt.Errorf("%w: first response without a root", ErrInvalidMessage)
		}
		s.theirs = []NodeHash{shortOf(resp.Root)}
	} else if resp.HasRoot {
		return nil, fmt.Errorf("%w: root in round %d", ErrInvalidMessage, s.result.RoundTrips)
	}
	per := 1<<s.levels - 1
	nodes, lists := resp.Nodes, resp.Lists

	var c compare
	for i, p := range s.pending {
		if s.pendingMarks[i] == MarkList {
			if len(lists) == 0 {
				return nil, fmt.Errorf("%w: missing list for %s", ErrInvalidMessage, p)
			}
			if err := s.compareList(&c, p, s.theirs[i], lists[0]); err != nil {
				return nil, err
			}
			lists = lists[1:]
			continue
		}
		if len(nodes) < per {
			return nil, fmt.Errorf("%w: missing hashes for %s", ErrInvalidMessage, p)
		}
		if err := s.compareChildren(&c, p, s.theirs[i], nodes[:per]); err != nil {
			return nil, err
		}
		nodes = nodes[per:]
	}
	if len(nodes) != 0 || len(lists) != 0 {
		return nil, fmt.Errorf("%w: %d hashes and %d lists more than asked for", ErrInvalidMessage, len(nodes), len(lists))
	}

	var next []Range
	var nextTheirs []NodeHash
	var nextMarks []Mark
	descend := 0
	for i, m := range c.marks {
		if m == MarkDescend || m == MarkList {
			next, nextTheirs, nextMarks = append(next, c.frontier[i]), append(nextTheirs, c.theirs[i]), append(nextMarks, m)
			if m == MarkDescend {
				descend++
			}
		}
	}
	s.result.DifferingLeaves = s.estimateLeaves(next)
	if s.cfg.FullSyncThreshold < 1 && float64(s.result.DifferingLeaves) >= s.cfg.FullSyncThreshold*float64(s.result.Leaves) {
		s.state = 2
		s.result.FullSync = true
		return &Request{FullSync: true, Marks: c.marks}, nil
	}
	if len(next) == 0 {
		s.state = 2
		sortRanges(s.result.Ranges)
		return &Request{Done: true, Marks: c.marks}, nil
	}
	k := 1
	if descend > 0 {
		k = s.nextLevels(c.compared, c.differing, descend, c.level)
	}
	s.pending, s.theirs, s.pendingMarks, s.levels = next, nextTheirs, nextMarks, k
	return &Request{Marks: c.marks, Levels: k}, nil
}

// compare collects the new frontier while a response is processed.
type compare struct {
	frontier  []Range
	theirs    []NodeHash
	marks     []Mark
	compared  int // descended-into children compared
	differing int // of which differ
	level     int // their level
}

func (c *compare) add(r Range, t NodeHash, m Mark) {
	c.frontier, c.theirs, c.marks = append(c.frontier, r), append(c.theirs, t), append(c.marks, m)
}

// compareChildren compares the descendants of p (whose responder value is
// parent) with ours; got holds all but the last, which is derived.
func (s *Initiator) compareChildren(c *compare, p Range, parent NodeHash, got []NodeHash) error {
	mine, err := s.tree.children(s.src, p, s.levels)
	if err != nil {
		return err
	}
	last := parent
	for _, x := range got {
		if x.Count > last.Count {
			return fmt.Errorf("%w: children of %s count more than the node", ErrInvalidMessage, p)
		}
		last.Count -= x.Count
		last.Hash -= x.Hash
	}
	c.level = int(p.Level) + s.levels
	for j := range mine {
		t := last
		if j < len(got) {
			t = got[j]
		}
		r := p.child(s.levels, uint64(j))
		m := s.decide(r, shortOf(mine[j]), t)
		c.add(r, t, m)
		c.compared++
		if m != MarkEqual {
			c.differing++
		}
		if m == MarkExchange {
			s.result.Ranges = append(s.result.Ranges, r)
			s.noteExchange(r, max(mine[j].Count, t.Count))
		}
	}
	return nil
}

// compareList matches the responder's entries under p (whose responder
// value is parent) with ours. Entries only we hold become exchange ranges
// outright; the responder's become level-64 frontier nodes.
func (s *Initiator) compareList(c *compare, p Range, parent NodeHash, theirs []Listed) error {
	var sum NodeHash
	for i, e := range theirs {
		if e.Count == 0 || !p.Contains(prefixHash(e.Prefix)) || (i > 0 && e.Prefix <= theirs[i-1].Prefix) {
			return fmt.Errorf("%w: listed entry %x of %s out of order, outside or empty", ErrInvalidMessage, e.Prefix, p)
		}
		sum.Count += e.Count
		sum.Hash += e.Hash
	}
	if sum != parent {
		return fmt.Errorf("%w: list of %s does not add up to its node", ErrInvalidMessage, p)
	}
	mine, err := list(s.src, p, int(^uint(0)>>1))
	if err != nil {
		return err
	}
	for len(mine) > 0 || len(theirs) > 0 {
		switch {
		case len(theirs) == 0 || (len(mine) > 0 && mine[0].Prefix < theirs[0].Prefix):
			r := Range{Level: MaxLevel, Prefix: mine[0].Prefix}
			s.result.Ranges = append(s.result.Ranges, r)
			s.noteExchange(r, mine[0].Count)
			mine = mine[1:]
		case len(mine) == 0 || theirs[0].Prefix < mine[0].Prefix:
			r := Range{Level: MaxLevel, Prefix: theirs[0].Prefix}
			c.add(r, theirs[0].NodeHash, MarkExchange)
			s.result.Ranges = append(s.result.Ranges, r)
			s.noteExchange(r, theirs[0].Count)
			theirs = theirs[1:]
		default:
			r := Range{Level: MaxLevel, Prefix: theirs[0].Prefix}
			m := s.decide(r, mine[0].NodeHash, theirs[0].NodeHash)
			c.add(r, theirs[0].NodeHash, m)
			if m == MarkExchange {
				s.result.Ranges = append(s.result.Ranges, r)
				s.noteExchange(r, 1)
			}
			mine, theirs = mine[1:], theirs[1:]
		}
	}
	return nil
}

// prefixHash returns a KeyHash that starts with prefix.
func prefixHash(prefix uint64) KeyHash {
	return Range{Level: MaxLevel, Prefix: prefix}.First()
}

// decide marks one frontier node from our and their values.
func (s *Initiator) decide(r Range, mine, theirs NodeHash) Mark {
	switch {
	case mine == theirs:
		return MarkEqual
	case mine.Count == 0 || theirs.Count == 0,
		mine.Count <= 1 && theirs.Count <= 1,
		r.Level >= MaxLevel:
		return MarkExchange
	case s.cfg.ListThreshold > 0 && theirs.Count <= uint64(s.cfg.ListThreshold):
		return MarkList
	}
	return MarkDescend
}

// noteExchange adds an exchange range to the differing-leaf estimate.
func (s *Initiator) noteExchange(r Range, count uint64) {
	d := s.tree.Depth()
	if int(r.Level) >= d {
		s.deep[r.ancestor(d).Prefix] = struct{}{}
		return
	}
	// count entries fall into 2^(d-level) leaves: expected occupied leaves.
	m := math.Ldexp(1, d-int(r.Level))
	s.shallow += m * -math.Expm1(-float64(count)/m)
}

// estimateLeaves returns the differing leaves found so far plus at least one
// per node still to descend into.
func (s *Initiator) estimateLeaves(pending []Range) int {
	d := s.tree.Depth()
	extra := 0
	var more map[uint64]struct{}
	for _, r := range pending {
		if int(r.Level) < d {
			extra++
			continue
		}
		a := r.ancestor(d).Prefix
		if _, ok := s.deep[a]; ok {
			continue
		}
		if more == nil {
			more = map[uint64]struct{}{}
		}
		more[a] = struct{}{}
	}
	return len(s.deep) + len(more) + extra + int(math.Round(s.shallow))
}

// nextLevels chooses how many levels the next round descends below each of
// the pending nodes (all at level). While most compared nodes differ, the
// differing keys are dense and the jump goes to where about one differing
// key lies under each node (estimated from the fraction that differ, as
// for balls in bins); once they are sparse it is Config.LevelsPerRound.
func (s *Initiator) nextLevels(compared, differing, pending, level int) int {
	f := float64(differing) / float64(compared)
	perNode := 8.0 // all differ: at least as dense as we can tell
	if f < 1 {
		perNode = -math.Log1p(-f) / f // mean differing keys per differing node
	}
	k := max(s.cfg.LevelsPerRound, int(math.Floor(math.Log2(perNode))))
	k = min(k, s.cfg.MaxLevelsPerRound, MaxLevel-level)
	for k > 1 && pending*(1<<k-1) > s.cfg.MaxNodesPerMessage {
		k--
	}
	return k
}
