package simtest

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/sync/replica"
)

var (
	advSeedFlag  = flag.Uint64("advseed", 0, "run TestAdversarial for this one seed only")
	advSeedsFlag = flag.Int("advseeds", 200, "number of seeds TestAdversarial runs")
)

// TestAdversarial is issue 9's property: with k of N nodes lying (k up to
// a third, each with a strategy of adversary.go), every acknowledged
// write of an honest node that no honest signed write superseded is
// present on every honest node, honest nodes end with identical state
// (outside the liars' own keys), and honest memory and message counts
// stay bounded.
func TestAdversarial(t *testing.T) {
	var seeds []uint64
	if *advSeedFlag != 0 {
		seeds = append(seeds, *advSeedFlag)
	} else {
		for i := 1; i <= *advSeedsFlag; i++ {
			seeds = append(seeds, uint64(i))
		}
	}
	for _, seed := range seeds {
		if desc, err := adversarialScenario(seed); err != nil {
			t.Errorf("seed %d (%s): %v\nreplay: go test ./sync/simtest -run TestAdversarial -advseed=%d -v", seed, desc, err, seed)
		}
	}
}

// advOrigins is the per-peer and total origin quota of the scenario.
const advOriginsPerPeer, advOrigins = 32, 256

func adversarialScenario(seed uint64) (string, error) {
	r := rand.New(rand.NewPCG(seed, 9))
	n := 4 + r.IntN(4)
	k := 1 + r.IntN(n/3)
	liars := map[int]Strategy{}
	var desc []string
	for len(liars) < k {
		i := r.IntN(n)
		if _, ok := liars[i]; !ok {
			liars[i] = Strategy(r.IntN(int(NumStrategies)))
			desc = append(desc, fmt.Sprintf("node %d %s", i, liars[i]))
		}
	}
	d := fmt.Sprintf("%d nodes, liars: %s", n, strings.Join(desc, ", "))
	s, err := New(Config{
		Nodes: n, Seed: seed,
		LatencyMin: 5 * time.Millisecond, LatencyMax: 40 * time.Millisecond,
		Loss:         0.02,
		TickInterval: 50 * time.Millisecond,
		Liars:        liars,
		Engine: func(c *replica.Config) {
			c.SyncInterval = 500 * time.Millisecond
			c.AntiEntropyInterval = 2 * time.Second
			c.SuspectTimeout = time.Second
			c.FailTimeout = 2 * time.Second
			c.MaxOriginsPerPeer = advOriginsPerPeer
			c.MaxOrigins = advOrigins
			// Superseded events stay, so the property can check what
			// superseded what (antientropy_test.go covers collection).
			c.GCInterval = time.Hour
		},
	})
	if err != nil {
		return d, err
	}
	var honest []int
	for i := 0; i < n; i++ {
		if _, ok := liars[i]; !ok {
			honest = append(honest, i)
		}
	}
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5"}
	var accepted []*replica.Event
	writes := 20 + r.IntN(30)
	for w := 0; w < writes; w++ {
		i := honest[r.IntN(len(honest))]
		key := keys[r.IntN(len(keys))]
		err := s.Do(i, func(e *replica.Engine) error {
			var ev *replica.Event
			var err error
			if r.IntN(5) == 0 {
				ev, err = e.Delete(key)
			} else {
				ev, err = e.Put(key, []byte(fmt.Sprintf("%d-%d", i, w)))
			}
			if err == nil {
				accepted = append(accepted, ev)
			}
			return err
		})
		if err != nil {
			return d, err
		}
		if err := s.RunFor(time.Duration(r.IntN(200)) * time.Millisecond); err != nil {
			return d, err
		}
	}
	start, before := s.Now(), s.messagesTo(honest)
	equal := func() bool { return honestEqual(s, honest) == nil }
	if ok, err := s.RunUntil(equal, 60*time.Second); err != nil {
		return d, err
	} else if !ok {
		return d, fmt.Errorf("honest nodes did not converge in 60 s: %v", honestEqual(s, honest))
	}
	if err := honestWritesKept(s, honest, accepted); err != nil {
		return d, err
	}
	// Bounded: origins within the quotas, and honest message rates.
	for _, i := range honest {
		if o := len(s.Node(i).Engine().VersionVector()); o > advOrigins {
			return d, fmt.Errorf("node %d tracks %d origins, limit %d", i, o, advOrigins)
		}
	}
	secs := max(1, s.Now().Sub(start).Seconds())
	if rate := float64(s.messagesTo(honest)-before) / secs / float64(len(honest)); rate > 500 {
		return d, fmt.Errorf("honest nodes received %.0f messages per second each", rate)
	}
	return d, nil
}

// messagesTo is the number of messages the nodes received.
func (s *Sim) messagesTo(nodes []int) uint64 {
	var m uint64
	for _, i := range nodes {
		m += s.Node(i).Engine().Stats().MessagesReceived
	}
	return m
}

// honestEqual compares honest nodes' vectors (honest origins) and key
// states (outside the liars' keys) with the first honest node's.
func honestEqual(s *Sim, honest []int) error {
	ref := s.Node(honest[0])
	isHonest := map[replica.PeerID]bool{}
	for _, i := range honest {
		isHonest[s.Node(i).ID] = true
	}
	var refKeys []*replica.KeyState
	if err := ref.Store.ScanKeys("", func(ks *replica.KeyState) bool {
		if !strings.HasPrefix(ks.Key, LiarKeyPrefix) {
			refKeys = append(refKeys, ks)
		}
		return true
	}); err != nil {
		return err
	}
	refVV := ref.Engine().VersionVector()
	for _, i := range honest[1:] {
		nd := s.Node(i)
		vv := nd.Engine().VersionVector()
		for o := range isHonest {
			if vv[o] != refVV[o] {
				return fmt.Errorf("node %d holds %d events of %s, node %d %d", i, vv[o], o, honest[0], refVV[o])
			}
		}
		count := 0
		if err := nd.Store.ScanKeys("", func(ks *replica.KeyState) bool {
			if !strings.HasPrefix(ks.Key, LiarKeyPrefix) {
				count++
			}
			return true
		}); err != nil {
			return err
		}
		if count != len(refKeys) {
			return fmt.Errorf("node %d holds %d keys, node %d %d", i, count, honest[0], len(refKeys))
		}
		for _, want := range refKeys {
			got, err := nd.Engine().Versions(want.Key)
			if err != nil || !got.Equal(want) {
				return fmt.Errorf("node %d state of %q differs from node %d's (%v)", i, want.Key, honest[0], err)
			}
		}
	}
	return nil
}

// honestWritesKept checks that every accepted honest write is, on every
// honest node, a version of its key or superseded by an accepted honest
// write whose signed context covers it.
func honestWritesKept(s *Sim, honest []int, accepted []*replica.Event) error {
	for _, w := range accepted {
		superseded := false
		for _, o := range accepted {
			if o.Key == w.Key && o.Dot() != w.Dot() && o.Context.Covers(w.Dot()) {
				superseded = true
				break
			}
		}
		if superseded {
			continue
		}
		for _, i := range honest {
			ks, err := s.Node(i).Engine().Versions(w.Key)
			found := false
			if err == nil {
				for _, v := range ks.Versions {
					found = found || v.Dot() == w.Dot()
				}
			}
			if !found {
				return fmt.Errorf("node %d lost %s/%d (%s %q), which no honest write superseded", i, w.Origin, w.Seq, w.Op, w.Key)
			}
		}
	}
	return nil
}
