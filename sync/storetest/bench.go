package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// benchOrigin is as long as a libp2p Ed25519 peer ID (38 bytes).
var benchOrigin = string(bytes.Repeat([]byte{'p'}, 38))

// BenchApply measures write throughput of the stores open returns: batches
// of eventsPerBatch put events (100-byte values, 64-byte signatures), each
// with its key state, version vector and clock, as the engine writes them.
// It reports events/s.
func BenchApply(b *testing.B, open func(b *testing.B) replica.Store, eventsPerBatch int) {
	s := open(b)
	defer s.Close()
	w := NewWriter(benchOrigin)
	batches := make([]*replica.Batch, b.N)
	for i := range batches {
		parts := make([]*replica.Batch, eventsPerBatch)
		for j := range parts {
			parts[j] = w.Put(fmt.Sprintf("key/%d/%d", i, j), bytes.Repeat([]byte{'v'}, 100))
			parts[j].Events[0].Signature = bytes.Repeat([]byte{'s'}, 64)
		}
		batches[i] = Merge(parts...)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for _, bt := range batches {
		if err := s.Apply(bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*eventsPerBatch)/time.Since(start).Seconds(), "events/s")
}

// BenchAntiEntropy measures one anti-entropy round between two stores that
// share keys common keys and differ in differ keys the first holds alone:
// the Merkle session over both stores' trees and sources, then reading the
// differing key states from the first store (what it sends) and applying
// them to a third, empty store of the same kind (what the receiver
// writes). It reports ms per round and differing keys found.
func BenchAntiEntropy(b *testing.B, open func(b *testing.B) replica.Store, common, differ int) {
	a, o := open(b), open(b)
	defer a.Close()
	defer o.Close()
	w := NewWriter(benchOrigin)
	var parts []*replica.Batch
	flush := func(stores ...replica.Store) {
		bt := Merge(parts...)
		for _, s := range stores {
			if err := s.Apply(bt); err != nil {
				b.Fatal(err)
			}
		}
		parts = parts[:0]
	}
	for i := 0; i < common; i++ {
		parts = append(parts, w.Put(fmt.Sprintf("common/%d", i), bytes.Repeat([]byte{'v'}, 100)))
		if len(parts) == 500 {
			flush(a, o)
		}
	}
	flush(a, o)
	for i := 0; i < differ; i++ {
		parts = append(parts, w.Put(fmt.Sprintf("only-a/%d", i), bytes.Repeat([]byte{'v'}, 100)))
	}
	flush(a)
	ma, mo := a.(replica.MerkleStore), o.(replica.MerkleStore)
	cfg := merkle.Config{Depth: ma.MerkleTree().Depth(), FullSyncThreshold: 1}
	found := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ini, err := merkle.NewInitiator(cfg, ma.MerkleTree(), ma.MerkleSource())
		if err != nil {
			b.Fatal(err)
		}
		res, err := merkle.NewResponder(cfg, mo.MerkleTree(), mo.MerkleSource())
		if err != nil {
			b.Fatal(err)
		}
		req, err := ini.Start()
		for err == nil && req != nil {
			var resp *merkle.Response
			if resp, err = res.Handle(req); err != nil || resp == nil {
				break
			}
			req, err = ini.Step(resp)
		}
		if err != nil {
			b.Fatal(err)
		}
		var states []*replica.KeyState
		for _, rg := range ini.Result().Ranges {
			err := a.ScanKeyHashes(replica.KeyHash(rg.First()), func(h replica.KeyHash, ks *replica.KeyState) bool {
				if !rg.Contains(merkle.KeyHash(h)) {
					return false
				}
				states = append(states, ks)
				return true
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		found = len(states)
		b.StopTimer()
		sink := open(b)
		b.StartTimer()
		if err := sink.Apply(&replica.Batch{Keys: states}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = sink.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/round")
	b.ReportMetric(float64(found), "keys/round")
}
