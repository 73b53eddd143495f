package controlapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// WatchOptions select what Client.Watch streams.
type WatchOptions struct {
	// Prefix keeps only changes whose key (or publish topic) starts with it.
	Prefix string
	// Cursor resumes after the changes it covers: a Change.Cursor, a
	// Status.Cursor, or CursorStart for everything the node holds. Empty
	// starts from now.
	Cursor string
	// Reconnect makes Watch reconnect (resuming from the last cursor) when
	// the stream ends or the daemon is unreachable, until ctx ends.
	Reconnect bool
	// OnState, if not nil, is told when the stream connects (err nil) and
	// when it is lost (err says why).
	OnState func(connected bool, err error)
}

// maxBackoff bounds the wait between reconnection attempts.
const maxBackoff = 2 * time.Second

// Watch streams changes to fn until ctx ends, fn returns an error (which
// Watch returns), or, without Reconnect, the stream ends. It returns the
// last cursor it saw, from which another Watch resumes without missing a
// change.
func (c *Client) Watch(ctx context.Context, opts WatchOptions, fn func(Change) error) (string, error) {
	cursor := opts.Cursor
	backoff := 100 * time.Millisecond
	for {
		connected := false
		err := c.watchOnce(ctx, opts.Prefix, &cursor, func() {
			connected = true
			backoff = 100 * time.Millisecond
			if opts.OnState != nil {
				opts.OnState(true, nil)
			}
		}, fn)
		var cbErr *callbackError
		switch {
		case errors.As(err, &cbErr):
			return cursor, cbErr.err
		case ctx.Err() != nil:
			return cursor, ctx.Err()
		case !opts.Reconnect:
			return cursor, err
		case err != nil && !connected && !errors.Is(err, ErrNoDaemon) && !isTransient(err):
			return cursor, err // a request the server refuses stays refused
		}
		if opts.OnState != nil {
			if err == nil {
				err = errors.New("stream ended")
			}
			opts.OnState(false, err)
		}
		select {
		case <-ctx.Done():
			return cursor, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// isTransient reports whether a failed request may succeed on retry: a
// server that is stopping or starting (503), or a broken connection.
func isTransient(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode == http.StatusServiceUnavailable
	}
	return true
}

// callbackError marks an error returned by the caller's fn.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// watchOnce runs one SSE connection, updating *cursor as events arrive.
func (c *Client) watchOnce(ctx context.Context, prefix string, cursor *string, onConnect func(), fn func(Change) error) error {
	q := url.Values{}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	if *cursor != "" {
		q.Set("cursor", *cursor)
	}
	resp, err := c.send(ctx, http.MethodGet, "/v1/watch", q, nil, http.Header{"Accept": {"text/event-stream"}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	onConnect()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4*maxBodySize)
	var event, id string
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if err := dispatch(event, id, data.String(), cursor, fn); err != nil {
				return err
			}
			event, id = "", ""
			data.Reset()
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			event = value
		case "id":
			id = value
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
	return sc.Err()
}

// dispatch handles one complete SSE event.
func dispatch(event, id, data string, cursor *string, fn func(Change) error) error {
	switch event {
	case "ready":
		if id != "" {
			*cursor = id
		}
	case "change":
		var ch Change
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			return fmt.Errorf("watch: bad change event: %w", err)
		}
		if err := fn(ch); err != nil {
			return &callbackError{err}
		}
		*cursor = ch.Cursor
	}
	return nil
}
