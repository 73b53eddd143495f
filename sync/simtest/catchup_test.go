package simtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// catchupTotals sums the counters of every node.
func catchupTotals(s *Sim) (dups, payloads, bytes, rounds, timeouts uint64) {
	for i := 0; i < s.Len(); i++ {
		st := s.Node(i).Engine().Stats()
		dups += st.Duplicates
		payloads += st.PayloadsReceived
		bytes += st.BytesSent
		rounds += st.SyncRounds
		timeouts += st.SyncTimeouts
	}
	return
}

// TestCatchUpAfterLongPartition splits six nodes into two sides of three
// for a minute of steady writes on both sides (thousands of events each side
// lacks), then heals: every node must converge within a bound of virtual
// time, and the catch-up must not copy the missing events many times over
// (duplicate payloads and bytes bounded by a small multiple of what had to
// move).
func TestCatchUpAfterLongPartition(t *testing.T) {
	s, err := New(Config{
		Nodes:        6,
		Seed:         7,
		LatencyMin:   5 * time.Millisecond,
		LatencyMax:   40 * time.Millisecond,
		TickInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	side := []int{0, 0, 0, 1, 1, 1}
	s.Partition(side)
	const (
		partition = 60 * time.Second
		every     = 20 * time.Millisecond // per side: 50 writes/s
	)
	writes := 0
	for at := time.Duration(0); at < partition; at += every {
		for g := 0; g < 2; g++ {
			i := g*3 + writes%3
			key := fmt.Sprintf("k/%d/%d", g, writes%400)
			if err := s.Do(i, func(e *replica.Engine) error {
				_, err := e.Put(key, []byte(fmt.Sprintf("v%d", writes)))
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		writes++
		if err := s.RunFor(every); err != nil {
			t.Fatal(err)
		}
	}
	// Each side lacks the other side's writes.
	missing := uint64(writes) // per node
	d0, p0, b0, r0, t0 := catchupTotals(s)
	s.Partition(nil)
	healed := s.Elapsed()
	moved := missing * uint64(s.Len()) // events that had to reach a node
	// Run in slices, stopping early once the payload bound is broken (a
	// catch-up that multiplies its messages would otherwise run for long).
	ok := false
	for !ok && s.Elapsed()-healed < 60*time.Second {
		if ok, err = s.RunUntil(s.StatesEqual, time.Second); err != nil {
			t.Fatal(err)
		}
		if _, p, _, _, _ := catchupTotals(s); p-p0 > 3*moved {
			break
		}
	}
	took := s.Elapsed() - healed
	d1, p1, b1, r1, t1 := catchupTotals(s)
	t.Logf("%d events per side; converged=%v after %v; duplicates %d, payloads %d (needed %d), bytes sent %d, sync rounds %d, timeouts %d",
		writes, ok, took, d1-d0, p1-p0, moved, b1-b0, r1-r0, t1-t0)
	if !ok {
		t.Fatalf("no convergence %v after healing a %v partition", took, partition)
	}
	if s.Errors > 0 {
		t.Fatalf("%d step errors, last: %v", s.Errors, s.LastError)
	}
	if took > 10*time.Second {
		t.Errorf("converged %v after healing, want within 10 s", took)
	}
	if p1-p0 > 3*moved {
		t.Errorf("%d payloads received to move %d events, want at most 3x", p1-p0, moved)
	}
}
