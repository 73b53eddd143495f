package merkle

import "fmt"

// Responder is the passive side of one reconciliation session. It answers
// each Request with a Response until a request says Done or FullSync. It
// keeps the list of nodes it last sent, at most Config.MaxNodesPerMessage.
type Responder struct {
	cfg      Config
	tree     *Tree
	src      Source
	frontier []Range // nodes of the last response, in order
	coded    *codedResponder
	levels   int // the Start request's levels, for a coded fallback
	started  bool
	done     bool
	result   Result
}

// NewResponder returns a responder over tree and src (the same state).
func NewResponder(cfg Config, tree *Tree, src Source) (*Responder, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Responder{cfg: cfg, tree: tree, src: src, result: Result{Leaves: int(tree.NumLeaves())}}, nil
}

// Done reports whether the session is over.
func (s *Responder) Done() bool { return s.done }

// Result returns what the session found; it is complete once Done. Its
// Ranges are those the responder has to send its entries in; the
// initiator's may hold more (ranges only the initiator has entries in).
func (s *Responder) Result() Result { return s.result }

// Handle processes req and returns the response to send, or nil when req
// ended the session. An error means the peer sent something inconsistent;
// the session is then over and the caller should drop it.
func (s *Responder) Handle(req *Request) (*Response, error) {
	resp, err := s.handle(req)
	if err != nil {
		s.done = true
		return nil, fmt.Errorf("merkle responder: %w", err)
	}
	s.result.BytesReceived += req.Size()
	if resp != nil {
		s.result.BytesSent += resp.Size()
		s.result.NodesCompared += len(resp.Nodes)
		s.result.RoundTrips++
	}
	return resp, nil
}

func (s *Responder) handle(req *Request) (*Response, error) {
	switch {
	case s.done:
		return nil, ErrSessionDone
	case req.Start != !s.started:
		return nil, fmt.Errorf("%w: start flag %v in round %d", ErrInvalidMessage, req.Start, s.result.RoundTrips)
	}
	if req.Start {
		s.started = true
		root := s.tree.Root()
		if root == req.Root {
			s.done = true
			s.result.InSync = true
			return &Response{InSync: true}, nil
		}
		s.levels = req.Levels
		if req.Coded != nil && s.tree.Sketch() != nil && req.Coded.From == 0 {
			s.coded = &codedResponder{count: req.Coded.Count}
			return s.handleCoded(req.Coded)
		}
		return s.answerStart()
	}
	if s.coded != nil {
		if req.Coded == nil {
			return nil, fmt.Errorf("%w: Merkle request during the coded exchange", ErrInvalidMessage)
		}
		return s.handleCoded(req.Coded)
	}
	if s.result.RoundTrips > maxRounds {
		return nil, fmt.Errorf("%w: session still going after %d rounds", ErrInvalidMessage, s.result.RoundTrips)
	}
	if len(req.Marks) != len(s.frontier) {
		return nil, fmt.Errorf("%w: %d marks for %d nodes", ErrInvalidMessage, len(req.Marks), len(s.frontier))
	}
	if req.FullSync {
		s.done = true
		s.result.FullSync = true
		return nil, nil
	}
	open := false
	for i, m := range req.Marks {
		switch m {
		case MarkExchange:
			s.result.Ranges = append(s.result.Ranges, s.frontier[i])
		case MarkDescend, MarkList:
			open = true
		}
	}
	if req.Done {
		if open {
			return nil, fmt.Errorf("%w: done with nodes marked to descend or list", ErrInvalidMessage)
		}
		s.done = true
		sortRanges(s.result.Ranges)
		s.result.DifferingLeaves = countLeaves(s.tree, s.result.Ranges)
		return nil, nil
	}
	if !open {
		return nil, fmt.Errorf("%w: nothing to descend into and not done", ErrInvalidMessage)
	}
	resp, frontier, err := answer(s.tree, s.src, s.frontier, req.Marks, req.Levels, s.cfg.MaxNodesPerMessage)
	if err != nil {
		return nil, err
	}
	s.frontier = frontier
	return resp, nil
}

// answerStart answers the Start request the Merkle way.
func (s *Responder) answerStart() (*Response, error) {
	resp, frontier, err := answer(s.tree, s.src, []Range{{}}, []Mark{MarkDescend}, s.levels, s.cfg.MaxNodesPerMessage)
	if err != nil {
		return nil, err
	}
	resp.HasRoot, resp.Root = true, s.tree.Root()
	s.frontier = frontier
	return resp, nil
}

// handleCoded feeds coded symbols and answers: the decoded difference,
// an ask for more, or the Merkle answer to Start.
func (s *Responder) handleCoded(req *CodedRequest) (*Response, error) {
	c, err := s.coded.feed(s.tree, req)
	if err != nil {
		return nil, err
	}
	switch c.Status {
	case CodedDecoded:
		s.done = true
		s.result.Coded = true
		s.result.Ranges = prefixRanges(c.Prefixes)
		s.result.DifferingLeaves = countLeaves(s.tree, s.result.Ranges)
		return &Response{Coded: c}, nil
	case CodedMore:
		return &Response{Coded: c}, nil
	}
	s.coded = nil
	resp, err := s.answerStart()
	if err != nil {
		return nil, err
	}
	resp.Coded = c
	return resp, nil
}

// maxRounds bounds a session: every round descends at least one level of
// at most MaxLevel, and a list round reaches the last level at once.
const maxRounds = MaxLevel + 2

// answer builds the response to marks over frontier: for each node marked
// MarkDescend the hashes of its descendants k levels down (all but the
// last), for each marked MarkList its entries. It returns the new frontier:
// those descendants and level-64 nodes of the listed entries, in order.
func answer(t *Tree, src Source, frontier []Range, marks []Mark, k, maxNodes int) (*Response, []Range, error) {
	per := 1<<k - 1
	budget := maxNodes
	for i, p := range frontier {
		if marks[i] != MarkDescend {
			continue
		}
		if k < 1 || k > maxJump || int(p.Level)+k > MaxLevel {
			return nil, nil, fmt.Errorf("%w: descend %d levels below %s", ErrInvalidMessage, k, p)
		}
		if budget -= per; budget < 0 {
			return nil, nil, fmt.Errorf("%w: more than %d hashes asked for", ErrMessageTooLarge, maxNodes)
		}
	}
	resp := &Response{}
	var next []Range
	for i, p := range frontier {
		switch marks[i] {
		case MarkDescend:
			ch, err := t.children(src, p, k)
			if err != nil {
				return nil, nil, err
			}
			for j, c := range ch {
				if j < per {
					resp.Nodes = append(resp.Nodes, shortOf(c))
				}
				next = append(next, p.child(k, uint64(j)))
			}
		case MarkList:
			if p.Level >= MaxLevel {
				return nil, nil, fmt.Errorf("%w: list asked for at level %d", ErrInvalidMessage, p.Level)
			}
			if int(p.Level) <= t.Depth() && t.Node(p).Count > uint64(budget) {
				return nil, nil, fmt.Errorf("%w: listing %d entries of %s, %d left", ErrMessageTooLarge, t.Node(p).Count, p, budget)
			}
			l, err := list(src, p, budget)
			if err != nil {
				return nil, nil, err
			}
			budget -= len(l)
			resp.Lists = append(resp.Lists, l)
			for _, e := range l {
				next = append(next, Range{Level: MaxLevel, Prefix: e.Prefix})
			}
		}
	}
	return resp, next, nil
}

// list returns the entries of src under r grouped by 64-bit prefix, failing
// with ErrMessageTooLarge past limit of them.
func list(src Source, r Range, limit int) ([]Listed, error) {
	var out []Listed
	var sum Sum
	var cur *Listed
	flush := func() {
		if cur != nil {
			cur.Hash = sum[0]
			out = append(out, *cur)
		}
	}
	var over error
	err := src.Scan(r.First(), func(e Entry) bool {
		if !r.Contains(e.KeyHash) {
			return false
		}
		p := e.KeyHash.Prefix64()
		if cur == nil || cur.Prefix != p {
			flush()
			if len(out) >= limit {
				over = fmt.Errorf("%w: more than %d entries under %s", ErrMessageTooLarge, limit, r)
				return false
			}
			cur, sum = &Listed{Prefix: p}, Sum{}
		}
		cur.Count++
		sum = sum.add(entrySum(e))
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("merkle: list %s: %w", r, err)
	}
	if over != nil {
		return nil, over
	}
	flush()
	return out, nil
}

// countLeaves counts the leaves of t that the ranges touch: distinct leaf
// ancestors of deep ranges, and for a range above leaf level the leaves
// under it that t has entries in (at least one).
func countLeaves(t *Tree, ranges []Range) int {
	d := t.Depth()
	seen := map[uint64]struct{}{}
	n := 0
	for _, r := range ranges {
		if int(r.Level) >= d {
			seen[r.ancestor(d).Prefix] = struct{}{}
			continue
		}
		lo := r.Prefix << uint(d-int(r.Level))
		hi := lo + 1<<uint(d-int(r.Level))
		c := 0
		for i := lo; i < hi; i++ {
			if t.Leaf(i).Count > 0 {
				c++
			}
		}
		n += max(c, 1)
	}
	return n + len(seen)
}
