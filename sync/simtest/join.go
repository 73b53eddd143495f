package simtest

import (
	"fmt"
	"io"
	"time"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// JoinResult is what JoinScenario measured.
type JoinResult struct {
	// CatchUp is the virtual time from the join until the new node's
	// state and vector equal everyone's.
	CatchUp time.Duration
	// SnapshotsReceived and SnapshotChunks count the joiner's snapshot
	// pulls and chunks; BytesReceived all bytes it received.
	SnapshotsReceived, SnapshotChunks, BytesReceived uint64
	// SnapshotBytes is the size of the chunks it received.
	SnapshotBytes uint64
	// Keys is the number of keys it ends with.
	Keys uint64
}

// JoinScenario writes `writes` puts over `keys` keys on nodes-1 nodes,
// then boots the last node empty and runs until it has converged.
func JoinScenario(seed uint64, nodes, writes, keys int) (JoinResult, error) {
	var res JoinResult
	s, err := New(Config{
		Nodes: nodes, Seed: seed,
		LatencyMin: 10 * time.Millisecond, LatencyMax: 30 * time.Millisecond,
		TickInterval: 50 * time.Millisecond,
		Engine: func(c *replica.Config) {
			c.SyncInterval = 500 * time.Millisecond
			c.AntiEntropyInterval = 5 * time.Second
			c.GCInterval = time.Hour
		},
	})
	if err != nil {
		return res, err
	}
	joiner := nodes - 1
	if err := s.Disconnect(joiner); err != nil {
		return res, err
	}
	for w := 0; w < writes; w++ {
		i := w % joiner
		key := fmt.Sprintf("key/%05d", (w*7919)%keys)
		if err := s.Do(i, func(e *replica.Engine) error {
			_, err := e.Put(key, []byte(fmt.Sprintf("value %d written by node %d", w, i)))
			return err
		}); err != nil {
			return res, err
		}
		if w%100 == 99 {
			if err := s.RunFor(100 * time.Millisecond); err != nil {
				return res, err
			}
		}
	}
	if ok, err := s.RunUntil(s.StatesEqual, time.Minute); err != nil || !ok {
		return res, fmt.Errorf("writers did not converge (err %v)", err)
	}
	start := s.Now()
	if err := s.Reconnect(joiner); err != nil {
		return res, err
	}
	if ok, err := s.RunUntil(s.StatesEqual, 5*time.Minute); err != nil || !ok {
		return res, fmt.Errorf("the joining node did not converge in 5 minutes (err %v)", err)
	}
	if s.Errors > 0 {
		return res, fmt.Errorf("%d step errors, last: %v", s.Errors, s.LastError)
	}
	st := s.Node(joiner).Engine().Stats()
	res.CatchUp = s.Now().Sub(start)
	res.SnapshotsReceived = st.SnapshotsReceived
	res.SnapshotChunks = st.SnapshotChunksReceived
	res.SnapshotBytes = st.SnapshotBytesReceived
	res.BytesReceived = st.BytesReceived
	res.Keys = s.Node(joiner).Store.MerkleTree().Root().Count
	return res, nil
}

// JoinCase is one row of the join benchmark.
type JoinCase struct {
	Nodes, Writes, Keys int
}

// RunJoinBench prints, per case, how an empty node joining after the
// writes catches up: virtual time to identical state and vector, snapshot
// chunks and bytes, and all bytes the joiner received, as a ratio to the
// size of the state it ends with.
func RunJoinBench(w io.Writer, cases []JoinCase) error {
	fmt.Fprintln(w, "| nodes | writes | keys | catch-up (virtual) | snapshot chunks | snapshot bytes | bytes received | bytes / key |")
	fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, c := range cases {
		r, err := JoinScenario(1, c.Nodes, c.Writes, c.Keys)
		if err != nil {
			return fmt.Errorf("join %+v: %w", c, err)
		}
		fmt.Fprintf(w, "| %d | %d | %d | %v | %d | %d | %d | %.0f |\n", c.Nodes, c.Writes, c.Keys, r.CatchUp,
			r.SnapshotChunks, r.SnapshotBytes, r.BytesReceived, float64(r.BytesReceived)/float64(max(r.Keys, 1)))
	}
	return nil
}
