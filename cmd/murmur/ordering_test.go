package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/internal/controlapi"
)

// orderedIDs reads a daemon's whole order (event IDs, in order) through
// GET /v1/order, and its role; the API token is the one in dataDir.
func orderedIDs(t *testing.T, api, dataDir string) ([]string, string) {
	t.Helper()
	token, err := readAPIToken(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	c := controlapi.NewClient(api, token)
	var ids []string
	role := ""
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := c.Order(ctx, uint64(len(ids))+1, 1000, 0)
		cancel()
		if err != nil {
			return ids, "unreachable: " + err.Error()
		}
		role = res.Group.Role
		for _, e := range res.Events {
			ids = append(ids, e.Event)
		}
		if len(res.Events) == 0 {
			return ids, role
		}
	}
}

// TestOrderingDaemonsLeaderKill9 runs three daemon processes as the voter
// group, orders writes, kills the leader with SIGKILL, orders more writes
// on the two survivors, restarts the killed daemon from its data directory
// and checks that all three hold the same order, including everything
// ordered before the kill.
func TestOrderingDaemonsLeaderKill9(t *testing.T) {
	dirs := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b"), filepath.Join(t.TempDir(), "c")}
	var ids []string
	for _, d := range dirs {
		if code, out, errOut := runCLI(t, nil, "init", "--data", d); code != 0 {
			t.Fatalf("init: %s %s", out, errOut)
		}
		code, out, _ := runCLI(t, nil, "id", "--data", d)
		if code != 0 {
			t.Fatal("id failed")
		}
		ids = append(ids, strings.TrimSpace(out))
	}
	t.Setenv("MURMUR_ORDERING", "raft")
	t.Setenv("MURMUR_ORDER_VOTERS", strings.Join(ids, ","))
	loop := "--listen=/ip4/127.0.0.1/tcp/0"
	ds := make([]*daemon, 3)
	ds[0] = startDaemon(t, "--data", dirs[0], loop, "--network", "ordertest")
	for i := 1; i < 3; i++ {
		ds[i] = startDaemon(t, "--data", dirs[i], loop, "--network", "ordertest", "--bootstrap", ds[0].addrs[0])
	}
	put := func(i, k int) {
		t.Helper()
		if code, _, errOut := runCLI(t, nil, "put", "--api", ds[i].api, "--data", dirs[i], fmt.Sprintf("key%d", k%7), fmt.Sprintf("v%d", k)); code != 0 {
			t.Fatalf("put on daemon %d: %s", i, errOut)
		}
	}
	waitAll := func(among []int, want int) []string {
		t.Helper()
		var ref []string
		deadline := time.Now().Add(90 * time.Second)
		for {
			ok, desc := true, ""
			for _, i := range among {
				got, role := orderedIDs(t, ds[i].api, dirs[i])
				desc += fmt.Sprintf(" daemon %d: %d (%s);", i, len(got), role)
				if len(got) < want {
					ok = false
					continue
				}
				if ref == nil {
					ref = got
				}
				for k := range want {
					if got[k] != ref[k] {
						t.Fatalf("daemon %d orders %s at %d, another daemon %s", i, got[k], k+1, ref[k])
					}
				}
			}
			if ok {
				return ref
			}
			ref = nil
			if time.Now().After(deadline) {
				t.Fatalf("want %d ordered:%s", want, desc)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for k := range 12 {
		put(k%3, k)
	}
	before := waitAll([]int{0, 1, 2}, 12)

	leader := -1
	for i := range 3 {
		if _, role := orderedIDs(t, ds[i].api, dirs[i]); role == "StateLeader" {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no leader")
	}
	if err := ds[leader].cmd.Process.Kill(); err != nil { // SIGKILL: no shutdown
		t.Fatal(err)
	}
	<-ds[leader].done
	var rest []int
	for i := range 3 {
		if i != leader {
			rest = append(rest, i)
		}
	}
	for k := 12; k < 20; k++ {
		put(rest[k%2], k)
	}
	waitAll(rest, 20)

	ds[leader] = startDaemon(t, "--data", dirs[leader], loop, "--network", "ordertest", "--bootstrap", ds[rest[0]].addrs[0])
	after := waitAll([]int{0, 1, 2}, 20)
	for k := range before {
		if after[k] != before[k] {
			t.Fatalf("index %d changed across the kill: %s -> %s", k+1, before[k], after[k])
		}
	}
	// watch --ordered delivers the same order, resumable from an index.
	code, out, errOut := runCLI(t, nil, "watch", "--ordered", "--from", "15", "--count", "6", "--json", "--api", ds[leader].api, "--data", dirs[leader])
	if code != 0 || !strings.Contains(errOut, "resume with: murmur watch --ordered --from 21") {
		t.Fatalf("watch --ordered: exit %d, stderr %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("watch --ordered printed %d lines:\n%s", len(lines), out)
	}
	for k, line := range lines {
		if want := fmt.Sprintf(`"index":%d,"event":"%s"`, 15+k, after[14+k]); !strings.Contains(line, want) {
			t.Fatalf("line %d: %s, want %s", k, line, want)
		}
	}
}
