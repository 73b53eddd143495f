package order

import (
	"reflect"
	"testing"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// FuzzDecodeEntry: any bytes either fail to decode or decode to refs that
// encode and decode to the same refs; nothing panics or allocates beyond
// the limits.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(EncodeEntry([]Ref{{Origin: "a", Seq: 1}, {Origin: "b", Seq: 2, Deps: []replica.Dot{{Origin: "a", Seq: 1}}}}))
	f.Add([]byte{1, 0})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		refs, err := DecodeEntry(b)
		if err != nil {
			return
		}
		again, err := DecodeEntry(EncodeEntry(refs))
		if err != nil || !reflect.DeepEqual(again, refs) {
			t.Fatalf("re-encoding %v: %v, %v", refs, again, err)
		}
	})
}

// FuzzDecodeState: any bytes either fail to decode or decode to a state
// that obeys the per-origin rule and survives encoding.
func FuzzDecodeState(f *testing.F) {
	s := NewState()
	s.setMember(7, "peer")
	s.apply([]Ref{{Origin: "a", Seq: 1}, {Origin: "b", Seq: 1}, {Origin: "a", Seq: 2}})
	f.Add(s.Encode())
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := DecodeState(b)
		if err != nil {
			return
		}
		again, err := DecodeState(st.Encode())
		if err != nil || again.Len() != st.Len() || !reflect.DeepEqual(again.Range(1, int(st.Len())), st.Range(1, int(st.Len()))) || !reflect.DeepEqual(again.Members(), st.Members()) {
			t.Fatalf("re-encoding changed the state: %v", err)
		}
	})
}

// TestApplyRule checks the apply rule on its own: next-of-origin and
// dependencies, duplicates and early references skipped.
func TestApplyRule(t *testing.T) {
	s := NewState()
	out, premature := s.apply([]Ref{
		{Origin: "b", Seq: 1, Deps: []replica.Dot{{Origin: "a", Seq: 1}}}, // a:1 not ordered yet
		{Origin: "a", Seq: 2}, // a:1 missing
		{Origin: "a", Seq: 1},
		{Origin: "a", Seq: 1}, // duplicate
		{Origin: "b", Seq: 1, Deps: []replica.Dot{{Origin: "a", Seq: 1}}},
		{Origin: "c", Seq: 1, Deps: []replica.Dot{{Origin: "c", Seq: 1}}}, // covers itself
	})
	if !premature || len(out) != 2 || out[0].Origin != "a" || out[1].Origin != "b" || out[1].Index != 2 {
		t.Fatalf("ordered %+v, premature %v", out, premature)
	}
}
