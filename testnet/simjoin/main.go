// Command simjoin prints the anti-entropy join benchmark of the sync
// engine in the simulator: an empty node joins after N writes and catches
// up by snapshot (make bench-sim; docs/benchmarks.md).
package main

import (
	"log"
	"os"

	"github.com/murmur-p2p/murmur/sync/simtest"
)

func main() {
	cases := []simtest.JoinCase{
		{Nodes: 4, Writes: 10_000, Keys: 2_000},
		{Nodes: 4, Writes: 10_000, Keys: 10_000},
		{Nodes: 10, Writes: 10_000, Keys: 10_000},
		{Nodes: 4, Writes: 50_000, Keys: 50_000},
	}
	if err := simtest.RunJoinBench(os.Stdout, cases); err != nil {
		log.Fatal(err)
	}
}
