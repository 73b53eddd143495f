package security

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// fakeClock is a settable time source.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestBanlistBansAfterThresholdWithinWindow(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := NewBanlist(BanConfig{Threshold: 3, Window: time.Minute, Duration: 10 * time.Minute}, clk.now, nil)
	bad, good := peer.ID("bad"), peer.ID("good")

	// Faults spread wider than the window never add up to a ban.
	for i := 0; i < 5; i++ {
		if b.Fault(good) {
			t.Fatalf("peer banned after %d faults spaced over %d minutes", i+1, i)
		}
		clk.advance(40 * time.Second)
	}
	for i := 1; i <= 2; i++ {
		if b.Fault(bad) {
			t.Fatalf("banned after %d faults, before the threshold of 3", i)
		}
	}
	if !b.Fault(bad) {
		t.Fatal("not banned at the threshold")
	}
	if !b.Banned(bad) || b.Banned(good) {
		t.Fatal("wrong ban state")
	}
	if b.InterceptPeerDial(bad) || b.InterceptSecured(0, bad, nil) || !b.InterceptSecured(0, good, nil) {
		t.Fatal("gater does not follow the ban")
	}
	if _, ok := b.BannedPeers()[bad]; !ok {
		t.Fatal("BannedPeers misses the banned peer")
	}
	clk.advance(10 * time.Minute)
	if b.Banned(bad) || !b.InterceptPeerDial(bad) {
		t.Fatal("ban did not expire")
	}
}

func TestBanlistAllowList(t *testing.T) {
	b := NewBanlist(DefaultBanConfig(), nil, []peer.ID{"friend"})
	if !b.InterceptSecured(0, "friend", nil) || b.InterceptSecured(0, "stranger", nil) {
		t.Fatal("allow-list not enforced")
	}
	off := NewBanlist(BanConfig{}, nil, nil)
	for i := 0; i < 100; i++ {
		if off.Fault("p") {
			t.Fatal("banning with threshold 0")
		}
	}
}

func TestBanlistMemoryIsBounded(t *testing.T) {
	b := NewBanlist(BanConfig{Threshold: 2, Window: time.Minute, Duration: time.Hour}, nil, nil)
	for i := 0; i < 3*banlistSize; i++ {
		p := peer.ID(fmt.Sprintf("sybil-%d", i))
		b.Fault(p)
		b.Fault(p) // banned
	}
	b.Fault("one-fault")
	if n := b.faults.Len(); n > banlistSize {
		t.Fatalf("%d fault histories kept, limit %d", n, banlistSize)
	}
	if n := len(b.BannedPeers()); n != banlistSize {
		t.Fatalf("%d bans kept, want the %d most recent", n, banlistSize)
	}
	if !b.Banned(peer.ID(fmt.Sprintf("sybil-%d", 3*banlistSize-1))) {
		t.Fatal("the most recent ban was forgotten")
	}
}
