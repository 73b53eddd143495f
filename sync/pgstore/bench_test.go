package pgstore

import (
	"fmt"
	"testing"

	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/storetest"
)

// BenchmarkStore runs the store benchmarks every store shares
// (sync/storetest) on the test server (synchronous_commit on, fsync on),
// for comparison with sync/pebblestore: writes in batches of 1 and 64
// events, and an anti-entropy round over 10,000 keys of which 100 differ.
func BenchmarkStore(b *testing.B) {
	open := func(b *testing.B) replica.Store {
		s, err := Open(Options{DSN: server.DSN(), Schema: server.Schema(), MerkleDepth: 12})
		must(b, err)
		return s
	}
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprintf("apply/events=%d", n), func(b *testing.B) { storetest.BenchApply(b, open, n) })
	}
	b.Run("antientropy/keys=10000/differ=100", func(b *testing.B) { storetest.BenchAntiEntropy(b, open, 10000, 100) })
}
