package simtest

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/murmur-p2p/murmur/security"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// Config describes a simulated network.
type Config struct {
	// Nodes is the number of engines.
	Nodes int
	// Seed makes the run reproducible: keys, views, latencies, losses and
	// every engine's randomness derive from it.
	Seed uint64
	// View is the size of each node's initial random partial view
	// (0: everyone knows everyone). Views are made symmetric.
	View int
	// LatencyMin and LatencyMax bound the uniform one-way latency.
	LatencyMin, LatencyMax time.Duration
	// FixedLinkLatency gives every link one latency, drawn from the seed
	// (LinkLatency), instead of a fresh draw per message (the default): then
	// the fastest possible delivery is a shortest path over the views
	// (EagerBound), which the benchmark compares against.
	FixedLinkLatency bool
	// Loss is the probability that a message is dropped.
	Loss float64
	// TickInterval is how often every engine gets a Tick.
	TickInterval time.Duration
	// Engine adjusts each engine's configuration (Signer, Verifier, Store and
	// Rand are set by the simulator). Nil keeps sync.DefaultConfig.
	Engine func(*replica.Config)
	// OnChange, if set, sees every change every node delivers.
	OnChange func(node int, c replica.Change)
	// Liars maps the nodes that lie to their strategy (adversary.go): their
	// engines run as usual, but what they send is rewritten and every
	// LieInterval they send forged messages. Empty: an honest network.
	Liars map[int]Strategy
	// LieInterval is how often liars act (default 500 ms).
	LieInterval time.Duration
}

// Node is one simulated node.
type Node struct {
	// ID is the node's peer ID.
	ID replica.PeerID
	// Store survives crashes.
	Store  *replica.MemStore
	signer *security.Signer
	eng    *replica.Engine
	view   []int
	// depth is the largest message depth this node has processed.
	depth int
}

// Engine returns the node's engine, nil while it is down.
func (n *Node) Engine() *replica.Engine { return n.eng }

// Up reports whether the node is running.
func (n *Node) Up() bool { return n.eng != nil }

// Sim is a simulated network of engines.
type Sim struct {
	cfg      Config
	rnd      *rand.Rand
	start    time.Time
	now      time.Time
	nextTick time.Time
	nodes    []*Node
	index    map[replica.PeerID]int
	queue    flight
	sendSeq  uint64
	group    []int
	// Errors counts Step errors (they must stay zero in honest networks).
	Errors int
	// LastError is the last Step error, for reports.
	LastError error
	// Delivered counts messages handed to engines; Dropped those lost.
	Delivered, Dropped uint64
	// liars holds the state of the lying nodes; nextLie is when they act.
	liars   map[int]*liar
	nextLie time.Time
	// rcvDepth records, per event ID, the message depth at which each node
	// received it (for rounds-to-delivery); only for tracked events.
	tracked map[replica.EventID]*Tracking
}

// Tracking records the spread of one event.
type Tracking struct {
	// Created is when the event was written.
	Created time.Time
	// At is when each node got it (zero: not yet); Depth the message depth.
	At    []time.Time
	Depth []int
	// Count is how many nodes hold it.
	Count int
}

// New builds a network of cfg.Nodes engines with deterministic keys.
func New(cfg Config) (*Sim, error) {
	if cfg.Nodes < 2 {
		return nil, fmt.Errorf("simtest: need at least 2 nodes, got %d", cfg.Nodes)
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = 20 * time.Millisecond
	}
	if cfg.LatencyMax == 0 && cfg.LatencyMin == 0 {
		cfg.LatencyMin, cfg.LatencyMax = 10*time.Millisecond, 50*time.Millisecond
	}
	s := &Sim{
		cfg:     cfg,
		rnd:     rand.New(rand.NewPCG(cfg.Seed, 0x6d75726d7572)),
		start:   time.Unix(1_700_000_000, 0).UTC(),
		index:   make(map[replica.PeerID]int, cfg.Nodes),
		tracked: map[replica.EventID]*Tracking{},
	}
	s.now = s.start
	s.nextTick = s.start
	keys := rand.NewChaCha8(seedBytes(cfg.Seed))
	for i := 0; i < cfg.Nodes; i++ {
		key, _, err := crypto.GenerateEd25519Key(keys)
		if err != nil {
			return nil, fmt.Errorf("simtest: key %d: %w", i, err)
		}
		signer, err := security.NewSigner(key)
		if err != nil {
			return nil, err
		}
		n := &Node{ID: signer.ID(), Store: replica.NewMemStore(), signer: signer}
		s.index[n.ID] = i
		s.nodes = append(s.nodes, n)
	}
	s.buildViews()
	if cfg.LieInterval <= 0 {
		s.cfg.LieInterval = 500 * time.Millisecond
	}
	s.liars = map[int]*liar{}
	for i, st := range cfg.Liars {
		seed := cfg.Seed ^ uint64(i+1)*0x9e3779b97f4a7c15
		s.liars[i] = &liar{strategy: st, rnd: rand.New(rand.NewPCG(seed, 3)), keys: rand.NewChaCha8(seedBytes(seed))}
	}
	for i := range s.nodes {
		if err := s.boot(i); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// seedBytes expands a seed for ChaCha8.
func seedBytes(seed uint64) [32]byte {
	var b [32]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(seed >> (8 * i))
	}
	copy(b[8:], "murmur simtest keys")
	return b
}

// buildViews gives every node a random partial view, made symmetric (a
// connection is known to both ends).
func (s *Sim) buildViews() {
	n := len(s.nodes)
	v := s.cfg.View
	if v <= 0 || v >= n-1 {
		for i := range s.nodes {
			for j := range s.nodes {
				if i != j {
					s.nodes[i].view = append(s.nodes[i].view, j)
				}
			}
		}
		return
	}
	seen := make([]map[int]bool, n)
	for i := range seen {
		seen[i] = map[int]bool{}
	}
	link := func(a, b int) {
		if a == b || seen[a][b] {
			return
		}
		seen[a][b], seen[b][a] = true, true
		s.nodes[a].view = append(s.nodes[a].view, b)
		s.nodes[b].view = append(s.nodes[b].view, a)
	}
	// A ring keeps the graph connected; random links make it an expander.
	for i := 0; i < n; i++ {
		link(i, (i+1)%n)
	}
	for i := 0; i < n; i++ {
		for len(s.nodes[i].view) < v {
			link(i, s.rnd.IntN(n))
		}
	}
}

// boot starts (or restarts) node i's engine from its store.
func (s *Sim) boot(i int) error {
	n := s.nodes[i]
	cfg := replica.DefaultConfig()
	if s.cfg.Engine != nil {
		s.cfg.Engine(&cfg)
	}
	cfg.Signer = n.signer
	cfg.Verifier = security.Verifier{}
	cfg.Store = n.Store
	cfg.Rand = rand.New(rand.NewPCG(s.rnd.Uint64(), uint64(i)))
	eng, err := replica.New(cfg)
	if err != nil {
		return fmt.Errorf("simtest: boot node %d: %w", i, err)
	}
	n.eng = eng
	for _, j := range n.view {
		eng.PeerUp(s.nodes[j].ID)
	}
	eng.Tick(s.now)
	return s.drain(i, n.depth)
}

// Node returns node i.
func (s *Sim) Node(i int) *Node { return s.nodes[i] }

// Len returns the number of nodes.
func (s *Sim) Len() int { return len(s.nodes) }

// Now returns the virtual time.
func (s *Sim) Now() time.Time { return s.now }

// Elapsed returns the virtual time since the start.
func (s *Sim) Elapsed() time.Duration { return s.now.Sub(s.start) }

// Crash stops node i; its store survives, messages to it are lost.
func (s *Sim) Crash(i int) { s.nodes[i].eng = nil }

// Restart boots a crashed node from its store.
func (s *Sim) Restart(i int) error {
	if s.nodes[i].eng != nil {
		return nil
	}
	return s.boot(i)
}

// Disconnect crashes node i and tells every other live node that it is
// gone (PeerDown), as closed connections would: they forget what they knew
// of it, so garbage collection no longer waits for it.
func (s *Sim) Disconnect(i int) error {
	s.Crash(i)
	for j, n := range s.nodes {
		if j == i || n.eng == nil {
			continue
		}
		n.eng.PeerDown(s.nodes[i].ID)
		if err := s.drain(j, n.depth); err != nil {
			return err
		}
	}
	return nil
}

// Reconnect boots node i from its store (a node whose store is still empty
// joins as a new node) and tells the live nodes of its view (PeerUp).
func (s *Sim) Reconnect(i int) error {
	if err := s.Restart(i); err != nil {
		return err
	}
	for _, j := range s.nodes[i].view {
		n := s.nodes[j]
		if n.eng == nil {
			continue
		}
		n.eng.PeerUp(s.nodes[i].ID)
		if err := s.drain(j, n.depth); err != nil {
			return err
		}
	}
	return nil
}

// StatesEqual reports whether every live node holds the same version
// vector and the same Merkle root over its key states.
func (s *Sim) StatesEqual() bool {
	first := true
	var vv replica.Digest
	var root [32]byte
	var count uint64
	for _, n := range s.nodes {
		if n.eng == nil {
			continue
		}
		r := n.Store.MerkleTree().Root()
		if first {
			vv, root, count, first = n.eng.Digest(), r.Hash(), r.Count, false
		} else if n.eng.Digest() != vv || r.Hash() != root || r.Count != count {
			return false
		}
	}
	return true
}

// Partition splits the network: group[i] is node i's side; messages only
// pass between nodes of the same side. Nil heals.
func (s *Sim) Partition(group []int) { s.group = group }

// Track records the spread of an event to every node.
func (s *Sim) Track(ev *replica.Event, origin int) {
	t := &Tracking{Created: s.now, At: make([]time.Time, len(s.nodes)), Depth: make([]int, len(s.nodes))}
	t.At[origin] = s.now
	t.Count = 1
	s.tracked[ev.ID()] = t
}

// Tracking returns what Track recorded for id.
func (s *Sim) Tracking(id replica.EventID) *Tracking { return s.tracked[id] }

// Do runs fn against node i's engine (a local write, say) and acts on the
// Ready it produces. It fails if the node is down.
func (s *Sim) Do(i int, fn func(*replica.Engine) error) error {
	n := s.nodes[i]
	if n.eng == nil {
		return fmt.Errorf("simtest: node %d is down", i)
	}
	if err := fn(n.eng); err != nil {
		return err
	}
	return s.drain(i, n.depth)
}

// drain acts on node i's Ready: store first, then messages, then changes.
func (s *Sim) drain(i, depth int) error {
	n := s.nodes[i]
	if n.eng == nil || !n.eng.HasReady() {
		return nil
	}
	rd := n.eng.Ready()
	if rd.Batch != nil {
		if err := n.Store.Apply(rd.Batch); err != nil {
			return fmt.Errorf("simtest: node %d apply: %w", i, err)
		}
	}
	for _, m := range rd.Messages {
		j, ok := s.index[m.To]
		if !ok {
			continue
		}
		if s.liars[i] != nil && !s.lie(i, &m) {
			continue
		}
		if !s.reachable(i, j) || (s.cfg.Loss > 0 && s.rnd.Float64() < s.cfg.Loss) {
			s.Dropped++
			continue
		}
		s.enqueue(&delivery{at: s.now.Add(s.latency(i, j)), to: j, msg: m, depth: depth + 1})
	}
	// The external dissemination router is modelled as a broadcast from the
	// origin to every node of its view, with the network's latency and loss.
	for _, j := range n.view {
		if len(rd.Broadcast) == 0 {
			break
		}
		if !s.reachable(i, j) || (s.cfg.Loss > 0 && s.rnd.Float64() < s.cfg.Loss) {
			s.Dropped++
			continue
		}
		s.enqueue(&delivery{at: s.now.Add(s.latency(i, j)), to: j, msg: replica.Message{From: n.ID, To: s.nodes[j].ID}, events: rd.Broadcast, depth: depth + 1})
	}
	for _, c := range rd.Changes {
		if c.Kind == replica.ChangeReceived {
			if t := s.tracked[c.Event.ID()]; t != nil && t.At[i].IsZero() {
				t.At[i] = s.now
				t.Depth[i] = depth
				t.Count++
			}
		}
		if s.cfg.OnChange != nil {
			s.cfg.OnChange(i, c)
		}
	}
	n.eng.Advance()
	return nil
}

// Step advances virtual time to the next delivery or tick and processes it.
func (s *Sim) Step() error {
	if len(s.queue) > 0 && s.queue[0].at.Before(s.nextTick) {
		d := heap.Pop(&s.queue).(*delivery)
		s.now = d.at
		n := s.nodes[d.to]
		if n.eng == nil || !s.reachable(s.index[d.msg.From], d.to) {
			s.Dropped++
			return nil
		}
		s.Delivered++
		if d.depth > n.depth {
			n.depth = d.depth
		}
		if d.events != nil {
			if err := n.eng.Receive(d.msg.From, d.events); err != nil {
				s.Errors++
				s.LastError = fmt.Errorf("node %d receive %d events from %s: %w", d.to, len(d.events), d.msg.From, err)
			}
		} else if err := n.eng.Step(d.msg); err != nil {
			s.Errors++
			s.LastError = fmt.Errorf("node %d step %s from %s: %w", d.to, d.msg.Body.Type(), d.msg.From, err)
		}
		return s.drain(d.to, d.depth)
	}
	s.now = s.nextTick
	s.nextTick = s.nextTick.Add(s.cfg.TickInterval)
	if len(s.liars) > 0 && !s.now.Before(s.nextLie) {
		s.nextLie = s.now.Add(s.cfg.LieInterval)
		for i := range s.nodes {
			if s.liars[i] != nil && s.nodes[i].eng != nil {
				if err := s.act(i); err != nil {
					return fmt.Errorf("simtest: liar %d: %w", i, err)
				}
			}
		}
	}
	for i, n := range s.nodes {
		if n.eng == nil {
			continue
		}
		n.eng.Tick(s.now)
		if err := s.drain(i, n.depth); err != nil {
			return err
		}
	}
	return nil
}

// RunFor runs for d of virtual time.
func (s *Sim) RunFor(d time.Duration) error {
	end := s.now.Add(d)
	for s.now.Before(end) {
		if err := s.Step(); err != nil {
			return err
		}
	}
	return nil
}

// RunUntil runs until cond holds (checked after every tick) or max virtual
// time passes; it reports whether cond held.
func (s *Sim) RunUntil(cond func() bool, max time.Duration) (bool, error) {
	end := s.now.Add(max)
	for s.now.Before(end) {
		tick := s.nextTick
		if err := s.Step(); err != nil {
			return false, err
		}
		if s.now.Equal(tick) && cond() {
			return true, nil
		}
	}
	return cond(), nil
}

// Converged reports whether every live node has the same digest.
func (s *Sim) Converged() bool {
	var ref replica.Digest
	first := true
	for _, n := range s.nodes {
		if n.eng == nil {
			continue
		}
		if first {
			ref, first = n.eng.Digest(), false
		} else if n.eng.Digest() != ref {
			return false
		}
	}
	return true
}
