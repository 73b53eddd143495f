// Command sim runs the sync engine's one-write dissemination benchmark in the
// simulator (sync/simtest) and prints the table of issue 3: for each network
// size and loss rate, time and rounds to 100% delivery (p50, p99 over the
// seeds), payload copies, messages and bytes received per node.
//
//	go run ./testnet/sim -nodes 100,1000,10000 -loss 0,0.05,0.2 -seeds 5
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/murmur-p2p/murmur/sync/simtest"
)

func main() {
	bc := simtest.DefaultBench()
	nodes := flag.String("nodes", "100,1000,10000", "comma-separated network sizes")
	loss := flag.String("loss", "0,0.05,0.2", "comma-separated loss rates")
	flag.IntVar(&bc.Seeds, "seeds", bc.Seeds, "runs (seeds) per size and loss rate")
	flag.IntVar(&bc.View, "view", bc.View, "partial view size of each node")
	flag.IntVar(&bc.Fanout, "fanout", bc.Fanout, "push fanout")
	flag.IntVar(&bc.PayloadSize, "payload", bc.PayloadSize, "payload size in bytes")
	flag.IntVar(&bc.PushHops, "push-hops", bc.PushHops, "eager push hops (-1: engine default 2; 32: plain push gossip for comparison)")
	flag.DurationVar(&bc.Deadline, "deadline", bc.Deadline, "virtual time limit per run")
	flag.Parse()
	var err error
	if bc.Nodes, err = parseList(*nodes, strconv.Atoi); err != nil {
		fail(fmt.Errorf("-nodes %q: %w", *nodes, err))
	}
	if bc.Loss, err = parseList(*loss, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }); err != nil {
		fail(fmt.Errorf("-loss %q: %w", *loss, err))
	}
	start := time.Now()
	if err := simtest.RunBench(os.Stdout, bc); err != nil {
		fail(err)
	}
	fmt.Printf("\ntotal wall time %v\n", time.Since(start).Round(time.Millisecond))
}

func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		v, err := parse(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sim:", err)
	os.Exit(1)
}
