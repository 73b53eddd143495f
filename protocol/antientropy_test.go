package protocol

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/murmur-p2p/murmur/protocol/pb"
	"github.com/murmur-p2p/murmur/security"
	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// aeMessages returns one of each anti-entropy body, built from real
// reconciliations between two differing trees (the Merkle way, the coded
// way, and coded falling back to Merkle) and signed events.
func aeMessages(t *testing.T) []replica.Body {
	t.Helper()
	var out []replica.Body
	var ranges []merkle.Range
	for _, sketch := range []int{0, 64, 8} {
		a, _ := merkle.NewMemState(6)
		b, _ := merkle.NewMemState(6)
		if sketch > 0 {
			_ = a.Tree.EnableSketch(sketch)
			_ = b.Tree.EnableSketch(sketch)
		}
		for i := 0; i < 200; i++ {
			k := merkle.HashKey(fmt.Sprint("key", i))
			a.Put(k, merkle.Digest{byte(i)})
			if i%17 != 0 {
				b.Put(k, merkle.Digest{byte(i)})
			}
		}
		ini, err := merkle.NewInitiator(merkle.Config{Depth: 6}, a.Tree, a.Index)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := merkle.NewResponder(merkle.Config{Depth: 6}, b.Tree, b.Index)
		if err != nil {
			t.Fatal(err)
		}
		req, err := ini.Start()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; req != nil; i++ {
			out = append(out, &replica.AERequest{Nonce: 7, CatchUp: i == 0, Req: req})
			r, err := resp.Handle(req)
			if err != nil {
				t.Fatal(err)
			}
			if r == nil {
				break
			}
			m := &replica.AEResponse{Nonce: 7, Resp: r}
			if i == 0 {
				m.VersionVector = replica.VersionVector{"origin-a": 3}
			}
			out = append(out, m)
			if req, err = ini.Step(r); err != nil {
				t.Fatal(err)
			}
		}
		if res := ini.Result(); res.Coded != (sketch == 64) {
			t.Fatalf("sketch %d: coded %v", sketch, res.Coded)
		}
		ranges = append(ranges, ini.Result().Ranges...)
	}
	ev := signedEvent(t)
	st := &replica.StateEntry{Key: ev.Key, Versions: []*replica.Event{ev}, Context: replica.VersionVector{ev.Origin: ev.Seq}}
	out = append(out,
		&replica.AEResponse{Nonce: 8, Refused: true},
		&replica.AEStates{Nonce: 7, States: []*replica.StateEntry{st}, Ranges: ranges, VersionVector: replica.VersionVector{ev.Origin: 5}, Last: true},
		&replica.SnapshotRequest{Nonce: 9, Cursor: replica.SnapshotCursor{Started: true, After: "k"}},
		&replica.SnapshotChunk{Nonce: 9, Cursor: replica.SnapshotCursor{}, States: []*replica.StateEntry{st}, VersionVector: replica.VersionVector{ev.Origin: 5}, KeysTotal: 1, Last: true},
		&replica.SyncEvents{Nonce: 3, Compacted: replica.VersionVector{ev.Origin: 4}},
	)
	return out
}

// TestAntiEntropyRoundTrip: every anti-entropy body survives the wire.
func TestAntiEntropyRoundTrip(t *testing.T) {
	for i, b := range aeMessages(t) {
		data, err := Marshal(b)
		if err != nil {
			t.Fatalf("message %d (%s): %v", i, b.Type(), err)
		}
		got, err := Unmarshal(data, Limits{})
		if err != nil {
			t.Fatalf("message %d (%s): %v", i, b.Type(), err)
		}
		if !reflect.DeepEqual(normalise(got), normalise(b)) {
			t.Fatalf("message %d (%s) changed in transit:\n got %#v\nwant %#v", i, b.Type(), got, b)
		}
	}
}

// normalise maps empty and nil slices and vectors alike for comparison.
func normalise(b replica.Body) string {
	data, _ := Marshal(b)
	return string(data)
}

// TestAntiEntropyDecodeRejects: malformed anti-entropy bodies fail with
// ErrInvalidMessage or ErrMessageTooLarge.
func TestAntiEntropyDecodeRejects(t *testing.T) {
	big := make([]*pb.KeyState, DefaultLimits().MaxIDsPerMessage+1)
	for i := range big {
		big[i] = &pb.KeyState{Key: []byte("k")}
	}
	cases := map[string]*pb.Envelope{
		"bad merkle request":   {Body: &pb.Envelope_AeRequest{AeRequest: &pb.AERequest{Request: []byte{9, 9}}}},
		"no merkle response":   {Body: &pb.Envelope_AeResponse{AeResponse: &pb.AEResponse{}}},
		"bad coded request":    {Body: &pb.Envelope_AeRequest{AeRequest: &pb.AERequest{Request: []byte{1, 0, 0, 0}, Coded: []byte{1, 0, 0, 5}}}},
		"bad coded response":   {Body: &pb.Envelope_AeResponse{AeResponse: &pb.AEResponse{Response: []byte{1, 0, 0, 0}, Coded: []byte{1, 9}}}},
		"refused with payload": {Body: &pb.Envelope_AeResponse{AeResponse: &pb.AEResponse{Refused: true, Response: []byte{1, 0, 0, 0}}}},
		"range prefix too big": {Body: &pb.Envelope_AeStates{AeStates: &pb.AEStates{Ranges: []*pb.MerkleRange{{Level: 2, Prefix: 4}}}}},
		"range level 65":       {Body: &pb.Envelope_AeStates{AeStates: &pb.AEStates{Ranges: []*pb.MerkleRange{{Level: 65}}}}},
		"state without key":    {Body: &pb.Envelope_AeStates{AeStates: &pb.AEStates{States: []*pb.KeyState{{}}}}},
		"too many states":      {Body: &pb.Envelope_SnapshotChunk{SnapshotChunk: &pb.SnapshotChunk{States: big}}},
		"too many versions":    {Body: &pb.Envelope_AeStates{AeStates: &pb.AEStates{States: []*pb.KeyState{{Key: []byte("k"), Versions: make([]*pb.Event, replica.MaxStateVersions+1)}}}}},
		"bad version":          {Body: &pb.Envelope_AeStates{AeStates: &pb.AEStates{States: []*pb.KeyState{{Key: []byte("k"), Versions: []*pb.Event{{}}}}}}},
		"cursor not started":   {Body: &pb.Envelope_SnapshotRequest{SnapshotRequest: &pb.SnapshotRequest{After: []byte("x")}}},
		"compacted seq 0":      {Body: &pb.Envelope_SyncEvents{SyncEvents: &pb.SyncEvents{Compacted: &pb.VersionVector{Entries: []*pb.VersionEntry{{Origin: []byte("o")}}}}}},
	}
	for name, env := range cases {
		_, err := Unmarshal(envBytes(t, env), Limits{})
		if !errors.Is(err, ErrInvalidMessage) && !errors.Is(err, ErrMessageTooLarge) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

// TestWriteAntiEntropyCorpus keeps the FuzzUnmarshal seed corpus of the
// anti-entropy messages in step with their encoding: it checks each file
// holds the current encoding (MURMUR_WRITE_CORPUS=1 rewrites them).
func TestWriteAntiEntropyCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzUnmarshal")
	for i, b := range aeMessages(t) {
		data, err := Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		want := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
		name := filepath.Join(dir, fmt.Sprintf("ae-%02d-%s", i, b.Type()))
		if os.Getenv("MURMUR_WRITE_CORPUS") == "1" {
			if err := os.WriteFile(name, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(name)
		if err != nil || string(got) != want {
			t.Errorf("%s is missing or stale (%v): run MURMUR_WRITE_CORPUS=1 go test ./protocol -run TestWriteAntiEntropyCorpus", name, err)
		}
	}
}

// signedEvent returns a put signed by a key derived from a fixed seed, so
// the corpus is the same on every run.
func signedEvent(t *testing.T) *replica.Event {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(rand.NewChaCha8([32]byte{'a', 'e'}))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := security.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	ev := &replica.Event{Origin: signer.ID(), Seq: 4, Time: replica.Timestamp{Wall: 1_700_000_000_000_000_000}, Op: replica.OpPut,
		Key: "config/colour", Value: []byte("blue"), Context: replica.VersionVector{signer.ID(): 3}}
	if err := ev.Sign(signer); err != nil {
		t.Fatal(err)
	}
	return ev
}
