package p2pnode

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/murmur-p2p/murmur/protocol"

	"github.com/murmur-p2p/murmur/sync/order"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// orderCluster starts voters+learners nodes with ordering: raft, the first
// voters of them the voter group, all bootstrapped from node 0.
type orderCluster struct {
	t      *testing.T
	keys   []crypto.PrivKey
	ids    []peer.ID
	cfgs   []Config
	nodes  []*Node
	gaters []*partitionGater
	tune   func(*order.Config)
}

func newOrderCluster(t *testing.T, name string, voters, learners int, tune func(*order.Config)) *orderCluster {
	c := &orderCluster{t: t, tune: tune}
	n := voters + learners
	var vs []string
	for range n {
		k, id := newKey(t)
		c.keys, c.ids = append(c.keys, k), append(c.ids, id)
		c.gaters = append(c.gaters, &partitionGater{})
	}
	for i := range voters {
		vs = append(vs, c.ids[i].String())
	}
	for i := range n {
		cfg := testConfig(t, name)
		cfg.Ordering, cfg.OrderVoters = OrderingRaft, vs
		cfg.Store = "pebble"
		if i > 0 {
			cfg.Discovery.Bootstrap = []string{firstAddr(t, c.nodes[0])}
		}
		c.cfgs = append(c.cfgs, cfg)
		c.nodes = append(c.nodes, c.start(i))
	}
	return c
}

func (c *orderCluster) start(i int) *Node {
	return startNode(c.t, c.cfgs[i], WithIdentity(c.keys[i]), WithConnectionGater(c.gaters[i]), func(o *options) error {
		o.orderTune = c.tune
		return nil
	})
}

func (c *orderCluster) leader(among []int) int {
	for _, i := range among {
		if st, err := c.nodes[i].OrderStatus(); err == nil && st.Role == "StateLeader" {
			return i
		}
	}
	return -1
}

// orderOf reads node i's whole order (IDs), stopping at a missing payload.
func orderOf(t *testing.T, n *Node) []OrderedEvent {
	t.Helper()
	var all []OrderedEvent
	for {
		evs, err := n.Order(uint64(len(all))+1, 1000)
		if err != nil {
			t.Fatalf("order: %v", err)
		}
		if len(evs) == 0 {
			return all
		}
		all = append(all, evs...)
	}
}

// waitOrdered waits until every node in among has ordered (and holds) want
// events, then checks that they agree and that the order is causal.
func (c *orderCluster) waitOrdered(among []int, want int) []OrderedEvent {
	c.t.Helper()
	var last []OrderedEvent
	waitFor(c.t, 60*time.Second, func() bool {
		for _, i := range among {
			if last = orderOf(c.t, c.nodes[i]); len(last) < want {
				return false
			}
		}
		return true
	}, func() string {
		s := ""
		for _, i := range among {
			st, _ := c.nodes[i].OrderStatus()
			s += fmt.Sprintf(" node %d: %d held of %d ordered, %s term %d;", i, len(orderOf(c.t, c.nodes[i])), st.Ordered, st.Role, st.Term)
		}
		return fmt.Sprintf("want %d ordered:%s", want, s)
	})
	ref := orderOf(c.t, c.nodes[among[0]])
	for _, i := range among[1:] {
		got := orderOf(c.t, c.nodes[i])
		for k := range min(len(got), len(ref)) {
			if got[k].ID != ref[k].ID {
				c.t.Fatalf("node %d orders %s at %d, node %d %s", i, got[k].ID, k+1, among[0], ref[k].ID)
			}
		}
	}
	checkCausal(c.t, ref)
	return ref
}

// checkCausal fails if an event comes before its origin's previous event
// or before an event its context covers.
func checkCausal(t *testing.T, evs []OrderedEvent) {
	t.Helper()
	seen := replica.VersionVector{}
	for _, e := range evs {
		if e.Seq != seen[e.Origin]+1 {
			t.Fatalf("index %d: %s seq %d after seq %d", e.Index, e.Origin, e.Seq, seen[e.Origin])
		}
		if e.Event != nil {
			for o, s := range e.Event.Context {
				if seen[o] < s && o != e.Origin {
					t.Fatalf("index %d ordered before its context's %s:%d", e.Index, o, s)
				}
			}
		}
		seen[e.Origin] = e.Seq
	}
}

func (c *orderCluster) put(i int, key string) {
	c.t.Helper()
	if _, err := c.nodes[i].Put(key, []byte(fmt.Sprintf("from %d", i))); err != nil {
		c.t.Fatalf("put on node %d: %v", i, err)
	}
}

func (c *orderCluster) waitLeader(among []int) int {
	c.t.Helper()
	l := -1
	waitFor(c.t, 60*time.Second, func() bool { l = c.leader(among); return l >= 0 }, func() string { return "no leader among the voters" })
	return l
}

// TestOrderingSameOrderLeaderFailureAndRestart: three voters and a
// learner order concurrent writes (shared keys, so contexts name other
// origins' writes) identically and causally; SubscribeOrdered delivers the
// order; after the leader is closed the rest elect a new leader and keep
// ordering; the old leader restarts from its data dir with its order and
// catches up.
func TestOrderingSameOrderLeaderFailureAndRestart(t *testing.T) {
	c := newOrderCluster(t, "order-basic", 3, 1, nil)
	all := []int{0, 1, 2, 3}
	c.waitLeader([]int{0, 1, 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := c.nodes[3].SubscribeOrdered(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	for k := range 40 {
		c.put(k%4, fmt.Sprintf("k%d", k%5))
	}
	ref := c.waitOrdered(all, 40)
	for k := range 40 {
		select {
		case e := <-sub:
			if e.Index != uint64(k+1) || e.ID != ref[k].ID || e.Event == nil {
				t.Fatalf("SubscribeOrdered delivered %d %s (event %v), want %d %s", e.Index, e.ID, e.Event != nil, k+1, ref[k].ID)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("SubscribeOrdered delivered %d of 40", k)
		}
	}

	l := c.waitLeader([]int{0, 1, 2})
	listen := c.nodes[l].Host().Addrs()[0].String()
	if err := c.nodes[l].Close(); err != nil {
		t.Fatal(err)
	}
	var rest []int
	for _, i := range all {
		if i != l {
			rest = append(rest, i)
		}
	}
	for k := range 20 {
		c.put(rest[k%len(rest)], fmt.Sprintf("after/%d", k))
	}
	c.waitOrdered(rest, 60)

	// The same address, bootstrapping from a live node: node 0 may be the
	// one restarted, and the others only know its old address.
	c.cfgs[l].Listen = []string{listen}
	c.cfgs[l].Discovery.Bootstrap = []string{firstAddr(t, c.nodes[rest[0]])}
	c.nodes[l] = c.start(l)
	got := c.waitOrdered(all, 60)
	for k := range ref {
		if got[k].ID != ref[k].ID {
			t.Fatalf("after the restart index %d changed", k+1)
		}
	}
}

// TestOrderingPartitionedMinority: a voter cut off from the other two
// cannot order anything (its own writes stay unordered while the majority
// keeps ordering theirs); after the heal it catches up and its writes are
// ordered too.
func TestOrderingPartitionedMinority(t *testing.T) {
	c := newOrderCluster(t, "order-minority", 3, 0, nil)
	c.waitLeader([]int{0, 1, 2})
	for k := range 6 {
		c.put(k%3, fmt.Sprintf("before/%d", k))
	}
	c.waitOrdered([]int{0, 1, 2}, 6)
	// Cut the leader off, so the majority must elect another.
	m := c.waitLeader([]int{0, 1, 2})
	var maj []int
	for i := range 3 {
		if i != m {
			maj = append(maj, i)
		}
	}
	c.gaters[m].set(true, []peer.ID{c.ids[maj[0]], c.ids[maj[1]]})
	for _, i := range maj {
		c.gaters[i].set(true, []peer.ID{c.ids[m]})
		_ = c.nodes[i].Host().Network().ClosePeer(c.ids[m])
	}
	_ = c.nodes[m].Host().Network().ClosePeer(c.ids[maj[0]])
	_ = c.nodes[m].Host().Network().ClosePeer(c.ids[maj[1]])
	for k := range 5 {
		c.put(m, fmt.Sprintf("minority/%d", k))
		c.put(maj[k%2], fmt.Sprintf("majority/%d", k))
	}
	c.waitOrdered(maj, 11)
	if st, _ := c.nodes[m].OrderStatus(); st.Ordered != 6 {
		t.Fatalf("the cut-off node ordered %d events, want 6 (it cannot commit)", st.Ordered)
	}
	for _, i := range []int{0, 1, 2} {
		c.gaters[i].set(false, nil)
	}
	c.waitOrdered([]int{0, 1, 2}, 16)
}

// TestOrderingMembershipAndSnapshotCatchUp: with compaction after a few
// entries, a node that joins late catches up by snapshot as a learner; it
// is promoted to voter, the leader removes itself and steps down, and the
// group keeps ordering with the new member's vote needed.
func TestOrderingMembershipAndSnapshotCatchUp(t *testing.T) {
	tune := func(c *order.Config) { c.SnapshotEntries, c.KeepEntries = 5, 2 }
	c := newOrderCluster(t, "order-members", 3, 0, tune)
	c.waitLeader([]int{0, 1, 2})
	for k := range 30 {
		c.put(k%3, fmt.Sprintf("k/%d", k))
		if k%3 == 2 {
			c.waitOrdered([]int{0, 1, 2}, k+1) // one entry per few events: the log gets compacted
		}
	}
	// A fourth node, not a voter, joins as a learner and catches up.
	k, id := newKey(t)
	c.keys, c.ids, c.gaters = append(c.keys, k), append(c.ids, id), append(c.gaters, &partitionGater{})
	cfg := testConfig(t, "order-members", firstAddr(t, c.nodes[0]))
	cfg.Ordering, cfg.OrderVoters, cfg.Store = OrderingRaft, c.cfgs[0].OrderVoters, "pebble"
	c.cfgs = append(c.cfgs, cfg)
	c.nodes = append(c.nodes, c.start(3))
	c.waitOrdered([]int{0, 1, 2, 3}, 30)

	l := c.waitLeader([]int{0, 1, 2})
	if err := c.nodes[l].AddOrderVoter(id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() bool {
		st, _ := c.nodes[l].OrderStatus()
		return len(st.Voters) == 4
	}, func() string { st, _ := c.nodes[l].OrderStatus(); return fmt.Sprintf("voters %v", st.Voters) })
	// The leader removes itself: it steps down once that is applied and
	// the three voters left (one of them the new node) elect another.
	if err := c.nodes[l].RemoveOrderVoter(c.ids[l]); err != nil {
		t.Fatal(err)
	}
	var rest []int
	for _, i := range []int{0, 1, 2} {
		if i != l {
			rest = append(rest, i)
		}
	}
	l2 := c.waitLeader(append(slices.Clone(rest), 3))
	waitFor(t, 30*time.Second, func() bool {
		st, _ := c.nodes[l2].OrderStatus()
		return len(st.Voters) == 3 && !slices.Contains(st.Voters, c.ids[l])
	}, func() string { st, _ := c.nodes[l2].OrderStatus(); return fmt.Sprintf("voters %v", st.Voters) })
	// With one more original voter stopped, the group can only commit if
	// the new node votes.
	stop := rest[0]
	if stop == l2 {
		stop = rest[1]
	}
	_ = c.nodes[stop].Close()
	var live []int
	for _, i := range append(rest, 3) {
		if i != stop {
			live = append(live, i)
		}
	}
	for k := range 5 {
		c.put(live[k%2], fmt.Sprintf("late/%d", k))
	}
	c.waitOrdered(live, 35)
}

// TestOrderingRefusesForgedFrames: a member that sends a Raft message
// claiming another sender, a forwarded event proposal, or an unknown frame
// kind has its stream reset; the node keeps ordering.
func TestOrderingRefusesForgedFrames(t *testing.T) {
	c := newOrderCluster(t, "order-forged", 1, 1, nil)
	c.waitLeader([]int{0})
	victim, liar := c.nodes[0], c.nodes[1]
	self := orderRaftID(victim.ID())
	forged := raftpb.Message{Type: raftpb.MsgHeartbeat, From: orderRaftID(victim.ID()) + 1, To: self, Term: 99}
	prop := raftpb.Message{Type: raftpb.MsgProp, From: orderRaftID(liar.ID()), To: self,
		Entries: []raftpb.Entry{{Type: raftpb.EntryNormal, Data: order.EncodeEntry([]order.Ref{{Origin: "x", Seq: 1}})}}}
	for name, frame := range map[string][]byte{
		"forged sender":      append([]byte{protocol.OrderFrameRaft}, mustMarshal(t, forged)...),
		"forwarded proposal": append([]byte{protocol.OrderFrameRaft}, mustMarshal(t, prop)...),
		"unknown kind":       {9},
		"garbage":            {protocol.OrderFrameRaft, 0xff, 0xff},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		s, err := liar.Host().NewStream(ctx, victim.ID(), protocol.OrderProtocol)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write(protocol.AppendFrame(nil, frame)); err != nil {
			t.Fatal(err)
		}
		_ = s.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := s.Read(make([]byte, 1)); err == nil || err == io.EOF || os.IsTimeout(err) {
			t.Fatalf("%s: stream not reset (read: %v)", name, err)
		}
		_ = s.Reset()
	}
	if st, _ := victim.OrderStatus(); st.Term > 2 {
		t.Fatalf("a forged message moved the term to %d", st.Term)
	}
	c.put(0, "still")
	c.waitOrdered([]int{0, 1}, 1)
}

func mustMarshal(t *testing.T, m raftpb.Message) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
