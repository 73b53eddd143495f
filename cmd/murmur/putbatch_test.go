package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIPutBatch: put-batch writes every KEY<TAB>VALUE line of a file,
// --size per request, and refuses a file with a bad line by its number.
func TestCLIPutBatch(t *testing.T) {
	dir := t.TempDir()
	startDaemon(t, "--data", dir, "--listen=/ip4/127.0.0.1/tcp/0", "--network", "batchtest")
	var lines []string
	for i := 0; i < 1200; i++ {
		lines = append(lines, fmt.Sprintf("bulk/%04d\tvalue %d", i, i))
	}
	file := filepath.Join(t.TempDir(), "puts.tsv")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, nil, "put-batch", "--data", dir, "--size", "500", file)
	if code != 0 || out != "put 1200 keys\n" {
		t.Fatalf("put-batch: exit %d, %q %q", code, out, errOut)
	}
	for _, i := range []int{0, 499, 500, 1199} {
		code, out, errOut := runCLI(t, nil, "get", "--data", dir, fmt.Sprintf("bulk/%04d", i))
		if code != 0 || out != fmt.Sprintf("value %d\n", i) {
			t.Fatalf("get bulk/%04d: exit %d, %q %q", i, code, out, errOut)
		}
	}

	bad := filepath.Join(t.TempDir(), "bad.tsv")
	if err := os.WriteFile(bad, []byte("ok/1\tv\nno tab here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, nil, "put-batch", "--data", dir, bad); code != exitUsage || !strings.Contains(errOut, "line 2: no tab") {
		t.Fatalf("bad line: exit %d, %q", code, errOut)
	}
	if code, _, _ := runCLI(t, nil, "get", "--data", dir, "ok/1"); code != exitNotFound {
		t.Fatalf("a put before the bad line was sent: get exit %d", code)
	}
}
