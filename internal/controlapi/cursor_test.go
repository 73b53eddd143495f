package controlapi

import (
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/murmur-p2p/murmur/sync/replica"
)

func TestCursorRoundTrip(t *testing.T) {
	a, _ := peer.Decode("12D3KooWGNNU5Lvm13RrTnBdxrHy7yJ4gLzjKLtiu53kEi6GLGTQ")
	b, _ := peer.Decode("12D3KooWHZNd2kVucnrMM3wB3NqVdkNLWXJtxX7CwV7nkGxYh8uj")
	for _, vv := range []replica.VersionVector{
		{},
		{replica.PeerID(a): 1},
		{replica.PeerID(a): 7, replica.PeerID(b): 1 << 40},
	} {
		c := EncodeCursor(vv)
		got, err := DecodeCursor(c)
		if err != nil || !got.Equal(vv) {
			t.Fatalf("round trip of %v via %q: %v, %v", vv, c, got, err)
		}
	}
	if c := EncodeCursor(replica.VersionVector{replica.PeerID(a): 0}); c != CursorStart {
		t.Fatalf("zero entries encode as %q, want %q", c, CursorStart)
	}
	for _, bad := range []struct{ in, want string }{
		{"", "cursor: empty"},
		{"nocolon", "want PEERID:SEQ"},
		{"xyz:1", "invalid peer ID"},
		{a.String() + ":-1", "invalid sequence number"},
		{a.String() + ":1," + a.String() + ":2", "appears twice"},
	} {
		if _, err := DecodeCursor(bad.in); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("DecodeCursor(%q) = %v, want an error containing %q", bad.in, err, bad.want)
		}
	}
}
