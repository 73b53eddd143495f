package controlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
)

// ErrNoDaemon is returned (wrapped, with the address) when nothing answers
// at the API address: no daemon is running there.
var ErrNoDaemon = errors.New("no murmur daemon answering")

// APIError is an error response from the server.
type APIError struct {
	// StatusCode is the HTTP status; Message the server's explanation.
	StatusCode int
	Message    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.StatusCode)
}

// IsStatus reports whether err is an APIError with the given status.
func IsStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode == status
}

// Client talks to a daemon's control API.
type Client struct {
	// Resolve returns the API address (host:port) to use; it is called for
	// every request, so a client that follows a data dir finds a restarted
	// daemon on its new port.
	Resolve func() (string, error)
	// Token, if set, is sent as a bearer token.
	Token string
	// HTTP is the HTTP client (http.DefaultClient when nil). It must not
	// have a timeout if Watch is used; requests take a context instead.
	HTTP *http.Client
}

// NewClient returns a client for the API at addr (host:port).
func NewClient(addr, token string) *Client {
	return &Client{Resolve: func() (string, error) { return addr, nil }, Token: token}
}

// do sends a request and decodes a JSON response into out (unless nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	resp, err := c.send(ctx, method, path, query, in, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}

// send performs a request; a non-2xx response becomes an *APIError.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, in any, header http.Header) (*http.Response, error) {
	addr, err := c.Resolve()
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "http", Host: addr, Path: path, RawQuery: query.Encode()}
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if in != nil || isWrite(method) {
		// The API refuses writes that do not say JSON (auth.go).
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if isUnreachable(err) {
			return nil, fmt.Errorf("%w at %s", ErrNoDaemon, addr)
		}
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var eb ErrorBody
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
			msg = eb.Error
		}
		return nil, &APIError{StatusCode: resp.StatusCode, Message: msg}
	}
	return resp, nil
}

// isUnreachable reports whether err means nothing listens at the address.
func isUnreachable(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr)
}

// keyPath is the URL path of a key (escaped segment by segment, so keys may
// hold slashes).
func keyPath(key string) string { return "/v1/kv/" + key }

// Get returns a key's entry; a missing key is an *APIError with status 404.
func (c *Client) Get(ctx context.Context, key string) (Entry, error) {
	var e Entry
	err := c.do(ctx, http.MethodGet, keyPath(key), nil, nil, &e)
	return e, err
}

// Put writes value under key.
func (c *Client) Put(ctx context.Context, key string, value []byte) (WriteResult, error) {
	v, enc := encode(value)
	var res WriteResult
	err := c.do(ctx, http.MethodPut, keyPath(key), nil, PutRequest{Value: v, Encoding: enc}, &res)
	return res, err
}

// Delete removes key; a missing key is an *APIError with status 404.
func (c *Client) Delete(ctx context.Context, key string) (WriteResult, error) {
	var res WriteResult
	err := c.do(ctx, http.MethodDelete, keyPath(key), nil, nil, &res)
	return res, err
}

// List returns up to limit live keys starting with prefix (limit 0: the
// server's default, 1000).
func (c *Client) List(ctx context.Context, prefix string, limit int) (ListResult, error) {
	q := url.Values{"prefix": {prefix}}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	var res ListResult
	err := c.do(ctx, http.MethodGet, "/v1/kv", q, nil, &res)
	return res, err
}

// Publish replicates an application event.
func (c *Client) Publish(ctx context.Context, topic string, payload []byte) (WriteResult, error) {
	p, enc := encode(payload)
	var res WriteResult
	err := c.do(ctx, http.MethodPost, "/v1/publish", nil, PublishRequest{Topic: topic, Payload: p, Encoding: enc}, &res)
	return res, err
}

// Peers returns the node's peers.
func (c *Client) Peers(ctx context.Context) ([]Peer, error) {
	var res PeersResult
	err := c.do(ctx, http.MethodGet, "/v1/peers", nil, nil, &res)
	return res.Peers, err
}

// Status returns the node's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var res Status
	err := c.do(ctx, http.MethodGet, "/v1/status", nil, nil, &res)
	return res, err
}

// Sync runs a digest sync with peer and returns its result (Pending if it
// had not finished within the server's wait).
func (c *Client) Sync(ctx context.Context, peerID string) (SyncResult, error) {
	var res SyncResult
	err := c.do(ctx, http.MethodPost, "/v1/sync", nil, SyncRequest{Peer: peerID}, &res)
	return res, err
}
