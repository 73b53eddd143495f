package protocol

import (
	"bytes"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/murmur-p2p/murmur/protocol/pb"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// Marshal encodes a message body as a protobuf Envelope (a frame's body,
// without the length prefix).
func Marshal(b replica.Body) ([]byte, error) {
	env, err := ToProto(b)
	if err != nil {
		return nil, err
	}
	out, err := proto.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", b.Type(), err)
	}
	return out, nil
}

// ToProto converts an engine message body into its Envelope. It fails with
// ErrUnknownMessage for a body type without a wire form and with
// ErrInvalidMessage for a nil body or nil event.
func ToProto(b replica.Body) (*pb.Envelope, error) {
	env := &pb.Envelope{}
	switch m := b.(type) {
	case nil:
		return nil, fmt.Errorf("%w: nil body", ErrInvalidMessage)
	case *replica.Push:
		evs, err := eventsToProto(m.Events)
		if err != nil {
			return nil, fmt.Errorf("push: %w", err)
		}
		env.Body = &pb.Envelope_Push{Push: &pb.Push{Nonce: m.Nonce, Hops: m.Hops, Events: evs}}
	case *replica.PushAck:
		env.Body = &pb.Envelope_PushAck{PushAck: &pb.PushAck{Nonce: m.Nonce, New: idsToProto(m.New), Prune: m.Prune}}
	case *replica.PullSync:
		env.Body = &pb.Envelope_PullSync{PullSync: &pb.PullSync{Hops: m.Hops, Ids: idsToProto(m.IDs)}}
	case *replica.PullRequest:
		env.Body = &pb.Envelope_PullRequest{PullRequest: &pb.PullRequest{Ids: idsToProto(m.IDs)}}
	case *replica.PullResponse:
		evs, err := eventsToProto(m.Events)
		if err != nil {
			return nil, fmt.Errorf("pull-response: %w", err)
		}
		env.Body = &pb.Envelope_PullResponse{PullResponse: &pb.PullResponse{Events: evs}}
	case *replica.SyncRoot:
		env.Body = &pb.Envelope_SyncRoot{SyncRoot: &pb.SyncRoot{Nonce: m.Nonce, Root: bytes.Clone(m.Root[:])}}
	case *replica.SyncDigest:
		d := &pb.SyncDigest{Nonce: m.Nonce, Match: m.Match}
		if !m.Match {
			d.VersionVector = &pb.VersionVector{Entries: vvToProto(m.VersionVector)}
		}
		env.Body = &pb.Envelope_SyncDigest{SyncDigest: d}
	case *replica.SyncExchange:
		evs, err := eventsToProto(m.Events)
		if err != nil {
			return nil, fmt.Errorf("sync-exchange: %w", err)
		}
		rs := make([]*pb.SeqRange, len(m.Request))
		for i, r := range m.Request {
			rs[i] = &pb.SeqRange{Origin: []byte(r.Origin), From: r.From, To: r.To}
		}
		x := &pb.SyncExchange{Nonce: m.Nonce, Events: evs, Request: rs, More: m.More}
		if len(m.Compacted) > 0 {
			x.Compacted = &pb.VersionVector{Entries: vvToProto(m.Compacted)}
		}
		env.Body = &pb.Envelope_SyncExchange{SyncExchange: x}
	case *replica.SyncEvents:
		evs, err := eventsToProto(m.Events)
		if err != nil {
			return nil, fmt.Errorf("sync-events: %w", err)
		}
		x := &pb.SyncEvents{Nonce: m.Nonce, Events: evs, More: m.More}
		if len(m.Compacted) > 0 {
			x.Compacted = &pb.VersionVector{Entries: vvToProto(m.Compacted)}
		}
		env.Body = &pb.Envelope_SyncEvents{SyncEvents: x}
	default:
		ok, err := aeToProto(b, env)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: no wire form for %s (%T)", ErrUnknownMessage, b.Type(), b)
		}
	}
	return env, nil
}

// EventToProto converts one event. It carries every field of the engine's
// canonical encoding, so the receiver derives the same ID and can verify
// the signature.
func EventToProto(e *replica.Event) (*pb.Event, error) {
	if e == nil {
		return nil, fmt.Errorf("%w: nil event", ErrInvalidMessage)
	}
	return &pb.Event{
		Origin:    []byte(e.Origin),
		Seq:       e.Seq,
		Wall:      e.Time.Wall,
		Logical:   e.Time.Logical,
		Op:        pb.Op(e.Op),
		Key:       []byte(e.Key),
		Value:     e.Value,
		Context:   vvToProto(e.Context),
		Signature: e.Signature,
	}, nil
}

// eventsToProto converts a list of events, naming the index of a nil one.
func eventsToProto(evs []*replica.Event) ([]*pb.Event, error) {
	out := make([]*pb.Event, len(evs))
	for i, e := range evs {
		pe, err := EventToProto(e)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		out[i] = pe
	}
	return out, nil
}

// idsToProto converts event IDs to 32-byte strings.
func idsToProto(ids []replica.EventID) [][]byte {
	out := make([][]byte, len(ids))
	for i := range ids {
		out[i] = bytes.Clone(ids[i][:])
	}
	return out
}

// vvToProto converts a version vector to its entries sorted by origin,
// leaving out zero entries (they mean the same as absent ones).
func vvToProto(v replica.VersionVector) []*pb.VersionEntry {
	origins := v.Origins() // sorted, non-zero only
	if len(origins) == 0 {
		return nil
	}
	out := make([]*pb.VersionEntry, len(origins))
	for i, o := range origins {
		out[i] = &pb.VersionEntry{Origin: []byte(o), Seq: v[o]}
	}
	return out
}
