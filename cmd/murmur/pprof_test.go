package main

import (
	"net/http"
	"testing"
)

// TestDaemonPprofOptIn: the profiling endpoints exist only with
// MURMUR_PPROF=1, and then only for a request with the API token.
func TestDaemonPprofOptIn(t *testing.T) {
	get := func(api, token string) int {
		req, err := http.NewRequest(http.MethodGet, "http://"+api+"/debug/pprof/cmdline", nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	off := t.TempDir()
	d := startDaemon(t, "--data", off, "--listen=/ip4/127.0.0.1/tcp/0", "--network", "pproftest")
	token, err := readAPIToken(off)
	if err != nil {
		t.Fatal(err)
	}
	if code := get(d.api, token); code != http.StatusNotFound {
		t.Fatalf("without %s: status %d, want 404", envPprof, code)
	}

	t.Setenv(envPprof, "1")
	on := t.TempDir()
	d = startDaemon(t, "--data", on, "--listen=/ip4/127.0.0.1/tcp/0", "--network", "pproftest")
	if token, err = readAPIToken(on); err != nil {
		t.Fatal(err)
	}
	if code := get(d.api, ""); code != http.StatusUnauthorized {
		t.Fatalf("with %s, no token: status %d, want 401", envPprof, code)
	}
	if code := get(d.api, token); code != http.StatusOK {
		t.Fatalf("with %s and the token: status %d, want 200", envPprof, code)
	}
}
