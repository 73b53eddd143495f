package p2pnode

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/murmur-p2p/murmur/sync/pebblestore"
)

// Received messages are paused after a refused batch, longer while
// refusals go on, and not at all after other errors or success.
func TestStorePauseBacksOffWhileTheStoreRefuses(t *testing.T) {
	var p storePause
	now := time.Unix(1000, 0)
	full := fmt.Errorf("node: persist batch: %w", pebblestore.ErrDiskFull)
	p.result(full, now)
	if !p.skip(now.Add(200*time.Millisecond)) || p.skip(now.Add(300*time.Millisecond)) {
		t.Fatal("the first refusal should pause for 250 ms")
	}
	for range 10 {
		p.result(full, now)
	}
	if !p.skip(now.Add(3900*time.Millisecond)) || p.skip(now.Add(4100*time.Millisecond)) {
		t.Fatal("repeated refusals should pause for at most 4 s")
	}
	p.result(errors.New("bad signature"), now)
	p.result(full, now)
	if p.skip(now.Add(300 * time.Millisecond)) {
		t.Fatal("after another outcome the pause should start again from 250 ms")
	}
}
