package simtest

import (
	"os"
	"testing"
)

// TestBenchSmall runs the benchmark on a small network to keep it working;
// the full table is `make bench-sim`.
func TestBenchSmall(t *testing.T) {
	bc := DefaultBench()
	bc.Nodes = []int{100}
	bc.Seeds = 2
	for _, loss := range bc.Loss {
		for seed := uint64(1); seed <= 2; seed++ {
			r, err := RunOne(100, loss, seed, bc)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Complete {
				t.Fatalf("loss %v seed %d: not delivered to every node", loss, seed)
			}
			if r.Copies < 0.99 {
				t.Fatalf("loss %v seed %d: %.2f payload copies per node, fewer than one", loss, seed, r.Copies)
			}
		}
	}
	if testing.Verbose() {
		if err := RunBench(os.Stdout, bc); err != nil {
			t.Fatal(err)
		}
	}
}
