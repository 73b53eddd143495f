package p2pnode

import (
	"testing"
	"time"
)

// A write made right after Start, before the first tick period ends,
// carries the wall clock, not time zero.
func TestFirstWriteHasWallClockTime(t *testing.T) {
	cfg := testConfig(t, "clocktest")
	cfg.TickInterval = time.Second // the write comes well before the first periodic tick
	n := startNode(t, cfg)
	before := time.Now()
	ev, err := n.Put("k", []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Unix(0, ev.Time.Wall); got.Before(before.Add(-time.Minute)) || got.After(time.Now().Add(time.Minute)) {
		t.Fatalf("first write stamped %s (wall %d); want about %s", got.UTC(), ev.Time.Wall, before.UTC())
	}
}

func TestPingPeerRecordsRTT(t *testing.T) {
	a := startNode(t, testConfig(t, "rtttest"))
	b := startNode(t, testConfig(t, "rtttest", a.Addrs()[0].String()))
	rtt, err := a.PingPeer(t.Context(), b.ID())
	if err != nil {
		t.Fatal(err)
	}
	if rtt <= 0 || a.PeerRTT(b.ID()) <= 0 {
		t.Fatalf("ping: %s, recorded %s; want both positive", rtt, a.PeerRTT(b.ID()))
	}
}
