package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/murmur-p2p/murmur/internal/controlapi"
)

// Exit codes of the client commands (documented in docs/api.md and the
// README): 0 success, 1 failure, 2 usage error or input the daemon rejects,
// 3 not found, 4 no daemon reachable, 5 missing or wrong API token.
const (
	exitFailure      = 1
	exitUsage        = 2
	exitNotFound     = 3
	exitNoDaemon     = 4
	exitUnauthorized = 5
)

// apiAddrFileName is the file in the data dir where a running daemon
// records its control API address (host:port); clients given --data read it.
const apiAddrFileName = "api.addr"

// Environment variables the client commands read.
const (
	envAPI      = "MURMUR_API"       // API address when neither --api nor --data is given
	envAPIToken = "MURMUR_API_TOKEN" // bearer token (also the daemon's api_token)
)

// exitError carries an exit code with an error message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// clientFlags are the flags every client command takes.
type clientFlags struct {
	dataDir string
	api     string
	token   string
	json    bool
	timeout time.Duration
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dataDir, "data", "", "data directory of the daemon to talk to (it records its API address there)")
	fs.StringVar(&f.api, "api", "", "API address host:port (default: from --data, else $"+envAPI+", else "+controlapi.DefaultAddr+")")
	fs.StringVar(&f.token, "token", "", "API token (default $"+envAPIToken+", else DATA/"+apiTokenFileName+" with --data)")
	fs.BoolVar(&f.json, "json", false, "print JSON instead of a table")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "give up on the request after this long")
}

// client builds the API client. Its address is resolved for every request,
// so a client following --data finds a restarted daemon on its new port.
func (f *clientFlags) client() *controlapi.Client {
	token := f.token
	if token == "" {
		token = os.Getenv(envAPIToken)
	}
	if token == "" && f.dataDir != "" {
		// The daemon's own token file; an unreadable one shows up as a 401.
		token, _ = readAPIToken(f.dataDir)
	}
	return &controlapi.Client{Resolve: f.resolve, Token: token}
}

// resolve finds the API address: --api, then DATA/api.addr, then
// MURMUR_API, then the default.
func (f *clientFlags) resolve() (string, error) {
	switch {
	case f.api != "":
		return trimScheme(f.api), nil
	case f.dataDir != "":
		path := filepath.Join(f.dataDir, apiAddrFileName)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: no daemon is running with data dir %s (%s is missing); start one with: murmur daemon --data %s",
				controlapi.ErrNoDaemon, f.dataDir, path, f.dataDir)
		}
		if err != nil {
			return "", fmt.Errorf("read API address: %w", err)
		}
		return strings.TrimSpace(string(data)), nil
	case os.Getenv(envAPI) != "":
		return trimScheme(os.Getenv(envAPI)), nil
	}
	return controlapi.DefaultAddr, nil
}

func trimScheme(addr string) string {
	addr = strings.TrimPrefix(addr, "http://")
	return strings.TrimSuffix(addr, "/")
}

// context returns a context bounded by --timeout.
func (f *clientFlags) context() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), f.timeout)
}

// explain turns a client error into an exitError with the right code and a
// message that says what to do.
func (f *clientFlags) explain(err error) error {
	if err == nil {
		return nil
	}
	var ae *controlapi.APIError
	switch {
	case errors.Is(err, controlapi.ErrNoDaemon):
		msg := err.Error()
		if !strings.Contains(msg, "start one with") {
			hint := "murmur daemon --data DIR"
			if f.dataDir != "" {
				hint = "murmur daemon --data " + f.dataDir
			}
			msg += "; is the daemon running? start one with: " + hint + " (or point at a running one with --data DIR, --api ADDR or " + envAPI + ")"
		}
		return &exitError{exitNoDaemon, errors.New(msg)}
	case errors.Is(err, context.DeadlineExceeded):
		return &exitError{exitFailure, fmt.Errorf("no answer within %s (--timeout): %w", f.timeout, err)}
	case errors.As(err, &ae):
		switch {
		case ae.StatusCode == http.StatusNotFound:
			return &exitError{exitNotFound, errors.New(ae.Message)}
		case ae.StatusCode == http.StatusUnauthorized:
			return &exitError{exitUnauthorized, errors.New(ae.Message)}
		case ae.StatusCode == http.StatusBadRequest || ae.StatusCode == http.StatusRequestEntityTooLarge || ae.StatusCode == http.StatusForbidden:
			return &exitError{exitUsage, errors.New(ae.Message)}
		}
		return &exitError{exitFailure, err}
	}
	return &exitError{exitFailure, err}
}

// parseClient sets up a client command: its flag set with the client flags
// and any extra ones, then parses args (flags may follow the arguments).
func parseClient(name string, args []string, stderr io.Writer, minArgs, maxArgs int, usage string, extra func(*flag.FlagSet)) (*clientFlags, []string, error) {
	fs := newFlagSet(name, stderr)
	cf := &clientFlags{}
	cf.register(fs)
	if extra != nil {
		extra(fs)
	}
	pos, err := parseInterspersed(fs, args, minArgs, maxArgs, usage)
	return cf, pos, err
}

// callAPI makes one request with the client flags' client and timeout, then
// prints the result as JSON (--json) or with table.
func callAPI[T any](cf *clientFlags, stdout io.Writer, call func(*controlapi.Client, context.Context) (T, error), table func(T) error) error {
	ctx, cancel := cf.context()
	defer cancel()
	v, err := call(cf.client(), ctx)
	if err != nil {
		return cf.explain(err)
	}
	if cf.json {
		return printJSON(stdout, v)
	}
	return table(v)
}

// parseInterspersed parses flags that may come before, between or after the
// positional arguments, and checks their number is within [min, max]
// (max < 0: no limit).
func parseInterspersed(fs *flag.FlagSet, args []string, minArgs, maxArgs int, usage string) ([]string, error) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s %s\n\nFlags:\n", fs.Name(), usage)
		fs.PrintDefaults()
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...) // after "--" everything is positional
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) < minArgs || (maxArgs >= 0 && len(pos) > maxArgs) {
		fmt.Fprintf(fs.Output(), "%s: wrong number of arguments\n", fs.Name())
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}
