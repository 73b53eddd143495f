// Package controlapi is murmur's control API: an HTTP/JSON server that a
// daemon runs next to its node, and the Go client the murmur CLI uses.
//
// The server exposes the node's data operations (put, get, delete, list by
// prefix, publish), a change stream as server-sent events that a client can
// resume from a cursor without missing a change, even across a daemon
// restart, the peers with their failure-detector state, the node's status,
// a manual sync trigger, Prometheus metrics and health probes. It listens on
// loopback by default; bound to any other address it requires a bearer
// token. docs/api.md is the reference for every endpoint.
//
// Typical use in a daemon:
//
//	srv, err := controlapi.NewServer(node, controlapi.Config{Addr: "127.0.0.1:4180", Metrics: reg})
//	if err != nil { ... }
//	if err := srv.Start(); err != nil { ... }
//	defer srv.Close()
//	fmt.Println("api:", srv.Addr())
//
// and in a client:
//
//	c := controlapi.NewClient("127.0.0.1:4180", "")
//	err := c.Put(ctx, "greeting", []byte("hello"))
package controlapi
