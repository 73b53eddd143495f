package protocol

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/murmur-p2p/murmur/protocol/pb"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// repeatedEmpty encodes n empty length-delimited fields of number num: n
// empty messages or byte strings, 2 bytes each on the wire.
func repeatedEmpty(num protowire.Number, n int) []byte {
	var b []byte
	for range n {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendBytes(b, nil)
	}
	return b
}

// repeatedEntries encodes n version entries as field num, each with a
// 38-byte origin (the size of an Ed25519 peer ID) and seq 1: elements of a
// realistic size, which the pre-scan's element budget lets through.
func repeatedEntries(num protowire.Number, n int) []byte {
	entry := protowire.AppendTag(nil, 1, protowire.BytesType)
	entry = protowire.AppendBytes(entry, make([]byte, 38))
	entry = protowire.AppendTag(entry, 2, protowire.VarintType)
	entry = protowire.AppendVarint(entry, 1)
	var b []byte
	for range n {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendBytes(b, entry)
	}
	return b
}

// wrap encodes msg as the length-delimited field num.
func wrap(num protowire.Number, msg []byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

// fill returns how many 2-byte elements fit in a frame of size bytes after
// overhead bytes of tags and lengths.
func fill(size, overhead int) int { return (size - overhead) / 2 }

// allocatedBy reports the bytes allocated while f runs.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestUnmarshalAllocationBounded decodes maximum-size frames made of empty
// elements - the cheapest elements on the wire and among the costliest to
// decode - and checks that rejecting them allocates at most a small
// multiple of the frame.
func TestUnmarshalAllocationBounded(t *testing.T) {
	lim := DefaultLimits()
	size := lim.MaxMessageSize
	frames := []struct {
		name string
		data []byte
	}{
		{"push of empty events", wrap(1, repeatedEmpty(3, fill(size, 4)))},
		{"push-ack of empty ids", wrap(2, repeatedEmpty(2, fill(size, 4)))},
		{"pull-sync of empty ids", wrap(3, repeatedEmpty(2, fill(size, 4)))},
		{"pull-request of empty ids", wrap(4, repeatedEmpty(1, fill(size, 4)))},
		{"sync-exchange of empty ranges", wrap(8, repeatedEmpty(3, fill(size, 4)))},
		{"sync-digest of empty vector entries", wrap(7, wrap(3, repeatedEmpty(1, fill(size, 8))))},
		{"ae-states of empty states", wrap(18, repeatedEmpty(2, fill(size, 5)))},
		{"snapshot-chunk of empty states", wrap(20, repeatedEmpty(4, fill(size, 5)))},
	}
	for _, f := range frames {
		t.Run(f.name, func(t *testing.T) {
			if len(f.data) > size {
				t.Fatalf("crafted frame of %d bytes over the limit %d", len(f.data), size)
			}
			var err error
			n := allocatedBy(func() { _, err = Unmarshal(f.data, lim) })
			if !errors.Is(err, ErrMessageTooLarge) {
				t.Fatalf("got %v, want ErrMessageTooLarge", err)
			}
			t.Logf("%d-byte frame: %d bytes allocated (%.2fx): %v", len(f.data), n, float64(n)/float64(len(f.data)), err)
			if n > 4*uint64(len(f.data)) {
				t.Fatalf("%d-byte frame allocated %d bytes, more than 4x", len(f.data), n)
			}
		})
	}
}

// prescanLimits are small so the tests craft frames just over each limit.
var prescanLimits = Limits{MaxMessageSize: 1 << 20, MaxEventsPerMessage: 3, MaxIDsPerMessage: 4, MaxRangesPerMessage: 5, MaxVectorEntries: 6}

// TestPrescanEnforcesEveryLimit checks each count the pre-scan bounds: at
// the limit the frame passes the pre-scan, one over it is rejected with the
// limit's sentinel and an error naming the body, the field and the limit.
func TestPrescanEnforcesEveryLimit(t *testing.T) {
	lim := prescanLimits
	event := func(contexts int) []byte { return repeatedEntries(8, contexts) }
	state := func(versions, contexts int) []byte {
		var b []byte
		for range versions {
			b = append(b, wrap(2, event(1))...)
		}
		return append(b, repeatedEntries(3, contexts)...)
	}
	events := func(num protowire.Number, n int) []byte {
		var b []byte
		for range n {
			b = append(b, wrap(num, event(1))...)
		}
		return b
	}
	states := func(num protowire.Number, n int) []byte {
		var b []byte
		for range n {
			b = append(b, wrap(num, state(1, 1))...)
		}
		return b
	}
	cases := []struct {
		name  string
		frame func(n int) []byte // a frame with n elements of the field
		limit int
		want  error
		msg   string // the error names these
	}{
		{"push events", func(n int) []byte { return wrap(1, events(3, n)) }, lim.MaxEventsPerMessage, ErrMessageTooLarge, "push: message too large: events: more than the limit of 3"},
		{"push event context", func(n int) []byte { return wrap(1, wrap(3, event(n))) }, replica.MaxContextEntries, ErrInvalidMessage, "push: events[0]: invalid message: context entries: more than the limit of 16384"},
		{"push-ack ids", func(n int) []byte { return wrap(2, repeatedEmpty(2, n)) }, lim.MaxIDsPerMessage, ErrMessageTooLarge, "push-ack: message too large: ids: more than the limit of 4"},
		{"pull-sync ids", func(n int) []byte { return wrap(3, repeatedEmpty(2, n)) }, lim.MaxIDsPerMessage, ErrMessageTooLarge, "pull-sync: message too large: ids: more than the limit of 4"},
		{"pull-request ids", func(n int) []byte { return wrap(4, repeatedEmpty(1, n)) }, lim.MaxIDsPerMessage, ErrMessageTooLarge, "pull-request: message too large: ids: more than the limit of 4"},
		{"pull-response events", func(n int) []byte { return wrap(5, events(1, n)) }, lim.MaxEventsPerMessage, ErrMessageTooLarge, "pull-response: message too large: events: more than the limit of 3"},
		{"sync-digest vector", func(n int) []byte { return wrap(7, vector(3, n)) }, lim.MaxVectorEntries, ErrMessageTooLarge, "sync-digest: message too large: version vector: entries: more than the limit of 6"},
		{"sync-exchange events", func(n int) []byte { return wrap(8, events(2, n)) }, lim.MaxEventsPerMessage, ErrMessageTooLarge, "sync-exchange: message too large: events: more than the limit of 3"},
		{"sync-exchange ranges", func(n int) []byte { return wrap(8, repeatedEmpty(3, n)) }, lim.MaxRangesPerMessage, ErrMessageTooLarge, "sync-exchange: message too large: ranges: more than the limit of 5"},
		{"sync-exchange compacted", func(n int) []byte { return wrap(8, vector(5, n)) }, lim.MaxVectorEntries, ErrMessageTooLarge, "sync-exchange: message too large: compacted: entries: more than the limit of 6"},
		{"sync-events events", func(n int) []byte { return wrap(9, events(2, n)) }, lim.MaxEventsPerMessage, ErrMessageTooLarge, "sync-events: message too large: events: more than the limit of 3"},
		{"sync-events compacted", func(n int) []byte { return wrap(9, vector(4, n)) }, lim.MaxVectorEntries, ErrMessageTooLarge, "sync-events: message too large: compacted: entries: more than the limit of 6"},
		{"ae-response vector", func(n int) []byte { return wrap(17, vector(4, n)) }, lim.MaxVectorEntries, ErrMessageTooLarge, "ae-response: message too large: version vector: entries: more than the limit of 6"},
		{"ae-states states", func(n int) []byte { return wrap(18, states(2, n)) }, lim.MaxIDsPerMessage, ErrMessageTooLarge, "ae-states: message too large: states: more than the limit of 4"},
		{"ae-states ranges", func(n int) []byte { return wrap(18, repeatedEmpty(3, n)) }, lim.MaxRangesPerMessage, ErrMessageTooLarge, "ae-states: message too large: ranges: more than the limit of 5"},
		{"ae-states vector", func(n int) []byte { return wrap(18, vector(4, n)) }, lim.MaxVectorEntries, ErrMessageTooLarge, "ae-states: message too large: version vector: entries: more than the limit of 6"},
		{"ae-states state versions", func(n int) []byte { return wrap(18, wrap(2, state(n, 0))) }, replica.MaxStateVersions, ErrMessageTooLarge, "ae-states: states[0]: message too large: versions: more than the limit of 64"},
		{"ae-states state context", func(n int) []byte { return wrap(18, wrap(2, state(0, n))) }, replica.MaxContextEntries, ErrMessageTooLarge, "ae-states: states[0]: message too large: context entries: more than the limit of 16384"},
		{"ae-states state version context", func(n int) []byte { return wrap(18, wrap(2, wrap(2, event(n)))) }, replica.MaxContextEntries, ErrInvalidMessage, "ae-states: states[0]: versions[0]: invalid message: context entries: more than the limit of 16384"},
		{"snapshot-chunk states", func(n int) []byte { return wrap(20, states(4, n)) }, lim.MaxIDsPerMessage, ErrMessageTooLarge, "snapshot-chunk: message too large: states: more than the limit of 4"},
		{"snapshot-chunk vector", func(n int) []byte { return wrap(20, vector(6, n)) }, lim.MaxVectorEntries, ErrMessageTooLarge, "snapshot-chunk: message too large: version vector: entries: more than the limit of 6"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := prescan(c.frame(c.limit), lim); err != nil {
				t.Fatalf("%d elements, at the limit: %v", c.limit, err)
			}
			err := prescan(c.frame(c.limit+1), lim)
			if !errors.Is(err, c.want) {
				t.Fatalf("%d elements, over the limit: got %v, want %v", c.limit+1, err, c.want)
			}
			if err.Error() != c.msg {
				t.Fatalf("error %q, want %q", err, c.msg)
			}
			// Unmarshal reports the pre-scan's error.
			if _, err2 := Unmarshal(c.frame(c.limit+1), lim); err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("Unmarshal: got %v, want %v", err2, err)
			}
		})
	}
}

// TestPrescanBoundsNestedElements: a frame whose counts are each within
// their limit, but which packs more elements in all than its size can
// validly hold (empty context entries nested in events), is refused before
// proto.Unmarshal allocates for them.
func TestPrescanBoundsNestedElements(t *testing.T) {
	lim := DefaultLimits()
	var events []byte
	for range 39 {
		events = append(events, wrap(3, repeatedEmpty(8, replica.MaxContextEntries))...)
	}
	frame := wrap(1, events)
	var err error
	n := allocatedBy(func() { _, err = Unmarshal(frame, lim) })
	if !errors.Is(err, ErrMessageTooLarge) || !strings.Contains(err.Error(), "more elements in all than a frame of this size can validly hold") {
		t.Fatalf("got %v", err)
	}
	if n > 4*uint64(len(frame)) {
		t.Fatalf("%d-byte frame allocated %d bytes, more than 4x", len(frame), n)
	}
}

// TestPrescanFollowsMergeRules checks that the pre-scan counts like
// proto.Unmarshal decodes: repeated occurrences of a body field (and of a
// singular message field in it) merge, another body field replaces the
// body.
func TestPrescanFollowsMergeRules(t *testing.T) {
	lim := prescanLimits
	two := wrap(2, repeatedEmpty(2, 3)) // a push-ack of 3 ids
	if err := prescan(append(append([]byte{}, two...), two...), lim); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("push-ack split in two of 3 ids each: got %v, want ErrMessageTooLarge", err)
	}
	// proto.Unmarshal merges them too: 6 ids, over the limit of 4.
	if _, err := FromProtoBytes(t, append(append([]byte{}, two...), two...), lim); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("FromProto of the merged push-ack: got %v, want ErrMessageTooLarge", err)
	}
	replaced := append(append(append([]byte{}, two...), wrap(4, repeatedEmpty(1, 1))...), two...)
	if err := prescan(replaced, lim); err != nil {
		t.Errorf("push-ack, pull-request, push-ack of 3 ids: %v (the pull-request replaces the first push-ack)", err)
	}
	vec := wrap(7, append(vector(3, 4), vector(3, 4)...)) // a sync-digest's vector in two parts
	if err := prescan(vec, lim); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("sync-digest vector of 4+4 entries: got %v, want ErrMessageTooLarge", err)
	}
}

// vector encodes a VersionVector of n empty entries as field num.
func vector(num protowire.Number, n int) []byte { return wrap(num, repeatedEmpty(1, n)) }

// FromProtoBytes unmarshals data without the pre-scan and converts it.
func FromProtoBytes(t *testing.T, data []byte, lim Limits) (replica.Body, error) {
	t.Helper()
	env := &pb.Envelope{}
	if err := proto.Unmarshal(data, env); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return FromProto(env, lim)
}

// TestPrescanRejectsMalformedWireData checks that bytes that do not parse
// as protobuf fail in the pre-scan with ErrMalformedFrame, at the envelope
// and inside a body.
func TestPrescanRejectsMalformedWireData(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		msg  string
	}{
		{"truncated varint tag", []byte{0x80}, "envelope: field at byte 0"},
		{"length past the end", []byte{0x0a, 0x05, 0x00}, "envelope: field at byte 0"},
		{"field number 0", []byte{0x02, 0x00}, "envelope: field at byte 0"},
		{"truncated event in a push", wrap(1, []byte{0x1a, 0x03, 0x42}), "push: malformed frame: field at byte 0"},
		{"bad field inside an event", wrap(1, wrap(3, []byte{0x42, 0x7f})), "push: events[0]: malformed frame: field at byte 0"},
		{"bad field inside a vector", wrap(7, wrap(3, []byte{0x0a, 0x09})), "sync-digest: malformed frame: version vector: field at byte 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := prescan(c.data, prescanLimits)
			if !errors.Is(err, ErrMalformedFrame) {
				t.Fatalf("got %v, want ErrMalformedFrame", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q does not name %q", err, c.msg)
			}
		})
	}
}
