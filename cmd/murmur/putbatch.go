package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/murmur-p2p/murmur/internal/controlapi"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// defaultBatchSize is put-batch's puts per request: large enough that the
// request and its fsync are shared by hundreds of writes, half of the
// API's limit (controlapi.MaxBatchPuts) so 1 KB values still fit a body.
const defaultBatchSize = 500

// runPutBatch writes many keys from lines KEY<TAB>VALUE, --size per
// request (POST /v1/kv): each put is its own event, and each request is
// answered once all of its puts are durable.
func runPutBatch(args []string, stdout, stderr io.Writer) error {
	size := defaultBatchSize
	cf, pos, err := parseClient("put-batch", args, stderr, 0, 1, "[FILE]   (one KEY<TAB>VALUE per line; no FILE or - reads stdin)", func(fs *flag.FlagSet) {
		fs.IntVar(&size, "size", defaultBatchSize, fmt.Sprintf("puts per request (1 to %d)", controlapi.MaxBatchPuts))
	})
	if err != nil {
		return err
	}
	if size < 1 || size > controlapi.MaxBatchPuts {
		return &exitError{exitUsage, fmt.Errorf("--size %d: must be 1 to %d", size, controlapi.MaxBatchPuts)}
	}
	in := io.Reader(os.Stdin)
	if len(pos) == 1 && pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return &exitError{exitUsage, fmt.Errorf("put-batch: %w", err)}
		}
		defer f.Close()
		in = f
	}
	c := cf.client()
	var all []controlapi.WriteResult
	written := 0
	send := func(items []replica.KV) error {
		ctx, cancel := cf.context()
		defer cancel()
		res, err := c.PutMany(ctx, items)
		if err != nil {
			fmt.Fprintf(stderr, "murmur put-batch: %d puts written before this error\n", written)
			return cf.explain(err)
		}
		written += len(res)
		if cf.json {
			all = append(all, res...)
		}
		return nil
	}
	if err := readBatchLines(in, size, send); err != nil {
		return err
	}
	if cf.json {
		return printJSON(stdout, controlapi.PutManyResult{Results: all})
	}
	_, err = fmt.Fprintf(stdout, "put %d keys\n", written)
	return err
}

// readBatchLines parses KEY<TAB>VALUE lines (empty lines skipped) and hands
// them to send size at a time. A bad line stops it before anything after
// the last full batch is sent.
func readBatchLines(in io.Reader, size int, send func([]replica.KV) error) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), replica.MaxKeySize+replica.MaxValueSize+2)
	batch := make([]replica.KV, 0, size)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" {
			continue
		}
		key, value, ok := strings.Cut(text, "\t")
		if !ok {
			return &exitError{exitUsage, fmt.Errorf("line %d: no tab: want KEY<TAB>VALUE", line)}
		}
		if err := checkKeyArg(key); err != nil {
			return &exitError{exitUsage, fmt.Errorf("line %d: %w", line, err)}
		}
		batch = append(batch, replica.KV{Key: key, Value: []byte(value)})
		if len(batch) == size {
			if err := send(batch); err != nil {
				return err
			}
			batch = make([]replica.KV, 0, size)
		}
	}
	if err := sc.Err(); err != nil {
		return &exitError{exitFailure, fmt.Errorf("read input: %w", err)}
	}
	if len(batch) > 0 {
		return send(batch)
	}
	return nil
}
