package protocol

import (
	"errors"
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"github.com/libp2p/go-libp2p/core/crypto"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/murmur-p2p/murmur/protocol/pb"
	"github.com/murmur-p2p/murmur/security"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// genPeerID draws an origin of valid length.
func genPeerID(t *rapid.T, label string) replica.PeerID {
	return replica.PeerID(rapid.SliceOfN(rapid.Byte(), 1, replica.MaxPeerIDSize).Draw(t, label))
}

// genVV draws a version vector with non-zero entries (nil when empty, the
// form decoding produces).
func genVV(t *rapid.T, label string, maxEntries int) replica.VersionVector {
	n := rapid.IntRange(0, maxEntries).Draw(t, label+"-n")
	if n == 0 {
		return nil
	}
	vv := replica.VersionVector{}
	for i := 0; i < n; i++ {
		vv[genPeerID(t, label+"-origin")] = rapid.Uint64Min(1).Draw(t, label+"-seq")
	}
	return vv
}

// genBytes draws a byte string that is nil when empty (protobuf does not
// tell empty from absent).
func genBytes(t *rapid.T, label string, min, max int) []byte {
	b := rapid.SliceOfN(rapid.Byte(), min, max).Draw(t, label)
	if len(b) == 0 {
		return nil
	}
	return b
}

func genEvent(t *rapid.T) *replica.Event {
	return &replica.Event{
		Origin:    genPeerID(t, "origin"),
		Seq:       rapid.Uint64Min(1).Draw(t, "seq"),
		Time:      replica.Timestamp{Wall: rapid.Int64().Draw(t, "wall"), Logical: rapid.Uint32().Draw(t, "logical")},
		Op:        replica.Op(rapid.IntRange(1, 3).Draw(t, "op")),
		Key:       string(rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "key")),
		Value:     genBytes(t, "value", 0, 256),
		Context:   genVV(t, "context", 4),
		Signature: genBytes(t, "signature", 1, MaxSignatureSize),
	}
}

func genEvents(t *rapid.T) []*replica.Event {
	n := rapid.IntRange(0, 5).Draw(t, "events")
	if n == 0 {
		return nil
	}
	evs := make([]*replica.Event, n)
	for i := range evs {
		evs[i] = genEvent(t)
	}
	return evs
}

func genIDs(t *rapid.T) []replica.EventID {
	n := rapid.IntRange(0, 8).Draw(t, "ids")
	if n == 0 {
		return nil
	}
	ids := make([]replica.EventID, n)
	for i := range ids {
		copy(ids[i][:], rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, "id"))
	}
	return ids
}

func genRanges(t *rapid.T) []replica.SeqRange {
	n := rapid.IntRange(0, 5).Draw(t, "ranges")
	if n == 0 {
		return nil
	}
	rs := make([]replica.SeqRange, n)
	for i := range rs {
		from := rapid.Uint64Range(1, 1<<40).Draw(t, "from")
		rs[i] = replica.SeqRange{Origin: genPeerID(t, "range-origin"), From: from, To: from + rapid.Uint64Range(0, 1<<20).Draw(t, "len")}
	}
	return rs
}

// genBody draws a random message body of every type the wire carries.
func genBody(t *rapid.T) replica.Body {
	switch replica.MessageType(rapid.IntRange(1, 9).Draw(t, "type")) {
	case replica.TypePush:
		return &replica.Push{Nonce: rapid.Uint64().Draw(t, "nonce"), Hops: rapid.Uint32().Draw(t, "hops"), Events: genEvents(t)}
	case replica.TypePushAck:
		return &replica.PushAck{Nonce: rapid.Uint64().Draw(t, "nonce"), New: genIDs(t), Prune: rapid.Bool().Draw(t, "prune")}
	case replica.TypePullSync:
		return &replica.PullSync{Hops: rapid.Uint32().Draw(t, "hops"), IDs: genIDs(t)}
	case replica.TypePullRequest:
		return &replica.PullRequest{IDs: genIDs(t)}
	case replica.TypePullResponse:
		return &replica.PullResponse{Events: genEvents(t)}
	case replica.TypeSyncRoot:
		m := &replica.SyncRoot{Nonce: rapid.Uint64().Draw(t, "nonce")}
		copy(m.Root[:], rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, "root"))
		return m
	case replica.TypeSyncDigest:
		if rapid.Bool().Draw(t, "match") {
			return &replica.SyncDigest{Nonce: rapid.Uint64().Draw(t, "nonce"), Match: true}
		}
		vv := genVV(t, "vv", 6)
		if vv == nil {
			vv = replica.VersionVector{}
		}
		return &replica.SyncDigest{Nonce: rapid.Uint64().Draw(t, "nonce"), VersionVector: vv}
	case replica.TypeSyncExchange:
		return &replica.SyncExchange{Nonce: rapid.Uint64().Draw(t, "nonce"), Events: genEvents(t), Request: genRanges(t), More: rapid.Bool().Draw(t, "more")}
	default:
		return &replica.SyncEvents{Nonce: rapid.Uint64().Draw(t, "nonce"), Events: genEvents(t), More: rapid.Bool().Draw(t, "more")}
	}
}

// TestRoundTripEveryMessage: every message the engine can produce decodes
// to an equal message, events keep their content IDs, and the frame goes
// through the frame reader.
func TestRoundTripEveryMessage(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genBody(t)
		data, err := Marshal(in)
		if err != nil {
			t.Fatalf("marshal %s: %v", in.Type(), err)
		}
		out, err := Unmarshal(data, Limits{})
		if err != nil {
			t.Fatalf("unmarshal %s: %v", in.Type(), err)
		}
		if !reflect.DeepEqual(in, out) {
			t.Fatalf("%s changed in transit:\n in  %#v\n out %#v", in.Type(), in, out)
		}
		for i, ev := range eventsOf(in) {
			if got := eventsOf(out)[i].ID(); got != ev.ID() {
				t.Fatalf("event %d: id %s became %s", i, ev.ID(), got)
			}
		}
		frame, err := MarshalFrame(in, DefaultMaxMessageSize)
		if err != nil {
			t.Fatalf("frame %s: %v", in.Type(), err)
		}
		if want := frameSize(len(data)); len(frame) != want {
			t.Fatalf("frame of %d bytes, want %d", len(frame), want)
		}
	})
}

// eventsOf returns the events a body carries.
func eventsOf(b replica.Body) []*replica.Event {
	switch m := b.(type) {
	case *replica.Push:
		return m.Events
	case *replica.PullResponse:
		return m.Events
	case *replica.SyncExchange:
		return m.Events
	case *replica.SyncEvents:
		return m.Events
	}
	return nil
}

// TestSignedEventVerifiesAfterTransit: an event signed by a real libp2p key
// still verifies through the engine after protobuf, with the same ID.
func TestSignedEventVerifiesAfterTransit(t *testing.T) {
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := security.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	other, _, _ := crypto.GenerateEd25519Key(nil)
	otherSigner, _ := security.NewSigner(other)
	ev := &replica.Event{
		Origin:  signer.ID(),
		Seq:     7,
		Time:    replica.Timestamp{Wall: 1_700_000_000_000_000_000, Logical: 3},
		Op:      replica.OpPut,
		Key:     "config/colour",
		Value:   []byte("blue"),
		Context: replica.VersionVector{signer.ID(): 6, otherSigner.ID(): 2},
	}
	if err := ev.Sign(signer); err != nil {
		t.Fatal(err)
	}
	data, err := Marshal(&replica.Push{Nonce: 1, Hops: 1, Events: []*replica.Event{ev}})
	if err != nil {
		t.Fatal(err)
	}
	body, err := Unmarshal(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got := body.(*replica.Push).Events[0]
	if err := got.Verify(security.Verifier{}); err != nil {
		t.Fatalf("verify after transit: %v", err)
	}
	if got.ID() != ev.ID() {
		t.Fatalf("id %s became %s", ev.ID(), got.ID())
	}
	// A flipped value byte must fail verification: the fields really are
	// what the signature covers.
	got.Value = []byte("blue!")
	if err := got.Verify(security.Verifier{}); !errors.Is(err, replica.ErrBadSignature) {
		t.Fatalf("tampered event: got %v, want ErrBadSignature", err)
	}
}

// TestEncodeOmitsZeroVectorEntries: zero entries mean absent, so they are
// not sent and the event's ID is unchanged.
func TestEncodeOmitsZeroVectorEntries(t *testing.T) {
	ev := &replica.Event{Origin: "a", Seq: 2, Op: replica.OpPut, Key: "k", Signature: []byte{1},
		Context: replica.VersionVector{"a": 1, "b": 0}}
	p, err := EventToProto(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Context) != 1 || string(p.Context[0].Origin) != "a" {
		t.Fatalf("context entries %v, want only a", p.Context)
	}
	back, err := EventFromProto(p)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID() != ev.ID() {
		t.Fatalf("id changed: %s -> %s", ev.ID(), back.ID())
	}
}

func TestEncodeRejects(t *testing.T) {
	cases := []struct {
		name string
		body replica.Body
		want error
	}{
		{"nil body", nil, ErrInvalidMessage},
		{"nil event", &replica.Push{Events: []*replica.Event{nil}}, ErrInvalidMessage},
		{"nil event in sync-events", &replica.SyncEvents{Events: []*replica.Event{nil}}, ErrInvalidMessage},
	}
	for _, c := range cases {
		if _, err := Marshal(c.body); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	big := &replica.PullResponse{Events: []*replica.Event{{Origin: "o", Seq: 1, Op: replica.OpPut, Key: "k", Value: make([]byte, 2000), Signature: []byte{1}}}}
	if _, err := MarshalFrame(big, 1000); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("frame over the limit: got %v, want ErrMessageTooLarge", err)
	}
}

// validEvent is a well-formed protobuf event for the rejection table.
func validEvent() *pb.Event {
	return &pb.Event{Origin: []byte("origin"), Seq: 1, Op: pb.Op_OP_PUT, Key: []byte("k"), Signature: []byte{1}}
}

func envBytes(t *testing.T, env *pb.Envelope) []byte {
	t.Helper()
	b, err := proto.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeRejects(t *testing.T) {
	with := func(f func(e *pb.Event)) *pb.Envelope {
		e := validEvent()
		f(e)
		return &pb.Envelope{Body: &pb.Envelope_Push{Push: &pb.Push{Events: []*pb.Event{e}}}}
	}
	ids := func(n, size int) [][]byte {
		out := make([][]byte, n)
		for i := range out {
			out[i] = make([]byte, size)
		}
		return out
	}
	entry := func(o string, s uint64) *pb.VersionEntry { return &pb.VersionEntry{Origin: []byte(o), Seq: s} }
	lim := Limits{MaxEventsPerMessage: 2, MaxIDsPerMessage: 3, MaxRangesPerMessage: 2, MaxVectorEntries: 2}
	cases := []struct {
		name string
		env  *pb.Envelope
		want error
	}{
		{"empty envelope", &pb.Envelope{}, ErrUnknownMessage},
		{"id of 31 bytes", &pb.Envelope{Body: &pb.Envelope_PullRequest{PullRequest: &pb.PullRequest{Ids: ids(1, 31)}}}, ErrInvalidMessage},
		{"id of 33 bytes", &pb.Envelope{Body: &pb.Envelope_PushAck{PushAck: &pb.PushAck{New: ids(1, 33)}}}, ErrInvalidMessage},
		{"too many ids", &pb.Envelope{Body: &pb.Envelope_PullSync{PullSync: &pb.PullSync{Ids: ids(4, 32)}}}, ErrMessageTooLarge},
		{"root of 0 bytes", &pb.Envelope{Body: &pb.Envelope_SyncRoot{SyncRoot: &pb.SyncRoot{}}}, ErrInvalidMessage},
		{"too many events", &pb.Envelope{Body: &pb.Envelope_PullResponse{PullResponse: &pb.PullResponse{Events: []*pb.Event{validEvent(), validEvent(), validEvent()}}}}, ErrMessageTooLarge},
		{"empty origin", with(func(e *pb.Event) { e.Origin = nil }), ErrInvalidMessage},
		{"long origin", with(func(e *pb.Event) { e.Origin = make([]byte, replica.MaxPeerIDSize+1) }), ErrInvalidMessage},
		{"seq 0", with(func(e *pb.Event) { e.Seq = 0 }), ErrInvalidMessage},
		{"op unspecified", with(func(e *pb.Event) { e.Op = pb.Op_OP_UNSPECIFIED }), ErrInvalidMessage},
		{"op unknown", with(func(e *pb.Event) { e.Op = 9 }), ErrInvalidMessage},
		{"long key", with(func(e *pb.Event) { e.Key = make([]byte, replica.MaxKeySize+1) }), ErrInvalidMessage},
		{"long value", with(func(e *pb.Event) { e.Value = make([]byte, replica.MaxValueSize+1) }), ErrInvalidMessage},
		{"no signature", with(func(e *pb.Event) { e.Signature = nil }), ErrInvalidMessage},
		{"long signature", with(func(e *pb.Event) { e.Signature = make([]byte, MaxSignatureSize+1) }), ErrInvalidMessage},
		{"context seq 0", with(func(e *pb.Event) { e.Context = []*pb.VersionEntry{entry("a", 0)} }), ErrInvalidMessage},
		{"context duplicate origin", with(func(e *pb.Event) { e.Context = []*pb.VersionEntry{entry("a", 1), entry("a", 2)} }), ErrInvalidMessage},
		{"context empty origin", with(func(e *pb.Event) { e.Context = []*pb.VersionEntry{entry("", 1)} }), ErrInvalidMessage},
		{"match with vector", &pb.Envelope{Body: &pb.Envelope_SyncDigest{SyncDigest: &pb.SyncDigest{Match: true, VersionVector: &pb.VersionVector{Entries: []*pb.VersionEntry{entry("a", 1)}}}}}, ErrInvalidMessage},
		{"vector too long", &pb.Envelope{Body: &pb.Envelope_SyncDigest{SyncDigest: &pb.SyncDigest{VersionVector: &pb.VersionVector{Entries: []*pb.VersionEntry{entry("a", 1), entry("b", 1), entry("c", 1)}}}}}, ErrMessageTooLarge},
		{"vector duplicate", &pb.Envelope{Body: &pb.Envelope_SyncDigest{SyncDigest: &pb.SyncDigest{VersionVector: &pb.VersionVector{Entries: []*pb.VersionEntry{entry("a", 1), entry("a", 1)}}}}}, ErrInvalidMessage},
		{"range from 0", &pb.Envelope{Body: &pb.Envelope_SyncExchange{SyncExchange: &pb.SyncExchange{Request: []*pb.SeqRange{{Origin: []byte("a"), From: 0, To: 3}}}}}, ErrInvalidMessage},
		{"range from > to", &pb.Envelope{Body: &pb.Envelope_SyncExchange{SyncExchange: &pb.SyncExchange{Request: []*pb.SeqRange{{Origin: []byte("a"), From: 4, To: 3}}}}}, ErrInvalidMessage},
		{"range no origin", &pb.Envelope{Body: &pb.Envelope_SyncExchange{SyncExchange: &pb.SyncExchange{Request: []*pb.SeqRange{{From: 1, To: 3}}}}}, ErrInvalidMessage},
		{"too many ranges", &pb.Envelope{Body: &pb.Envelope_SyncExchange{SyncExchange: &pb.SyncExchange{Request: []*pb.SeqRange{{Origin: []byte("a"), From: 1, To: 1}, {Origin: []byte("a"), From: 1, To: 1}, {Origin: []byte("a"), From: 1, To: 1}}}}}, ErrMessageTooLarge},
		{"bad event in sync-events", &pb.Envelope{Body: &pb.Envelope_SyncEvents{SyncEvents: &pb.SyncEvents{Events: []*pb.Event{{}}}}}, ErrInvalidMessage},
	}
	for _, c := range cases {
		_, err := Unmarshal(envBytes(t, c.env), lim)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func TestDecodeRejectsBytes(t *testing.T) {
	// Field 30 of the envelope, length-delimited, empty: a body type from
	// a future version.
	future := protowire.AppendBytes(protowire.AppendTag(nil, 30, protowire.BytesType), nil)
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"future body type", future, ErrUnknownMessage},
		{"not protobuf", []byte{0xff, 0xff, 0xff}, ErrMalformedFrame},
		{"truncated body", envTruncated(t), ErrMalformedFrame},
		{"over the size limit", make([]byte, 65), ErrMessageTooLarge},
	}
	for _, c := range cases {
		_, err := Unmarshal(c.data, Limits{MaxMessageSize: 64})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// envTruncated is a valid PullRequest envelope missing its last byte.
func envTruncated(t *testing.T) []byte {
	b := envBytes(t, &pb.Envelope{Body: &pb.Envelope_PullRequest{PullRequest: &pb.PullRequest{Ids: [][]byte{make([]byte, 32)}}}})
	return b[:len(b)-1]
}

func TestProtocolFor(t *testing.T) {
	for typ := replica.TypePush; typ <= replica.TypeSyncEvents; typ++ {
		p, err := ProtocolFor(typ)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		want := PushProtocol
		if typ >= replica.TypeSyncRoot {
			want = SyncProtocol
		}
		if p != want {
			t.Errorf("%s on %s, want %s", typ, p, want)
		}
	}
	for typ := replica.TypeAERequest; typ <= replica.TypeSnapshotChunk; typ++ {
		if p, err := ProtocolFor(typ); err != nil || p != AntiEntropyProtocol {
			t.Errorf("%s on %s (%v), want %s", typ, p, err, AntiEntropyProtocol)
		}
	}
	for _, typ := range []replica.MessageType{0, 10, 15, 21, 255} {
		if _, err := ProtocolFor(typ); !errors.Is(err, ErrUnknownMessage) {
			t.Errorf("type %d: got %v, want ErrUnknownMessage", typ, err)
		}
	}
}
