package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/murmur-p2p/murmur/internal/controlapi"
)

// watchRow formats a line of watch's table (columns stay aligned for keys
// up to 20 characters and values up to 24).
const watchRow = "%-19s  %-7s  %-20s  %-24s  %-9s  %s\n"

// errEnough ends a watch after --count changes.
var errEnough = errors.New("enough changes")

func runWatch(args []string, stdout, stderr io.Writer) error {
	var cursor *string
	var fromStart, noReconnect, ordered *bool
	var count *int
	var orderFrom *uint64
	cf, pos, err := parseClient("watch", args, stderr, 0, 1, "[PREFIX]", func(fs *flag.FlagSet) {
		cursor = fs.String("cursor", "", "resume after this cursor (from a change's cursor or murmur status); default: from now")
		fromStart = fs.Bool("from-start", false, "replay every change the node holds, then follow")
		count = fs.Int("count", 0, "exit after this many changes (0: run until Ctrl-C)")
		noReconnect = fs.Bool("no-reconnect", false, "exit when the stream ends instead of reconnecting")
		ordered = fs.Bool("ordered", false, "deliver events in the global order (ordering: raft), resumable with --from")
		orderFrom = fs.Uint64("from", 1, "with --ordered: start at this order index")
	})
	if err != nil {
		return err
	}
	if *ordered {
		prefix := ""
		if len(pos) == 1 {
			prefix = pos[0]
		}
		return runWatchOrdered(cf, prefix, *orderFrom, *count, stdout, stderr)
	}
	opts := controlapi.WatchOptions{Cursor: *cursor, Reconnect: !*noReconnect}
	if len(pos) == 1 {
		opts.Prefix = pos[0]
	}
	if *fromStart {
		if *cursor != "" {
			fmt.Fprintln(stderr, "murmur watch: --cursor and --from-start exclude each other")
			return errUsage
		}
		opts.Cursor = controlapi.CursorStart
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	lost, header := false, false
	opts.OnState = func(connected bool, err error) {
		if connected && !header && !cf.json {
			// Printed once connected, so a script that waits for it knows
			// that changes from now on are delivered.
			fmt.Fprintf(stdout, watchRow, "TIME", "OP", "KEY", "VALUE", "ORIGIN", "SEQ")
			header = true
		}
		switch {
		case connected && lost:
			fmt.Fprintln(stderr, "murmur watch: reconnected; resuming from the last cursor")
			lost = false
		case !connected && !lost:
			fmt.Fprintf(stderr, "murmur watch: stream lost (%v); reconnecting\n", err)
			lost = true
		}
	}
	seen := 0
	last, err := cf.client().Watch(ctx, opts, func(c controlapi.Change) error {
		if cf.json {
			if err := printJSONLine(stdout, c); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(stdout, watchRow, c.Time.Local().Format(time.DateTime), c.Op, c.Key,
				clip(c.Value, c.Encoding), shortID(c.Origin), strconv.FormatUint(c.Seq, 10))
		}
		seen++
		if *count > 0 && seen >= *count {
			return errEnough
		}
		return nil
	})
	resume := "murmur watch"
	switch {
	case cf.api != "":
		resume += " --api " + cf.api
	case cf.dataDir != "":
		resume += " --data " + cf.dataDir
	}
	if opts.Prefix != "" {
		resume += " " + opts.Prefix
	}
	switch {
	case errors.Is(err, errEnough):
		if !cf.json {
			fmt.Fprintf(stderr, "resume with: %s --cursor '%s'\n", resume, last)
		}
		return nil
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "\nresume with: %s --cursor '%s'\n", resume, last)
		return nil
	}
	if err == nil {
		return nil // the stream ended (--no-reconnect)
	}
	return cf.explain(err)
}
