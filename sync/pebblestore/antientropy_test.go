package pebblestore

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/storetest"
)

// statesIn returns the key states s holds in the ranges of r.
func statesIn(t *testing.T, s *Store, r merkle.Result) []*replica.KeyState {
	var out []*replica.KeyState
	for _, rg := range r.Ranges {
		must(t, s.ScanKeyHashes(replica.KeyHash(rg.First()), func(h replica.KeyHash, ks *replica.KeyState) bool {
			if !rg.Contains(merkle.KeyHash(h)) {
				return false
			}
			out = append(out, ks)
			return true
		}))
	}
	return out
}

// TestAntiEntropyBetweenStores runs a reconciliation between two Pebble
// stores that missed each other's writes and checks that the ranges hold
// exactly the differing keys and that exchanging them makes the stores'
// trees equal.
func TestAntiEntropyBetweenStores(t *testing.T) {
	a, err := Open(t.TempDir(), Options{MerkleDepth: 10})
	must(t, err)
	defer a.Close()
	b, err := Open(t.TempDir(), Options{MerkleDepth: 7})
	must(t, err)
	defer b.Close()
	common := storetest.BatchSeq(rand.New(rand.NewPCG(3, 3)), 30, 30)
	for _, bt := range common {
		must(t, a.Apply(bt))
		must(t, b.Apply(bt))
	}
	wa, wb := storetest.NewWriter("only-a"), storetest.NewWriter("only-b")
	want := map[string]bool{}
	for i := 0; i < 40; i++ {
		k := fmt.Sprintf("a-%d", i)
		must(t, a.Apply(wa.Put(k, []byte("x"))))
		want[k] = true
	}
	for i := 0; i < 25; i++ {
		k := fmt.Sprintf("b-%d", i)
		must(t, b.Apply(wb.Put(k, []byte("y"))))
		want[k] = true
	}
	// A key b garbage-collected: a still holds it.
	gone := common[0].Keys[0].Key
	must(t, b.Apply(&replica.Batch{DeleteKeys: []string{gone}}))
	want[gone] = true

	ini, err := merkle.NewInitiator(merkle.Config{Depth: 10}, a.MerkleTree(), a.MerkleSource())
	must(t, err)
	res, err := merkle.NewResponder(merkle.Config{Depth: 7}, b.MerkleTree(), b.MerkleSource())
	must(t, err)
	req, err := ini.Start()
	must(t, err)
	for req != nil {
		resp, err := res.Handle(req)
		must(t, err)
		if resp == nil {
			break
		}
		req, err = ini.Step(resp)
		must(t, err)
	}
	fromA, fromB := statesIn(t, a, ini.Result()), statesIn(t, b, res.Result())
	got := map[string]bool{}
	for _, ks := range append(fromA, fromB...) {
		got[ks.Key] = true
	}
	if len(got) != len(want) {
		t.Fatalf("found %d differing keys, want %d", len(got), len(want))
	}
	for k := range want {
		if !got[k] {
			t.Fatalf("differing key %q not found", k)
		}
	}
	must(t, b.Apply(&replica.Batch{Keys: fromA}))
	must(t, a.Apply(&replica.Batch{Keys: fromB}))
	if a.MerkleTree().Root() != b.MerkleTree().Root() {
		t.Fatal("roots differ after exchanging the differing keys")
	}
	t.Logf("%d differing keys in %d round trips, %d protocol bytes", len(want), ini.Result().RoundTrips,
		ini.Result().BytesSent+ini.Result().BytesReceived)
}
