package merkle_test

import (
	"fmt"

	"github.com/murmur-p2p/murmur/sync/merkle"
)

// Two replicas that agree on 1,000 keys except three: the initiator drives
// the session, the responder answers, and both end with the ranges that
// hold exactly the differing keys.
func ExampleInitiator() {
	a, _ := merkle.NewMemState(12)
	b, _ := merkle.NewMemState(12)
	for i := 0; i < 1000; i++ {
		h := merkle.HashKey(fmt.Sprint("key-", i))
		a.Put(h, merkle.Digest{1})
		b.Put(h, merkle.Digest{1})
	}
	b.Put(merkle.HashKey("key-7"), merkle.Digest{2}) // b has a newer version
	b.Put(merkle.HashKey("new"), merkle.Digest{1})   // a missed a write
	a.Delete(merkle.HashKey("key-500"))              // a garbage-collected a key

	cfg := merkle.DefaultConfig()
	ini, _ := merkle.NewInitiator(cfg, a.Tree, a.Index)
	res, _ := merkle.NewResponder(cfg, b.Tree, b.Index)
	req, _ := ini.Start()
	for req != nil {
		resp, err := res.Handle(req) // in real life: sent to the peer
		if err != nil || resp == nil {
			break // nil: req ended the session (Done or FullSync)
		}
		req, _ = ini.Step(resp)
	}
	r := ini.Result()
	mine, _ := r.Entries(a.Index)
	theirs, _ := res.Result().Entries(b.Index)
	fmt.Println("full sync:", r.FullSync)
	fmt.Println("entries to send:", len(mine), "to receive:", len(theirs))
	// Output:
	// full sync: false
	// entries to send: 1 to receive: 3
}
