package p2pnode

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	logging "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/murmur-p2p/murmur/protocol"
	"github.com/murmur-p2p/murmur/sync/order"
	"github.com/murmur-p2p/murmur/sync/order/pebblelog"
	"github.com/murmur-p2p/murmur/sync/replica"
)

var orderLog = logging.Logger("murmur/order")

// Ordering modes (Config.Ordering).
const (
	// OrderingNone: no global order (the default).
	OrderingNone = "none"
	// OrderingRaft: a Raft group (Config.OrderVoters) agrees on one global
	// order of all events (package sync/order).
	OrderingRaft = "raft"
)

// ErrOrderingOff is returned by the ordering API of a node whose config
// does not set ordering: raft.
var ErrOrderingOff = errors.New("ordering is off (set ordering: raft)")

// OrderedEvent is one position of the global order with its event.
type OrderedEvent struct {
	// Index is the position: 1, 2, 3, ... the same on every node.
	Index uint64
	// ID, Origin and Seq name the event.
	ID     replica.EventID
	Origin replica.PeerID
	Seq    uint64
	// Event is the event, or nil when this node's store no longer holds it
	// (garbage-collected) or it was compacted before it was ordered.
	Event *replica.Event
}

// OrderStatus is a node's view of the ordering group.
type OrderStatus struct {
	// Leader is the current leader, if known.
	Leader peer.ID
	// Role is this node's Raft role (StateLeader, StateFollower, ...).
	Role string
	// Term, Commit and Applied are Raft's term, commit and applied index.
	Term, Commit, Applied uint64
	// Ordered is the number of events in the order.
	Ordered uint64
	// Voters and Learners are the group's members.
	Voters, Learners []peer.ID
}

type orderInput struct {
	from peer.ID
	msg  raftpb.Message
	join bool
	// report: the outcome of sending a snapshot (snap) or any message.
	report  bool
	snap    bool
	sent    bool
	reportT uint64
}

// ordering binds an order.Core to the host: the order stream protocol,
// the Raft log on disk, the leader's offers from the store, and ordered
// delivery.
type ordering struct {
	self  peer.ID
	repl  *replication
	peers func() []peer.ID // connected members, for join requests
	tr    *protocol.OrderTransport
	disk  *pebblelog.Log // nil with store: memory
	mem   order.Persisted
	inbox chan orderInput
	tick  time.Duration

	mu      sync.Mutex
	core    *order.Core
	book    map[uint64]peer.ID // Raft ID -> peer, for sending
	changed chan struct{}      // closed and replaced when the order grows or events arrive
	voters  []replica.PeerID
	member  bool // heard from a leader: no more join requests

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func orderRaftID(p peer.ID) uint64 { return order.RaftID(replica.PeerID(p)) }

// done is closed when the ordering stops.
func (o *ordering) done() <-chan struct{} { return o.ctx.Done() }

func startOrdering(cfg Config, self peer.ID, h host.Host, repl *replication, peers func() []peer.ID, fault func(peer.ID, string), tune func(*order.Config)) (*ordering, error) {
	o := &ordering{self: self, repl: repl, peers: peers, inbox: make(chan orderInput, cfg.InboxSize), tick: cfg.TickInterval,
		book: map[uint64]peer.ID{}, changed: make(chan struct{})}
	for _, v := range cfg.OrderVoters {
		p, _ := peer.Decode(v) // validated
		o.voters = append(o.voters, replica.PeerID(p))
		o.book[orderRaftID(p)] = p
	}
	var initial order.Persisted
	if cfg.Store != "memory" {
		var err error
		if o.disk, err = pebblelog.Open(filepath.Join(cfg.DataDir, "order")); err != nil {
			return nil, err
		}
		if initial, err = o.disk.Load(); err != nil {
			_ = o.disk.Close()
			return nil, err
		}
	}
	ocfg := order.DefaultConfig(replica.PeerID(self))
	ocfg.Voters = o.voters
	ocfg.Rand = newRand()
	ocfg.Initial = initial
	ocfg.Logger = raftLogger{orderLog}
	if tune != nil {
		tune(&ocfg)
	}
	core, err := order.New(ocfg)
	if err != nil {
		if o.disk != nil {
			_ = o.disk.Close()
		}
		return nil, err
	}
	o.core = core
	for id, p := range core.State().Members() {
		o.book[id] = peer.ID(p)
	}
	o.member = slices.Contains(o.voters, replica.PeerID(self)) || core.Status().Applied > 0
	o.tr = protocol.NewOrderTransport(h, protocol.DefaultOrderConfig(), o.receive, fault)
	ctx, cancel := context.WithCancel(context.Background())
	o.ctx, o.cancel = ctx, cancel
	changes := repl.node.Subscribe(1024)
	o.wg.Add(1)
	go o.run(ctx, changes)
	return o, nil
}

// receive runs on stream goroutines: it checks the sender and queues the
// input for the run loop.
func (o *ordering) receive(from peer.ID, kind byte, body []byte) error {
	if o.repl.nonMember(from) {
		return nil
	}
	in := orderInput{from: from}
	switch kind {
	case protocol.OrderFrameRaft:
		if err := in.msg.Unmarshal(body); err != nil {
			return fmt.Errorf("%w: raft message: %v", protocol.ErrMalformedFrame, err)
		}
		if self := order.RaftID(replica.PeerID(o.self)); in.msg.To != self {
			return fmt.Errorf("raft message for %x arrived at %x", in.msg.To, self)
		}
		if raft.IsLocalMsg(in.msg.Type) {
			return fmt.Errorf("raft message of local type %s", in.msg.Type)
		}
		if in.msg.Type == raftpb.MsgProp {
			for _, e := range in.msg.Entries {
				if e.Type == raftpb.EntryNormal {
					// Only a leader proposes event references, from its own
					// store; a forwarded one could name any ID for a dot.
					return fmt.Errorf("forwarded proposal of event references")
				}
			}
		}
		if in.msg.From != order.RaftID(replica.PeerID(from)) {
			return fmt.Errorf("raft message claims sender %x, but %s is %x", in.msg.From, from, order.RaftID(replica.PeerID(from)))
		}
	case protocol.OrderFrameJoin:
		in.join = true
	default:
		return fmt.Errorf("%w: order frame kind %d", protocol.ErrUnknownMessage, kind)
	}
	select {
	case o.inbox <- in:
	default: // Raft retransmits; a join is repeated
	}
	return nil
}

func (o *ordering) run(ctx context.Context, changes <-chan replica.Change) {
	defer o.wg.Done()
	t := time.NewTicker(o.tick)
	defer t.Stop()
	ticks := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			ticks++
			o.mu.Lock()
			o.core.Tick()
			o.offerLocked()
			if ticks%10 == 0 {
				// The change subscription may drop under load: readers
				// waiting for a payload look again at least this often.
				o.wakeLocked()
			}
			joinNow := !o.member && ticks%10 == 1
			o.mu.Unlock()
			if joinNow {
				o.askToJoin()
			}
		case in := <-o.inbox:
			o.mu.Lock()
			o.handleLocked(in)
			o.mu.Unlock()
		case ch := <-changes:
			events := ch.Kind == replica.ChangeCreated || ch.Kind == replica.ChangeReceived
			// Coalesce a burst: one offer pass (and so one proposal of
			// up to MaxBatch references) for everything queued.
			for n, drained := 0, false; !drained && n < 4096; n++ {
				select {
				case ch = <-changes:
					events = events || ch.Kind == replica.ChangeCreated || ch.Kind == replica.ChangeReceived
				default:
					drained = true
				}
			}
			if !events {
				continue
			}
			o.mu.Lock()
			o.offerLocked()
			o.wakeLocked()
			o.mu.Unlock()
		}
		if err := o.process(); err != nil {
			orderLog.Errorw("ordering stopped", "error", err)
			return
		}
	}
}

func (o *ordering) handleLocked(in orderInput) {
	switch {
	case in.report:
		if in.snap {
			o.core.ReportSnapshot(in.reportT, in.sent)
		} else if !in.sent {
			o.core.ReportUnreachable(in.reportT)
		}
	case in.join:
		o.book[order.RaftID(replica.PeerID(in.from))] = in.from
		if o.core.IsLeader() {
			if err := o.core.Join(replica.PeerID(in.from)); err != nil {
				orderLog.Debugw("join refused", "peer", in.from, "error", err)
			}
		}
	default:
		o.book[in.msg.From] = in.from
		if in.msg.Type == raftpb.MsgApp || in.msg.Type == raftpb.MsgHeartbeat || in.msg.Type == raftpb.MsgSnap {
			o.member = true
		}
		if err := o.core.Step(in.msg); err != nil {
			orderLog.Debugw("raft message refused", "from", in.from, "error", err)
		}
	}
}

// askToJoin sends a join request to every connected member (only the
// leader acts on it) until this node hears from a leader.
func (o *ordering) askToJoin() {
	for _, p := range o.peers() {
		o.tr.Send(p, protocol.OrderFrameJoin, nil, nil)
	}
}

// maxOfferScan bounds the events read from the store per offer pass.
const maxOfferScan = 4096

// offerLocked, on the leader, offers the events the store holds past
// what the core knows.
func (o *ordering) offerLocked() {
	if !o.core.IsLeader() {
		return
	}
	held, err := o.repl.store.VersionVector()
	if err != nil {
		return
	}
	known := o.core.Known()
	var refs []order.Ref
	for origin, h := range held {
		from := known[origin] + 1
		if from > h || len(refs) >= maxOfferScan {
			continue
		}
		to := min(h, from+maxOfferScan-1)
		next := from
		_ = o.repl.store.ScanEvents(origin, from, to, func(ev *replica.Event) bool {
			// Events garbage-collected before they were ordered leave a
			// gap: they are ordered by dot alone (Ref.Compacted).
			for ; next < ev.Seq; next++ {
				refs = append(refs, order.Ref{Origin: origin, Seq: next})
			}
			refs = append(refs, order.RefOf(ev))
			next = ev.Seq + 1
			return len(refs) < maxOfferScan
		})
		// The store holds every seq up to h (its version vector is gap-free),
		// so what the scan did not return up to to was collected too.
		for ; next <= to && len(refs) < maxOfferScan; next++ {
			refs = append(refs, order.Ref{Origin: origin, Seq: next})
		}
	}
	if len(refs) > 0 {
		o.core.Offer(refs...)
	}
}

// process acts on the core's Ready: persist, send, wake subscribers.
func (o *ordering) process() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.core.HasReady() {
		rd, err := o.core.Ready()
		if err != nil {
			return err
		}
		if o.disk != nil {
			if err := o.disk.Save(rd); err != nil {
				return err
			}
		} else {
			o.mem.Save(rd)
		}
		for _, m := range rd.Messages {
			o.sendLocked(m)
		}
		if len(rd.Ordered) > 0 || rd.Restored {
			o.wakeLocked()
		}
		for id, p := range o.core.State().Members() {
			if _, ok := o.book[id]; !ok {
				o.book[id] = peer.ID(p)
			}
		}
		o.core.Advance()
	}
	return nil
}

func (o *ordering) sendLocked(m raftpb.Message) {
	to, ok := o.book[m.To]
	if !ok {
		o.core.ReportUnreachable(m.To)
		return
	}
	b, err := m.Marshal()
	if err != nil {
		return
	}
	isSnap := m.Type == raftpb.MsgSnap
	target := m.To
	o.tr.Send(to, protocol.OrderFrameRaft, b, func(err error) {
		if err == nil && !isSnap {
			return
		}
		select {
		case o.inbox <- orderInput{report: true, snap: isSnap, sent: err == nil, reportT: target}:
		default:
		}
	})
}

func (o *ordering) wakeLocked() {
	close(o.changed)
	o.changed = make(chan struct{})
}

// read returns up to limit positions from index from, with their events
// where this node holds them, stopping at the first position whose event
// has not arrived yet (it may still, by gossip); and a channel closed when
// more may be available.
func (o *ordering) read(from uint64, limit int) ([]OrderedEvent, <-chan struct{}, error) {
	o.mu.Lock()
	ords := o.core.State().Range(from, limit)
	wait := o.changed
	o.mu.Unlock()
	held, err := o.repl.store.VersionVector()
	if err != nil {
		return nil, wait, err
	}
	out := make([]OrderedEvent, 0, len(ords))
	for _, x := range ords {
		if held[x.Origin] < x.Seq {
			break // the payload is still on its way
		}
		oe := OrderedEvent{Index: x.Index, ID: x.ID, Origin: x.Origin, Seq: x.Seq}
		_ = o.repl.store.ScanEvents(x.Origin, x.Seq, x.Seq, func(ev *replica.Event) bool {
			if ev.ID() == x.ID {
				oe.Event = ev
			}
			return false
		})
		out = append(out, oe)
	}
	return out, wait, nil
}

func (o *ordering) status() OrderStatus {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.core.Status()
	os := OrderStatus{Role: st.Role, Term: st.Term, Commit: st.Commit, Applied: st.Applied, Ordered: st.Ordered}
	os.Leader = o.book[st.Leader]
	for _, id := range st.Voters {
		os.Voters = append(os.Voters, o.book[id])
	}
	for _, id := range st.Learners {
		os.Learners = append(os.Learners, o.book[id])
	}
	return os
}

func (o *ordering) close() error {
	o.tr.Close()
	o.cancel()
	o.wg.Wait()
	if o.disk != nil {
		return o.disk.Close()
	}
	return nil
}

// raftLogger adapts a go-log logger to Raft's Logger interface.
type raftLogger struct{ l *logging.ZapEventLogger }

func (r raftLogger) Debug(v ...any)              { r.l.Debug(v...) }
func (r raftLogger) Debugf(f string, v ...any)   { r.l.Debugf(f, v...) }
func (r raftLogger) Error(v ...any)              { r.l.Error(v...) }
func (r raftLogger) Errorf(f string, v ...any)   { r.l.Errorf(f, v...) }
func (r raftLogger) Info(v ...any)               { r.l.Info(v...) }
func (r raftLogger) Infof(f string, v ...any)    { r.l.Infof(f, v...) }
func (r raftLogger) Warning(v ...any)            { r.l.Warn(v...) }
func (r raftLogger) Warningf(f string, v ...any) { r.l.Warnf(f, v...) }
func (r raftLogger) Fatal(v ...any)              { r.l.Fatal(v...) }
func (r raftLogger) Fatalf(f string, v ...any)   { r.l.Fatalf(f, v...) }
func (r raftLogger) Panic(v ...any)              { r.l.Panic(v...) }
func (r raftLogger) Panicf(f string, v ...any)   { r.l.Panicf(f, v...) }
