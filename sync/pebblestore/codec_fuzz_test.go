package pebblestore

import (
	"testing"

	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/storetest"
)

// FuzzDecodeRecords feeds arbitrary bytes to the decoders of on-disk
// records. Corrupt records must produce errors, never panics or huge
// allocations; records that decode must encode back to the same state.
func FuzzDecodeRecords(f *testing.F) {
	w := storetest.NewWriter("origin-a")
	b := w.Put("key", []byte("value"))
	f.Add("key", encodeKeyState(b.Keys[0]))
	f.Add("key", encodeEvent(b.Events[0]))
	f.Add("", []byte{})
	f.Add("k", []byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, key string, p []byte) {
		if ks, err := decodeKeyState(key, p); err == nil {
			again, err := decodeKeyState(key, encodeKeyState(ks))
			if err != nil || !again.Equal(ks) {
				t.Fatalf("key state does not survive a round trip: %v", err)
			}
		}
		var id replica.EventID
		copy(id[:], p)
		_, _ = decodeEvent(id, p)
		_, _, _ = decodeHashRecord(p, p)
	})
}
