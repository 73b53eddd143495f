package main

import (
	"os"
	"strings"
	"sync"
	"time"

	"github.com/murmur-p2p/murmur/p2pnode"
)

// testClockEnv names a file holding a clock offset (a Go duration such as
// "10m" or "-1h"; a missing or empty file is no offset) that the daemon
// adds to its replication engine's clock, re-read at most every 200 ms. It
// exists for the fault suite's clock jumps (testnet/faults) and nothing
// else: a Go binary reads the clock through the vDSO, out of reach of
// libfaketime.
const testClockEnv = "MURMUR_TEST_CLOCK_OFFSET_FILE"

// testClockOption returns the WithClock option when testClockEnv is set.
func testClockOption(environ []string) []p2pnode.Option {
	var path string
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, testClockEnv+"="); ok {
			path = v
		}
	}
	if path == "" {
		return nil
	}
	var (
		mu     sync.Mutex
		offset time.Duration
		read   time.Time
	)
	return []p2pnode.Option{p2pnode.WithClock(func() time.Time {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if now.Sub(read) >= 200*time.Millisecond {
			read = now
			offset = 0
			if data, err := os.ReadFile(path); err == nil {
				if d, err := time.ParseDuration(strings.TrimSpace(string(data))); err == nil {
					offset = d
				}
			}
		}
		return now.Add(offset)
	})}
}
