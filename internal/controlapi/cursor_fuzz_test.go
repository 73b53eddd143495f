package controlapi

import (
	"testing"
)

// FuzzDecodeCursor: a client-supplied cursor either decodes to a vector that
// encodes back to an equivalent cursor, or is refused with an error.
func FuzzDecodeCursor(f *testing.F) {
	f.Add("0")
	f.Add("")
	f.Add("12D3KooWGNNU5Lvm13RrTnBdxrHy7yJ4gLzjKLtiu53kEi6GLGTQ:3")
	f.Add("12D3KooWGNNU5Lvm13RrTnBdxrHy7yJ4gLzjKLtiu53kEi6GLGTQ:3,abc:x")
	f.Fuzz(func(t *testing.T, s string) {
		vv, err := DecodeCursor(s)
		if err != nil {
			return
		}
		again, err := DecodeCursor(EncodeCursor(vv))
		if err != nil {
			t.Fatalf("re-encoded cursor %q does not decode: %v", EncodeCursor(vv), err)
		}
		if len(again) != len(vv) {
			t.Fatalf("cursor round trip changed %v into %v", vv, again)
		}
		for o, seq := range vv {
			if again[o] != seq {
				t.Fatalf("cursor round trip changed %v into %v", vv, again)
			}
		}
	})
}
