package main

import (
	"net/http"
	"net/http/pprof"

	"github.com/murmur-p2p/murmur/internal/controlapi"
)

// envPprof turns on Go's profiling endpoints on the control API when set to
// 1: GET /debug/pprof/ (heap, goroutine, ... profiles), /debug/pprof/profile
// (CPU, ?seconds=N) and /debug/pprof/trace. They sit behind the API's own
// checks (loopback or token), and are off by default because a profile
// costs CPU and shows the process's internals. testnet/loadbench -pprof
// uses them to record where a write's CPU goes (docs/benchmarks.md).
const envPprof = "MURMUR_PPROF"

// mountPprof adds the profiling endpoints to srv when $MURMUR_PPROF is 1.
func mountPprof(srv *controlapi.Server, environ func(string) string) {
	if environ(envPprof) != "1" {
		return
	}
	srv.Handle("GET /debug/pprof/", http.HandlerFunc(pprof.Index))
	srv.Handle("GET /debug/pprof/cmdline", http.HandlerFunc(pprof.Cmdline))
	srv.Handle("GET /debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	srv.Handle("GET /debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
	srv.Handle("GET /debug/pprof/trace", http.HandlerFunc(pprof.Trace))
}
