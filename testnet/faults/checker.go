package main

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/murmur-p2p/murmur/internal/controlapi"
)

// load writes unique keys through the nodes' APIs and records which writes
// were acknowledged (200): those must be on every node at the end.
type load struct {
	c      *cluster
	prefix string

	mu    sync.Mutex
	acked map[string]string // key -> value
	// ackedBy is, per node, the last key it acknowledged.
	ackedBy map[int]string

	refused  atomic.Uint64 // answered with an error status
	failed   atomic.Uint64 // no answer (node down, paused, cut off)
	diskFull atomic.Uint64 // answered 507
	stop     chan struct{}
	wg       sync.WaitGroup
}

// startLoad runs one writer per node in targets, each writing to its node
// every pause.
func startLoad(c *cluster, prefix string, targets []*node, pause time.Duration) *load {
	l := &load{c: c, prefix: prefix, acked: map[string]string{}, ackedBy: map[int]string{}, stop: make(chan struct{})}
	for _, nd := range targets {
		l.wg.Add(1)
		go l.writer(nd, pause)
	}
	return l
}

func (l *load) writer(nd *node, pause time.Duration) {
	defer l.wg.Done()
	for seq := 0; ; seq++ {
		select {
		case <-l.stop:
			return
		case <-time.After(pause):
		}
		if !nd.running() {
			continue
		}
		key := fmt.Sprintf("%s/n%d/%06d", l.prefix, nd.i, seq)
		val := fmt.Sprintf("v%d-%d", nd.i, seq)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := nd.api().Put(ctx, key, []byte(val))
		cancel()
		switch {
		case err == nil:
			l.mu.Lock()
			l.acked[key] = val
			l.ackedBy[nd.i] = key
			l.mu.Unlock()
		case controlapi.IsStatus(err, http.StatusInsufficientStorage):
			l.diskFull.Add(1)
		case isStatusError(err):
			l.refused.Add(1)
		default:
			l.failed.Add(1)
		}
	}
}

func isStatusError(err error) bool {
	_, ok := err.(*controlapi.APIError)
	return ok
}

// halt stops the writers.
func (l *load) halt() {
	close(l.stop)
	l.wg.Wait()
}

// ackedCount returns how many writes were acknowledged.
func (l *load) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// lastAckedBy is the last key node i acknowledged ("" if none).
func (l *load) lastAckedBy(i int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ackedBy[i]
}

// verdict is what a convergence check found.
type verdict struct {
	acked     int
	lost      int // acknowledged writes missing on some node at the end
	divergent int // keys whose values differ between nodes at the end
	converged time.Duration
	ok        bool
}

func (v verdict) String() string {
	conv := "did not converge"
	if v.ok {
		conv = "converged in " + v.converged.Round(10*time.Millisecond).String()
	}
	return fmt.Sprintf("acknowledged %d, lost %d, divergent %d, %s", v.acked, v.lost, v.divergent, conv)
}

// snapshot lists prefix on a node: key -> value.
func snapshot(nd *node, prefix string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := nd.api().List(ctx, prefix+"/", 100000)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(res.Keys))
	for _, e := range res.Keys {
		out[e.Key] = e.Value
	}
	return out, nil
}

// converge waits until every running node holds the same keys under the
// load's prefix, including every acknowledged write, and reports when that
// happened relative to since.
func (l *load) converge(since time.Time, timeout time.Duration) verdict {
	l.mu.Lock()
	acked := maps.Clone(l.acked)
	l.mu.Unlock()
	v := verdict{acked: len(acked)}
	deadline := time.Now().Add(timeout)
	lastReport := time.Now()
	for {
		var snaps []map[string]string
		errs := 0
		var lastErr error
		for _, nd := range l.c.nodes {
			if !nd.running() {
				continue
			}
			s, err := snapshot(nd, l.prefix)
			if err != nil {
				errs, lastErr = errs+1, err
				continue
			}
			snaps = append(snaps, s)
		}
		v.lost, v.divergent = 0, 0
		for k, val := range acked {
			for _, s := range snaps {
				if got, ok := s[k]; !ok || got != val {
					v.lost++
					break
				}
			}
		}
		keys := map[string]bool{}
		for _, s := range snaps {
			for k := range s {
				keys[k] = true
			}
		}
		for k := range keys {
			vals := map[string]bool{}
			for _, s := range snaps {
				vals[s[k]] = true // a missing key counts as the value ""
			}
			if len(vals) > 1 {
				v.divergent++
			}
		}
		if errs == 0 && v.lost == 0 && v.divergent == 0 && len(snaps) > 0 {
			v.ok, v.converged = true, time.Since(since)
			return v
		}
		if time.Since(lastReport) >= 10*time.Second {
			lastReport = time.Now()
			say("converging for %s: %s", time.Since(since).Round(time.Second), l.c.describe(l.prefix))
		}
		if time.Now().After(deadline) {
			if errs > 0 {
				say("converge: %d nodes could not be listed: %v", errs, lastErr)
			}
			return v
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pick returns a random element.
func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// sortedKeys is for stable output.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// describe is one line on each running node: peers connected (the table),
// peers the engine holds alive, keys under prefix, and the engine's
// duplicate payloads and timed-out digest syncs so far.
func (c *cluster) describe(prefix string) string {
	var parts []string
	for _, nd := range c.nodes {
		if !nd.running() {
			parts = append(parts, fmt.Sprintf("node %d down", nd.i))
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		st, err := nd.api().Status(ctx)
		peers, perr := nd.api().Peers(ctx)
		cancel()
		keys, kerr := snapshot(nd, prefix)
		if err != nil || perr != nil || kerr != nil {
			parts = append(parts, fmt.Sprintf("node %d: %v %v %v", nd.i, err, perr, kerr))
			continue
		}
		alive := 0
		for _, p := range peers {
			if p.State == "alive" {
				alive++
			}
		}
		parts = append(parts, fmt.Sprintf("node %d: %d connected, %d alive, %d keys, %d duplicates, %d sync timeouts",
			nd.i, st.PeersConnected, alive, len(keys), st.Engine.Duplicates, st.Engine.SyncTimeouts))
	}
	return strings.Join(parts, "; ")
}
