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
	seedFlag  = flag.Uint64("seed", 0, "run TestConverge for this one seed only")
	seedsFlag = flag.Int("seeds", 200, "number of seeds TestConverge runs")
)

// TestConverge is the engine's main property: under 5% loss, partitions
// that heal and crash/restarts that keep the store, all live nodes converge
// to identical state and every write a node accepted is on every node.
func TestConverge(t *testing.T) {
	seeds := make([]uint64, 0, *seedsFlag)
	if *seedFlag != 0 {
		seeds = append(seeds, *seedFlag)
	} else {
		for i := 1; i <= *seedsFlag; i++ {
			seeds = append(seeds, uint64(i))
		}
	}
	for _, seed := range seeds {
		if err := convergeScenario(seed); err != nil {
			t.Errorf("seed %d: %v\nreplay: go test ./sync/simtest -run TestConverge -seed=%d -v", seed, err, seed)
		}
	}
}

// convergeScenario runs one random scenario and checks the properties.
func convergeScenario(seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 1))
	n := 4 + r.IntN(7)
	s, err := New(Config{
		Nodes:        n,
		Seed:         seed,
		View:         0,
		LatencyMin:   5 * time.Millisecond,
		LatencyMax:   60 * time.Millisecond,
		Loss:         0.05,
		TickInterval: 50 * time.Millisecond,
		Engine: func(c *replica.Config) {
			c.SyncInterval = 500 * time.Millisecond
			c.SuspectTimeout = time.Second
			c.FailTimeout = 2 * time.Second
			c.PeerSelection = replica.PeerSelection(r.IntN(4))
			// Garbage collection would delete superseded events, which
			// this property checks are everywhere (antientropy_test.go
			// covers collection).
			c.GCInterval = time.Hour
		},
	})
	if err != nil {
		return err
	}
	keys := []string{"a", "b", "c", "d/1", "d/2"}
	var accepted []*replica.Event
	// Fault phase: 6 s of writes, partitions and crashes.
	for step := 0; step < 60; step++ {
		switch x := r.IntN(20); {
		case x < 11: // write at a live node
			i := r.IntN(n)
			if !s.Node(i).Up() {
				continue
			}
			key := keys[r.IntN(len(keys))]
			err := s.Do(i, func(e *replica.Engine) error {
				var ev *replica.Event
				var err error
				switch r.IntN(6) {
				case 0:
					ev, err = e.Delete(key)
				case 1:
					ev, err = e.Publish("topic", []byte(fmt.Sprint(step)))
				default:
					ev, err = e.Put(key, []byte(fmt.Sprintf("%d@%d", step, i)))
				}
				if err == nil {
					accepted = append(accepted, ev)
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("write: %w", err)
			}
		case x < 13: // partition into two random sides
			g := make([]int, n)
			for i := range g {
				g[i] = r.IntN(2)
			}
			s.Partition(g)
		case x < 15:
			s.Partition(nil)
		case x < 17: // crash a node
			s.Crash(r.IntN(n))
		default: // restart a node
			if err := s.Restart(r.IntN(n)); err != nil {
				return err
			}
		}
		if err := s.RunFor(time.Duration(r.IntN(200)) * time.Millisecond); err != nil {
			return err
		}
	}
	// Heal: no partition, everyone up, and some crashes still leave nodes
	// restarting late.
	if err := healAndConverge(s, len(accepted)); err != nil {
		return err
	}
	return checkIdentical(s, accepted)
}

// healAndConverge removes the partition, restarts every crashed node and
// runs until all digests agree (at most 60 s of virtual time), with no step
// errors on the way.
func healAndConverge(s *Sim, writes int) error {
	s.Partition(nil)
	for i := 0; i < s.Len(); i++ {
		if err := s.Restart(i); err != nil {
			return err
		}
	}
	ok, err := s.RunUntil(s.Converged, 60*time.Second)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("no convergence 60 s after healing (%d nodes, %d writes)", s.Len(), writes)
	}
	if s.Errors > 0 {
		return fmt.Errorf("%d step errors, last: %v", s.Errors, s.LastError)
	}
	return nil
}

// checkIdentical verifies identical stores, that every accepted write is
// stored everywhere, and that plain reads agree.
func checkIdentical(s *Sim, accepted []*replica.Event) error {
	if err := checkStores(s, accepted, false); err != nil {
		return err
	}
	var refKeys []*replica.KeyState
	if err := s.Node(0).Store.ScanKeys("", func(ks *replica.KeyState) bool { refKeys = append(refKeys, ks); return true }); err != nil {
		return err
	}
	for i := 0; i < s.Len(); i++ {
		for _, k := range refKeys {
			a, errA := s.Node(0).Engine().Get(k.Key)
			b, errB := s.Node(i).Engine().Get(k.Key)
			if string(a) != string(b) || (errA == nil) != (errB == nil) {
				return fmt.Errorf("node %d reads %q as %q (%v), node 0 as %q (%v)", i, k.Key, b, errB, a, errA)
			}
		}
	}
	return nil
}
