package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/murmur-p2p/murmur/internal/controlapi"
)

// printJSON writes v indented.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// readValue returns the value argument, or stdin when it is "-".
func readValue(arg string, stdin io.Reader) ([]byte, error) {
	if arg != "-" {
		return []byte(arg), nil
	}
	b, err := io.ReadAll(io.LimitReader(stdin, 2<<20))
	if err != nil {
		return nil, fmt.Errorf("read value from stdin: %w", err)
	}
	return b, nil
}

// printWrite is the table form of a put, delete or publish.
func printWrite(stdout io.Writer, verb string) func(controlapi.WriteResult) error {
	return func(r controlapi.WriteResult) error {
		_, err := fmt.Fprintf(stdout, "%s %s (origin %s seq %d)\n", verb, r.Key, shortID(r.Origin), r.Seq)
		return err
	}
}

func runPut(args []string, stdout, stderr io.Writer) error {
	cf, pos, err := parseClient("put", args, stderr, 2, 2, "KEY VALUE   (VALUE - reads stdin)", nil)
	if err != nil {
		return err
	}
	if err := checkKeyArg(pos[0]); err != nil {
		return err
	}
	value, err := readValue(pos[1], os.Stdin)
	if err != nil {
		return err
	}
	return callAPI(cf, stdout, func(c *controlapi.Client, ctx context.Context) (controlapi.WriteResult, error) {
		return c.Put(ctx, pos[0], value)
	}, printWrite(stdout, "put"))
}

func runGet(args []string, stdout, stderr io.Writer) error {
	var wait time.Duration
	cf, pos, err := parseClient("get", args, stderr, 1, 1, "KEY", func(fs *flag.FlagSet) {
		fs.DurationVar(&wait, "wait", 0, "if the key is not there, wait up to this long for it to arrive (e.g. 5s)")
	})
	if err != nil {
		return err
	}
	if err := checkKeyArg(pos[0]); err != nil {
		return err
	}
	return callAPI(cf, stdout, func(c *controlapi.Client, ctx context.Context) (controlapi.Entry, error) {
		deadline := time.Now().Add(wait)
		for {
			e, err := c.Get(ctx, pos[0])
			if !controlapi.IsStatus(err, http.StatusNotFound) || time.Now().After(deadline) {
				return e, err
			}
			select {
			case <-ctx.Done():
				return e, err
			case <-time.After(100 * time.Millisecond):
			}
		}
	}, func(e controlapi.Entry) error {
		v, err := e.Bytes()
		if err != nil {
			return err
		}
		if e.Conflict {
			fmt.Fprintf(stderr, "note: %q has %d concurrent versions; this is the winner every node reads (murmur get --json shows all)\n", e.Key, len(e.Versions))
		}
		if _, err := stdout.Write(v); err != nil {
			return err
		}
		if e.Encoding == controlapi.EncodingUTF8 && !strings.HasSuffix(e.Value, "\n") {
			_, err = fmt.Fprintln(stdout)
		}
		return err
	})
}

func runDel(args []string, stdout, stderr io.Writer) error {
	cf, pos, err := parseClient("del", args, stderr, 1, 1, "KEY", nil)
	if err != nil {
		return err
	}
	if err := checkKeyArg(pos[0]); err != nil {
		return err
	}
	return callAPI(cf, stdout, func(c *controlapi.Client, ctx context.Context) (controlapi.WriteResult, error) {
		return c.Delete(ctx, pos[0])
	}, printWrite(stdout, "deleted"))
}

func runLs(args []string, stdout, stderr io.Writer) error {
	var limit int
	cf, pos, err := parseClient("ls", args, stderr, 0, 1, "[PREFIX]", func(fs *flag.FlagSet) {
		fs.IntVar(&limit, "limit", 1000, "list at most this many keys")
	})
	if err != nil {
		return err
	}
	prefix := ""
	if len(pos) == 1 {
		prefix = pos[0]
	}
	return callAPI(cf, stdout, func(c *controlapi.Client, ctx context.Context) (controlapi.ListResult, error) {
		return c.List(ctx, prefix, limit)
	}, func(res controlapi.ListResult) error {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tVALUE\tORIGIN\tSEQ\tUPDATED\tCONFLICT")
		for _, e := range res.Keys {
			conflict := ""
			if e.Conflict {
				conflict = fmt.Sprintf("%d versions", len(e.Versions))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", e.Key, clip(e.Value, e.Encoding), shortID(e.Origin), e.Seq,
				e.Time.Local().Format(time.DateTime), conflict)
		}
		if res.Truncated {
			fmt.Fprintf(stderr, "(more keys match; showing the first %d: raise --limit)\n", len(res.Keys))
		}
		return tw.Flush()
	})
}

func runPublish(args []string, stdout, stderr io.Writer) error {
	cf, pos, err := parseClient("publish", args, stderr, 1, 2, "TOPIC [PAYLOAD]   (PAYLOAD - reads stdin)", nil)
	if err != nil {
		return err
	}
	var payload []byte
	if len(pos) == 2 {
		if payload, err = readValue(pos[1], os.Stdin); err != nil {
			return err
		}
	}
	return callAPI(cf, stdout, func(c *controlapi.Client, ctx context.Context) (controlapi.WriteResult, error) {
		return c.Publish(ctx, pos[0], payload)
	}, printWrite(stdout, "published"))
}

// clip shortens a value for a table cell.
func clip(v, encoding string) string {
	if encoding == controlapi.EncodingBase64 {
		v = "base64:" + v
	}
	v = strings.ReplaceAll(v, "\n", `\n`)
	v = strings.ReplaceAll(v, "\t", `\t`)
	if r := []rune(v); len(r) > 40 {
		return string(r[:39]) + "…"
	}
	return v
}

// shortID abbreviates a peer ID for tables: its last 8 characters.
func shortID(id string) string {
	if len(id) > 8 {
		return "…" + id[len(id)-8:]
	}
	return id
}
