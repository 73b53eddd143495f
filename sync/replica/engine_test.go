package replica

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

// testNet is a lossless, instant network of engines for unit tests; drop
// decides per message whether it is lost.
type testNet struct {
	t       *testing.T
	engines map[PeerID]*Engine
	stores  map[PeerID]*MemStore
	signers map[PeerID]*testSigner
	queue   []Message
	changes map[PeerID][]Change
	drop    func(Message) bool
	now     time.Time
}

func newTestNet(t *testing.T, n int, tune func(*Config)) (*testNet, []PeerID) {
	t.Helper()
	tn := &testNet{t: t, engines: map[PeerID]*Engine{}, stores: map[PeerID]*MemStore{}, signers: map[PeerID]*testSigner{}, changes: map[PeerID][]Change{}, now: t0}
	var ids []PeerID
	for i := 0; i < n; i++ {
		s := newTestSigner(byte(i + 1))
		tn.signers[s.ID()] = s
		tn.stores[s.ID()] = NewMemStore()
		ids = append(ids, s.ID())
	}
	for i, id := range ids {
		tn.boot(id, uint64(i), tune)
		for _, p := range ids {
			tn.engines[id].PeerUp(p)
		}
	}
	tn.flush()
	return tn, ids
}

func (tn *testNet) boot(id PeerID, seed uint64, tune func(*Config)) {
	cfg := DefaultConfig()
	cfg.Signer, cfg.Verifier, cfg.Store = tn.signers[id], testVerifier{}, tn.stores[id]
	cfg.Rand = rand.New(rand.NewPCG(seed, 7))
	if tune != nil {
		tune(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		tn.t.Fatal(err)
	}
	e.Tick(tn.now)
	tn.engines[id] = e
}

// flush acts on every engine's Ready, queueing the messages.
func (tn *testNet) flush() {
	for id, e := range tn.engines {
		for e.HasReady() {
			rd := e.Ready()
			if err := tn.stores[id].Apply(rd.Batch); err != nil {
				tn.t.Fatal(err)
			}
			for _, m := range rd.Messages {
				if tn.drop == nil || !tn.drop(m) {
					tn.queue = append(tn.queue, m)
				}
			}
			tn.changes[id] = append(tn.changes[id], rd.Changes...)
			e.Advance()
		}
	}
}

// deliver delivers queued messages until none are left, returning the
// messages delivered.
func (tn *testNet) deliver() []Message {
	var all []Message
	for len(tn.queue) > 0 {
		q := tn.queue
		tn.queue = nil
		for _, m := range q {
			all = append(all, m)
			if e := tn.engines[m.To]; e != nil {
				if err := e.Step(m); err != nil {
					tn.t.Fatalf("step %s from %s: %v", m.Body.Type(), m.From, err)
				}
			}
		}
		tn.flush()
	}
	return all
}

// tick advances every engine by d and delivers what follows.
func (tn *testNet) tick(d time.Duration) []Message {
	tn.now = tn.now.Add(d)
	for _, e := range tn.engines {
		e.Tick(tn.now)
	}
	tn.flush()
	return tn.deliver()
}

func countType(msgs []Message, t MessageType) int {
	n := 0
	for _, m := range msgs {
		if m.Body.Type() == t {
			n++
		}
	}
	return n
}

func TestLocalWritesReadsAndReady(t *testing.T) {
	tn, ids := newTestNet(t, 1, nil)
	e := tn.engines[ids[0]]
	ev, err := e.Put("users/alice", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Seq != 1 || ev.Origin != ids[0] || ev.Verify(testVerifier{}) != nil {
		t.Fatalf("bad local event %+v", ev)
	}
	if _, err := e.Put("users/bob", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Publish("chat", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	// Reads see pending writes before Ready.
	if v, err := e.Get("users/alice"); err != nil || string(v) != "1" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	rd := e.Ready()
	if rd.Batch == nil || len(rd.Batch.Events) != 3 || len(rd.Batch.Keys) != 2 || rd.Batch.VersionVector[ids[0]] != 3 {
		t.Fatalf("batch = %+v", rd.Batch)
	}
	created := 0
	for _, c := range rd.Changes {
		if c.Kind == ChangeCreated {
			created++
		}
	}
	if created != 3 {
		t.Fatalf("%d created changes, want 3", created)
	}
	if err := tn.stores[ids[0]].Apply(rd.Batch); err != nil {
		t.Fatal(err)
	}
	e.Advance()
	if e.HasReady() {
		t.Fatal("Ready left after Advance")
	}
	if _, err := e.Delete("users/bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Get("users/bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
	list, err := e.List("users/")
	if err != nil || len(list) != 1 || list[0].Key != "users/alice" {
		t.Fatalf("List = %v, %v", list, err)
	}
	if st := e.Stats(); st.Created != 4 || st.Events != 4 || st.Origins != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestEngineResumesFromStore(t *testing.T) {
	tn, ids := newTestNet(t, 1, nil)
	e := tn.engines[ids[0]]
	tn.now = tn.now.Add(time.Second)
	e.Tick(tn.now)
	first, _ := e.Put("k", []byte("a"))
	tn.flush()
	// Restart with the same store, and a physical clock that went back.
	tn.now = t0
	tn.boot(ids[0], 9, nil)
	e = tn.engines[ids[0]]
	second, err := e.Put("k", []byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	if second.Seq != 2 || !first.Time.Less(second.Time) {
		t.Fatalf("after restart seq %d time %v, first %v", second.Seq, second.Time, first.Time)
	}
	if CompareWrites(first, second) != Before {
		t.Fatal("second write does not supersede the first")
	}
}

func TestPushAckAndPullSyncSpreadToAll(t *testing.T) {
	// The origin's first push reaches 20 of 29 receivers (4 x (fanout +
	// pull_extra)); the rest must pull.
	tn, ids := newTestNet(t, 30, func(c *Config) { c.PushHops = 1 })
	ev, err := tn.engines[ids[0]].Put("k", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	tn.flush()
	msgs := tn.deliver()
	for _, id := range ids {
		if v, err := tn.engines[id].Get("k"); err != nil || string(v) != "v" {
			t.Fatalf("node %s: %q, %v", id, v, err)
		}
		if ok, _ := tn.stores[id].HasEvent(ev.ID()); !ok {
			t.Fatalf("node %s did not persist the event", id)
		}
	}
	if countType(msgs, TypePush) == 0 || countType(msgs, TypePushAck) != countType(msgs, TypePush) {
		t.Fatalf("pushes %d acks %d", countType(msgs, TypePush), countType(msgs, TypePushAck))
	}
	if countType(msgs, TypePullRequest) == 0 || countType(msgs, TypePullResponse) == 0 {
		t.Fatal("the announce/pull tier was not used")
	}
	var copies uint64
	for _, e := range tn.engines {
		copies += e.Stats().PayloadsReceived
	}
	if copies != uint64(len(ids)-1) {
		t.Fatalf("%d payload copies for %d receivers on a lossless network", copies, len(ids)-1)
	}
}

func TestMajorityRuleAnnouncesWhenAcksMissing(t *testing.T) {
	tn, ids := newTestNet(t, 30, func(c *Config) { c.PushHops = 1 })
	origin := ids[0]
	pushedTo := map[PeerID]bool{}
	// Pushes are lost (no acks come back), and so is everything else the push targets would
	// hear in the first round.
	tn.drop = func(m Message) bool {
		if m.Body.Type() == TypePush && m.From == origin {
			pushedTo[m.To] = true
		}
		return m.Body.Type() == TypePush || pushedTo[m.To]
	}
	if _, err := tn.engines[origin].Put("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	tn.flush()
	first := tn.deliver()
	tn.drop = nil
	told := map[PeerID]bool{}
	for _, m := range first {
		if m.From == origin && m.Body.Type() == TypePullSync {
			told[m.To] = true
		}
	}
	// The origin's first event: pushed to 4 x (fanout + pull_extra) peers,
	// its ID to all the others at once (see coldAnnounce).
	if len(pushedTo) != 20 || len(told) != len(ids)-1-20 {
		t.Fatalf("first wave: pushed to %d, announced to %d; want 20 and the other %d", len(pushedTo), len(told), len(ids)-1-20)
	}
	// No acks by the ack timeout: fewer than a majority useful, so the
	// origin tells every peer not known to have the event at once: the
	// unanswered push targets.
	had := map[PeerID]bool{}
	for p := range pushedTo {
		v, _ := tn.engines[p].Get("k")
		had[p] = v != nil
	}
	msgs := tn.tick(DefaultConfig().AckTimeout)
	late := map[PeerID]bool{}
	for _, m := range msgs {
		if m.From == origin && m.Body.Type() == TypePullSync {
			if told[m.To] {
				t.Fatalf("%s was announced to twice", m.To)
			}
			late[m.To] = true
		}
	}
	for p := range pushedTo {
		if had[p] {
			t.Fatalf("push target %s got the event although everything to it was dropped", p)
		}
		if !late[p] {
			t.Fatalf("push target %s without an ack was not announced to", p)
		}
	}
	for _, id := range ids {
		if v, err := tn.engines[id].Get("k"); err != nil || string(v) != "v" {
			t.Fatalf("node %s: %q, %v", id, v, err)
		}
	}
}

func TestRejectsBadEvents(t *testing.T) {
	tn, ids := newTestNet(t, 2, nil)
	a, b := ids[0], ids[1]
	eb := tn.engines[b]
	good := signedEvent(tn.signers[a], 1, OpPut, "k", "v", nil)
	tampered := *good
	tampered.Value = []byte("evil")
	unsigned := *good
	unsigned.Signature = nil
	for name, ev := range map[string]*Event{"tampered": &tampered, "unsigned": &unsigned} {
		err := eb.Step(Message{From: a, To: b, Body: &Push{Nonce: 1, Hops: 1, Events: []*Event{ev}}})
		if !errors.Is(err, ErrBadSignature) {
			t.Fatalf("%s event: %v", name, err)
		}
	}
	if _, err := eb.Get("k"); !errors.Is(err, ErrNotFound) {
		t.Fatal("rejected event was applied")
	}
	if err := eb.Step(Message{From: a, To: b, Body: &Push{Nonce: 2, Hops: 1, Events: []*Event{good}}}); err != nil {
		t.Fatal(err)
	}
	other := signedEvent(tn.signers[a], 1, OpPut, "k", "other", nil)
	if err := eb.Step(Message{From: a, To: b, Body: &Push{Nonce: 3, Hops: 1, Events: []*Event{other}}}); !errors.Is(err, ErrEquivocation) {
		t.Fatalf("equivocation: %v", err)
	}
	big := &PullSync{IDs: make([]EventID, 16*DefaultConfig().MaxEventsPerMessage+1)}
	if err := eb.Step(Message{From: a, To: b, Body: big}); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("oversized message: %v", err)
	}
	if st := eb.Stats(); st.Rejected != 3 || st.Accepted != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOutOfOrderEventsAreHeldAndGapFilled(t *testing.T) {
	tn, ids := newTestNet(t, 2, func(c *Config) { c.PushHops = 0; c.PullExtra = 0; c.Fanout = 1 })
	a, b := ids[0], ids[1]
	tn.drop = func(Message) bool { return true } // a's writes do not reach b
	for i := 0; i < 3; i++ {
		if _, err := tn.engines[a].Put("k", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	tn.flush()
	tn.drop = nil
	third, _ := tn.stores[a].EventAt(a, 3)
	// b gets only the third event; it must ask a for 1..2.
	if err := tn.engines[b].Step(Message{From: a, To: b, Body: &PullResponse{Events: []*Event{third}}}); err != nil {
		t.Fatal(err)
	}
	tn.flush()
	if vv := tn.engines[b].VersionVector(); vv[a] != 0 {
		t.Fatalf("out-of-order event applied: %v", vv)
	}
	msgs := tn.deliver()
	if countType(msgs, TypeSyncEvents) != 1 {
		t.Fatal("gap not requested and served")
	}
	if vv := tn.engines[b].VersionVector(); vv[a] != 3 {
		t.Fatalf("gap not filled: %v", vv)
	}
	if v, _ := tn.engines[b].Get("k"); len(v) != 1 || v[0] != 2 {
		t.Fatalf("b reads %v", v)
	}
}

func TestDigestSyncRepairsAndMatches(t *testing.T) {
	tn, ids := newTestNet(t, 2, nil)
	a, b := ids[0], ids[1]
	tn.drop = func(Message) bool { return true }
	if _, err := tn.engines[a].Put("x", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.engines[b].Put("y", []byte("2")); err != nil {
		t.Fatal(err)
	}
	tn.flush()
	tn.drop = nil
	tn.engines[a].SyncNow(b)
	tn.flush()
	msgs := tn.deliver()
	for _, typ := range []MessageType{TypeSyncRoot, TypeSyncDigest, TypeSyncExchange, TypeSyncEvents} {
		if countType(msgs, typ) == 0 {
			t.Fatalf("no %s in the exchange", typ)
		}
	}
	if tn.engines[a].Digest() != tn.engines[b].Digest() {
		t.Fatal("digests differ after sync")
	}
	var res *ExchangeResult
	for _, c := range tn.changes[a] {
		if c.Kind == ChangeExchange {
			res = c.Exchange
		}
	}
	if res == nil || res.Sent != 1 || res.Received != 1 {
		t.Fatalf("exchange result %+v", res)
	}
	// Equal roots: two messages and no vectors.
	tn.engines[a].SyncNow(b)
	tn.flush()
	msgs = tn.deliver()
	if len(msgs) != 2 || !msgs[1].Body.(*SyncDigest).Match {
		t.Fatalf("matching sync sent %d messages", len(msgs))
	}
}

func TestConcurrentWritesAreReportedAsConflicts(t *testing.T) {
	tn, ids := newTestNet(t, 2, nil)
	a, b := ids[0], ids[1]
	tn.drop = func(Message) bool { return true }
	tn.engines[a].Put("k", []byte("from a"))
	tn.engines[b].Put("k", []byte("from b"))
	tn.flush()
	tn.drop = nil
	tn.engines[a].SyncNow(b)
	tn.flush()
	tn.deliver()
	va, _ := tn.engines[a].Get("k")
	vb, _ := tn.engines[b].Get("k")
	if string(va) != string(vb) {
		t.Fatalf("nodes read different winners %q %q", va, vb)
	}
	ks, _ := tn.engines[a].Versions("k")
	if len(ks.Versions) != 2 {
		t.Fatalf("%d siblings, want 2", len(ks.Versions))
	}
	conflicts := 0
	for _, id := range ids {
		for _, c := range tn.changes[id] {
			if c.Kind == ChangeConflict && c.Key == "k" && len(c.State.Versions) == 2 {
				conflicts++
			}
		}
	}
	if conflicts != 2 {
		t.Fatalf("%d conflict changes, want one per node", conflicts)
	}
	for _, id := range ids {
		if st := tn.engines[id].Stats(); st.Conflicts != 1 {
			t.Fatalf("Stats.Conflicts = %d, want 1", st.Conflicts)
		}
	}
	// The sync a started has ended and was timed; b sent a's missing event.
	sa, sb := tn.engines[a].Stats(), tn.engines[b].Stats()
	if sa.SyncDurations.Count != 1 || sa.SyncRounds != 1 {
		t.Fatalf("sync durations %+v after %d rounds", sa.SyncDurations, sa.SyncRounds)
	}
	if sa.SyncDurations.Buckets[len(SyncDurationBounds)-1] != 1 {
		t.Fatalf("the one observation is missing from the cumulative buckets: %v", sa.SyncDurations.Buckets)
	}
	if sb.PayloadsSent < 1 || sa.PayloadsReceived < 1 {
		t.Fatalf("payloads sent by b %d, received by a %d", sb.PayloadsSent, sa.PayloadsReceived)
	}
}

func TestFailureDetector(t *testing.T) {
	tn, ids := newTestNet(t, 2, func(c *Config) { c.SyncInterval, c.AntiEntropyInterval = time.Hour, time.Hour })
	a, b := ids[0], ids[1]
	ea := tn.engines[a]
	down := true
	tn.drop = func(m Message) bool { return down && m.To == b }
	ea.SyncNow(b)
	tn.flush()
	tn.deliver()
	state := func() PeerState { return ea.Peers()[0].State }
	tn.tick(DefaultConfig().SuspectTimeout)
	if state() != PeerSuspected {
		t.Fatalf("state %v after suspect timeout", state())
	}
	tn.tick(DefaultConfig().FailTimeout)
	if state() != PeerFailed {
		t.Fatalf("state %v after fail timeout", state())
	}
	// A failed peer is not chosen for pushes.
	ea.Put("k", []byte("v"))
	tn.flush()
	if msgs := tn.deliver(); countType(msgs, TypePush) != 0 {
		t.Fatal("pushed to a failed peer")
	}
	down = false
	ea.SyncNow(b)
	tn.flush()
	tn.deliver()
	if state() != PeerAlive {
		t.Fatalf("state %v after contact", state())
	}
	var kinds []PeerState
	for _, c := range tn.changes[a] {
		if c.Kind == ChangePeerState && c.Peer == b {
			kinds = append(kinds, c.PeerState)
		}
	}
	if len(kinds) < 3 || kinds[len(kinds)-3] != PeerSuspected || kinds[len(kinds)-2] != PeerFailed || kinds[len(kinds)-1] != PeerAlive {
		t.Fatalf("peer state changes %v", kinds)
	}
}

func TestPeerSelectionStrategies(t *testing.T) {
	mk := func(sel PeerSelection) *Engine {
		cfg := DefaultConfig()
		cfg.Signer, cfg.Verifier, cfg.Store, cfg.Rand = newTestSigner(1), testVerifier{}, NewMemStore(), rand.New(rand.NewPCG(1, 2))
		cfg.PeerSelection = sel
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []PeerID{"p1", "p2", "p3", "p4"} {
			e.PeerUp(p)
		}
		return e
	}
	rr := mk(SelectRoundRobin)
	var got []PeerID
	for i := 0; i < 3; i++ {
		got = append(got, rr.peers.pick(rr, 2, nil)...)
	}
	want := []PeerID{"p1", "p2", "p3", "p4", "p1", "p2"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("round robin picked %v", got)
		}
	}
	lr := mk(SelectLeastRecent)
	for i, p := range []PeerID{"p1", "p2", "p3", "p4"} {
		lr.peers.sent(p, t0.Add(time.Duration(4-i)*time.Second), false)
	}
	if p := lr.peers.pick(lr, 1, nil); p[0] != "p4" {
		t.Fatalf("least recent picked %v", p)
	}
	mr := mk(SelectMostReliable)
	for _, p := range []PeerID{"p1", "p2", "p3", "p4"} {
		mr.peers.sent(p, t0, true)
		if p != "p4" {
			mr.peers.detect(t0.Add(time.Hour), time.Hour*2, time.Hour*3) // no transitions
		}
	}
	mr.peers.heard("p3", time.Time{})
	if p := mr.peers.pick(mr, 1, nil); p[0] != "p3" {
		t.Fatalf("most reliable picked %v", p)
	}
	rnd := mk(SelectRandom)
	seen := map[PeerID]bool{}
	for i := 0; i < 50; i++ {
		for _, p := range rnd.peers.pick(rnd, 2, func(p PeerID) bool { return p == "p1" }) {
			seen[p] = true
		}
	}
	if len(seen) != 3 || seen["p1"] {
		t.Fatalf("random picked %v", seen)
	}
	if _, err := ParsePeerSelection("most-reliable"); err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePeerSelection("best"); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("bad strategy: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	if _, err := New(DefaultConfig()); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("missing signer: %v", err)
	}
	cfg := DefaultConfig()
	cfg.Signer, cfg.Verifier, cfg.Store, cfg.Rand = newTestSigner(1), testVerifier{}, NewMemStore(), rand.New(rand.NewPCG(1, 2))
	cfg.MaxHops = 1
	cfg.PushHops = 2
	if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("max hops below push hops: %v", err)
	}
}

func TestConfigValidateNamesKey(t *testing.T) {
	cases := []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.Fanout = -1 }, "fanout: invalid value -1: must not be negative"},
		{func(c *Config) { c.MaxMessageSize = 100 }, "max_message_size: invalid value 100: must be at least 4096 bytes"},
		{func(c *Config) { c.SuspectTimeout = 5 * time.Second; c.FailTimeout = time.Second }, "fail_timeout: invalid value 1s: must be at least suspect_timeout (5s)"},
		{func(c *Config) { c.ProbeFailed = 2 }, "probe_failed: invalid value 2: must be between 0 and 1"},
		{func(c *Config) { c.PushHops = 40 }, "max_hops: invalid value 32: must be at least push_hops (40)"},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		tc.mut(&c)
		err := c.Validate()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	var ps PeerSelection
	if err := ps.UnmarshalText([]byte("most-reliable")); err != nil || ps != SelectMostReliable {
		t.Fatalf("UnmarshalText: %v %v", ps, err)
	}
	if b, _ := SelectLeastRecent.MarshalText(); string(b) != "least-recently-contacted" {
		t.Fatalf("MarshalText: %s", b)
	}
}

// The adaptive timeouts never go below three tick gaps: with coarse ticks,
// round trips measure as zero and a one-tick timeout would fire before a
// slightly late answer is stepped.
func TestTimeoutFloorFollowsTickGranularity(t *testing.T) {
	tn, ids := newTestNet(t, 2, nil)
	e, peer := tn.engines[ids[0]], ids[1]
	e.PeerUp(peer)
	e.peers.observeRTT(peer, 0) // a round trip within one tick
	now := t0
	for i := 0; i < 10; i++ {
		now = now.Add(100 * time.Millisecond)
		e.Tick(now)
	}
	if got := e.peers.timeout(peer, e.timeoutFloor(), e.cfg.PullTimeout); got != 300*time.Millisecond {
		t.Fatalf("timeout with 100ms ticks = %v, want 300ms", got)
	}
	// Finer ticks lower the floor again, gradually, down to minTimeout.
	for i := 0; i < 100; i++ {
		now = now.Add(10 * time.Millisecond)
		e.Tick(now)
	}
	if got := e.peers.timeout(peer, e.timeoutFloor(), e.cfg.PullTimeout); got != minTimeout {
		t.Fatalf("timeout with 10ms ticks = %v, want %v", got, minTimeout)
	}
	if got := e.peers.timeout(peer, e.timeoutFloor(), 20*time.Millisecond); got != 20*time.Millisecond {
		t.Fatalf("the configured timeout caps the floor: got %v", got)
	}
}
