package simtest

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/sync/replica"
)

var (
	gcSeedFlag  = flag.Uint64("gcseed", 0, "run TestGarbageCollectedCatchUp for this one seed only")
	gcSeedsFlag = flag.Int("gcseeds", 120, "number of seeds TestGarbageCollectedCatchUp runs")
)

// TestGarbageCollectedCatchUp: a node is cut off while the others write,
// overwrite and delete, garbage-collect the superseded events and the
// tombstones; when it returns, digest sync finds the events it needs
// gone, and it catches up through anti-entropy (or a snapshot): every
// live node ends with the same key states and version vector, and every
// accepted write is in each log or below that node's collection floor.
func TestGarbageCollectedCatchUp(t *testing.T) {
	var seeds []uint64
	if *gcSeedFlag != 0 {
		seeds = append(seeds, *gcSeedFlag)
	} else {
		for i := 1; i <= *gcSeedsFlag; i++ {
			seeds = append(seeds, uint64(i))
		}
	}
	for _, seed := range seeds {
		if err := gcScenario(seed); err != nil {
			t.Errorf("seed %d: %v\nreplay: go test ./sync/simtest -run TestGarbageCollectedCatchUp -gcseed=%d -v", seed, err, seed)
		}
	}
}

// aeEngine is the engine tuning of the anti-entropy scenarios: fast
// digest sync, anti-entropy and collection, on the scenarios' virtual time.
func aeEngine(c *replica.Config) {
	c.SyncInterval = 500 * time.Millisecond
	c.AntiEntropyInterval = 2 * time.Second
	c.GCInterval = 500 * time.Millisecond
	c.SuspectTimeout = time.Second
	c.FailTimeout = 2 * time.Second
	// The cut-off node's vector stops advancing: after this long it no
	// longer holds the others' collection back.
	c.GCStallTimeout = 3 * time.Second
}

// collectedBelowHead reports whether e's floor reached, for every origin,
// the seq below its latest event (the head is kept as evidence, gc.go).
func collectedBelowHead(e *replica.Engine) bool {
	floor := e.Floor()
	for o, s := range e.VersionVector() {
		if floor[o]+1 < s {
			return false
		}
	}
	return true
}

func gcScenario(seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 2))
	n := 3 + r.IntN(4)
	s, err := New(Config{
		Nodes: n, Seed: seed,
		LatencyMin: 5 * time.Millisecond, LatencyMax: 40 * time.Millisecond,
		Loss:         0.03,
		TickInterval: 50 * time.Millisecond,
		Engine:       aeEngine,
	})
	if err != nil {
		return err
	}
	keys := []string{"a", "b", "c", "d", "e", "f"}
	var accepted []*replica.Event
	write := func(i int) error {
		key := keys[r.IntN(len(keys))]
		return s.Do(i, func(e *replica.Engine) error {
			var ev *replica.Event
			var err error
			switch r.IntN(5) {
			case 0:
				ev, err = e.Delete(key)
			case 1:
				ev, err = e.Publish("topic", []byte("x"))
			default:
				ev, err = e.Put(key, []byte(fmt.Sprintf("%d-%d", i, r.IntN(1000))))
			}
			if err == nil {
				accepted = append(accepted, ev)
			}
			return err
		})
	}
	// Some shared history first, so the lagging node has state to repair.
	for k := 0; k < 10; k++ {
		if err := write(r.IntN(n)); err != nil {
			return err
		}
		if err := s.RunFor(20 * time.Millisecond); err != nil {
			return err
		}
	}
	if err := s.RunFor(2 * time.Second); err != nil {
		return err
	}
	lag := r.IntN(n)
	if err := s.Disconnect(lag); err != nil {
		return err
	}
	writes := 20 + r.IntN(40)
	for k := 0; k < writes; k++ {
		i := r.IntN(n)
		if i == lag {
			continue
		}
		if err := write(i); err != nil {
			return err
		}
		if err := s.RunFor(time.Duration(r.IntN(50)) * time.Millisecond); err != nil {
			return err
		}
	}
	// Let the others converge and collect.
	collected := func() bool {
		for i := 0; i < n; i++ {
			if e := s.Node(i).Engine(); i != lag && !collectedBelowHead(e) {
				return false
			}
		}
		return s.StatesEqual()
	}
	if ok, err := s.RunUntil(collected, 30*time.Second); err != nil || !ok {
		return fmt.Errorf("the connected nodes did not converge and collect (err %v)", err)
	}
	gc := uint64(0)
	for i := 0; i < n; i++ {
		if i != lag {
			gc += s.Node(i).Engine().Stats().GCEvents
		}
	}
	if gc == 0 {
		return fmt.Errorf("no events were garbage-collected")
	}
	if err := s.Reconnect(lag); err != nil {
		return err
	}
	if ok, err := s.RunUntil(s.StatesEqual, 60*time.Second); err != nil || !ok {
		return fmt.Errorf("no convergence 60 s after the lagging node %d returned (err %v)", lag, err)
	}
	if s.Errors > 0 {
		return fmt.Errorf("%d step errors, last: %v", s.Errors, s.LastError)
	}
	st := s.Node(lag).Engine().Stats()
	if st.CatchUps == 0 {
		return fmt.Errorf("the lagging node never caught up by state (stats %+v)", st)
	}
	return checkStores(s, accepted, true)
}

// checkStores verifies identical key states and vectors on every node, and
// that each accepted write is in every log or, with belowFloor, below the
// node's collection floor (its effect then arrived as state).
func checkStores(s *Sim, accepted []*replica.Event, belowFloor bool) error {
	ref := s.Node(0).Store
	refVV, _ := ref.VersionVector()
	var refKeys []*replica.KeyState
	if err := ref.ScanKeys("", func(ks *replica.KeyState) bool { refKeys = append(refKeys, ks); return true }); err != nil {
		return err
	}
	for i := 0; i < s.Len(); i++ {
		st := s.Node(i).Store
		vv, _ := st.VersionVector()
		if !vv.Equal(refVV) {
			return fmt.Errorf("node %d version vector %v differs from node 0 %v", i, vv, refVV)
		}
		var ks []*replica.KeyState
		if err := st.ScanKeys("", func(k *replica.KeyState) bool { ks = append(ks, k); return true }); err != nil {
			return err
		}
		if len(ks) != len(refKeys) {
			return fmt.Errorf("node %d has %d keys, node 0 has %d", i, len(ks), len(refKeys))
		}
		for j := range ks {
			if !ks[j].Equal(refKeys[j]) {
				return fmt.Errorf("node %d key %q state differs from node 0", i, ks[j].Key)
			}
		}
		var floor replica.VersionVector
		if belowFloor {
			floor = s.Node(i).Engine().Floor()
		}
		for _, ev := range accepted {
			if ok, err := st.HasEvent(ev.ID()); err != nil || (!ok && floor[ev.Origin] < ev.Seq) {
				return fmt.Errorf("node %d lacks accepted write %s/%d above its floor %d (%v)", i, ev.Origin, ev.Seq, floor[ev.Origin], err)
			}
		}
	}
	return nil
}

// TestJoinAfter10000Writes: a node that joins empty after 10,000 writes
// takes the state by snapshot and converges.
func TestJoinAfter10000Writes(t *testing.T) {
	res, err := JoinScenario(1, 4, 10_000, 2_000)
	if err != nil {
		t.Fatalf("%v\nreplay: go test ./sync/simtest -run TestJoinAfter10000Writes -v", err)
	}
	if res.SnapshotsReceived == 0 {
		t.Fatalf("the joining node received no snapshot: %+v", res)
	}
	t.Logf("join after 10,000 writes on 2,000 keys: %+v", res)
}
