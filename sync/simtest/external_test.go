package simtest

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// TestConvergeExternalDissemination: with external dissemination (the
// simulator's router broadcasts each new event from its origin to the
// origin's view, with 5% loss) plus digest sync, concurrent writes under
// partitions and crashes converge, and the engines never push.
func TestConvergeExternalDissemination(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		if err := externalScenario(seed); err != nil {
			t.Errorf("seed %d: %v", seed, err)
		}
	}
}

func externalScenario(seed uint64) error {
	r := rand.New(rand.NewPCG(seed, 2))
	n := 6 + r.IntN(10)
	s, err := New(Config{
		Nodes:        n,
		Seed:         seed,
		View:         3 + r.IntN(3),
		LatencyMin:   5 * time.Millisecond,
		LatencyMax:   60 * time.Millisecond,
		Loss:         0.05,
		TickInterval: 50 * time.Millisecond,
		Engine: func(c *replica.Config) {
			c.ExternalDissemination = true
			c.SyncInterval = 500 * time.Millisecond
			c.SuspectTimeout = time.Second
			c.FailTimeout = 2 * time.Second
			c.GCInterval = time.Hour // the property checks every event is kept
		},
	})
	if err != nil {
		return err
	}
	var accepted []*replica.Event
	for step := 0; step < 40; step++ {
		switch x := r.IntN(10); {
		case x < 7:
			i := r.IntN(n)
			if !s.Node(i).Up() {
				continue
			}
			err := s.Do(i, func(e *replica.Engine) error {
				ev, err := e.Put(fmt.Sprintf("k%d", r.IntN(4)), []byte(fmt.Sprintf("%d@%d", step, i)))
				if err == nil {
					accepted = append(accepted, ev)
				}
				return err
			})
			if err != nil {
				return fmt.Errorf("write: %w", err)
			}
		case x < 8:
			g := make([]int, n)
			for i := range g {
				g[i] = r.IntN(2)
			}
			s.Partition(g)
		case x < 9:
			s.Partition(nil)
		default:
			s.Crash(r.IntN(n))
		}
		if err := s.RunFor(time.Duration(r.IntN(200)) * time.Millisecond); err != nil {
			return err
		}
	}
	if err := healAndConverge(s, len(accepted)); err != nil {
		return err
	}
	var broadcast, received uint64
	for i := 0; i < n; i++ {
		st := s.Node(i).Engine().Stats()
		if st.SentByType[replica.TypePush] != 0 {
			return fmt.Errorf("node %d pushed %d messages in external mode", i, st.SentByType[replica.TypePush])
		}
		received += st.ExternalReceived
		broadcast += st.Broadcast
	}
	if received == 0 {
		return fmt.Errorf("the router delivered nothing (%d broadcast)", broadcast)
	}
	return checkIdentical(s, accepted)
}
