package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/murmur-p2p/murmur/internal/controlapi"
)

// orderedRow formats a line of watch --ordered's table.
const orderedRow = "%-8s  %-19s  %-7s  %-20s  %-24s  %-9s  %s\n"

// orderPoll is how long one long poll of GET /v1/order waits for an event.
const orderPoll = 20 * time.Second

// runWatchOrdered prints events in the global order from index from,
// long-polling GET /v1/order, until Ctrl-C or count events. It survives a
// restarting daemon (it retries) and prints where to resume.
func runWatchOrdered(cf *clientFlags, prefix string, from uint64, count int, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if from == 0 {
		from = 1
	}
	if !cf.json {
		fmt.Fprintf(stdout, orderedRow, "INDEX", "TIME", "OP", "KEY", "VALUE", "ORIGIN", "SEQ")
	}
	c := cf.client()
	seen, lost := 0, false
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, orderPoll+cf.timeout)
		res, err := c.Order(rctx, from, 0, orderPoll)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if controlapi.IsStatus(err, 409) || controlapi.IsStatus(err, 400) || controlapi.IsStatus(err, 401) {
				return cf.explain(err)
			}
			if !lost {
				fmt.Fprintf(stderr, "murmur watch: %v; retrying\n", err)
				lost = true
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		if lost {
			fmt.Fprintln(stderr, "murmur watch: reconnected; resuming at index", from)
			lost = false
		}
		for _, e := range res.Events {
			from = e.Index + 1
			if prefix != "" && !strings.HasPrefix(e.Key, prefix) {
				continue
			}
			if cf.json {
				if err := printJSONLine(stdout, e); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(stdout, orderedRow, strconv.FormatUint(e.Index, 10), e.Time.Local().Format(time.DateTime), e.Op, e.Key,
					clip(e.Value, e.Encoding), shortID(e.Origin), strconv.FormatUint(e.Seq, 10))
			}
			seen++
			if count > 0 && seen >= count {
				fmt.Fprintf(stderr, "resume with: murmur watch --ordered --from %d\n", from)
				return nil
			}
		}
	}
	fmt.Fprintf(stderr, "\nresume with: murmur watch --ordered --from %d\n", from)
	if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
