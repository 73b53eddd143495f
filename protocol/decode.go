package protocol

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/murmur-p2p/murmur/protocol/pb"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// Unmarshal decodes a frame body into an engine message body, validating
// it against lim (zero fields take DefaultLimits). The counts of repeated
// fields are checked on the wire data before it is unmarshalled (see
// prescan), so rejecting a frame costs at most a small multiple of its size
// in allocations. Errors wrap
// ErrMessageTooLarge, ErrMalformedFrame, ErrUnknownMessage or
// ErrInvalidMessage and name what is wrong.
func Unmarshal(data []byte, lim Limits) (replica.Body, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(data), lim.MaxMessageSize)
	}
	// Count the body's elements on the wire first, so a frame of many tiny
	// elements is rejected before proto.Unmarshal allocates them.
	if err := prescan(data, lim); err != nil {
		return nil, err
	}
	env := &pb.Envelope{}
	if err := proto.Unmarshal(data, env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %w", ErrMalformedFrame, err)
	}
	return FromProto(env, lim)
}

// FromProto converts an Envelope into an engine message body, validating
// every field: ID and digest lengths, counts against lim, required fields,
// field sizes against the engine's limits (sync.MaxPeerIDSize,
// sync.MaxKeySize, ...), known ops and distinct version vector origins.
// Semantic checks of events (op/value consistency, causal context, the
// signature) are left to the engine, which rejects bad events one by one.
func FromProto(env *pb.Envelope, lim Limits) (replica.Body, error) {
	lim = lim.withDefaults()
	if env == nil {
		return nil, fmt.Errorf("%w: nil envelope", ErrInvalidMessage)
	}
	switch b := env.Body.(type) {
	case *pb.Envelope_Push:
		m := b.Push
		evs, err := eventsFromProto(m.GetEvents(), lim)
		if err != nil {
			return nil, fmt.Errorf("push: %w", err)
		}
		return &replica.Push{Nonce: m.GetNonce(), Hops: m.GetHops(), Events: evs}, nil
	case *pb.Envelope_PushAck:
		ids, err := idsFromProto(b.PushAck.GetNew(), lim)
		if err != nil {
			return nil, fmt.Errorf("push-ack: new: %w", err)
		}
		return &replica.PushAck{Nonce: b.PushAck.GetNonce(), New: ids, Prune: b.PushAck.GetPrune()}, nil
	case *pb.Envelope_PullSync:
		ids, err := idsFromProto(b.PullSync.GetIds(), lim)
		if err != nil {
			return nil, fmt.Errorf("pull-sync: ids: %w", err)
		}
		return &replica.PullSync{Hops: b.PullSync.GetHops(), IDs: ids}, nil
	case *pb.Envelope_PullRequest:
		ids, err := idsFromProto(b.PullRequest.GetIds(), lim)
		if err != nil {
			return nil, fmt.Errorf("pull-request: ids: %w", err)
		}
		return &replica.PullRequest{IDs: ids}, nil
	case *pb.Envelope_PullResponse:
		evs, err := eventsFromProto(b.PullResponse.GetEvents(), lim)
		if err != nil {
			return nil, fmt.Errorf("pull-response: %w", err)
		}
		return &replica.PullResponse{Events: evs}, nil
	case *pb.Envelope_SyncRoot:
		m := &replica.SyncRoot{Nonce: b.SyncRoot.GetNonce()}
		if n := len(b.SyncRoot.GetRoot()); n != len(m.Root) {
			return nil, fmt.Errorf("%w: sync-root: root of %d bytes, want %d", ErrInvalidMessage, n, len(m.Root))
		}
		copy(m.Root[:], b.SyncRoot.GetRoot())
		return m, nil
	case *pb.Envelope_SyncDigest:
		return syncDigestFromProto(b.SyncDigest, lim)
	case *pb.Envelope_SyncExchange:
		return syncExchangeFromProto(b.SyncExchange, lim)
	case *pb.Envelope_SyncEvents:
		evs, err := eventsFromProto(b.SyncEvents.GetEvents(), lim)
		if err != nil {
			return nil, fmt.Errorf("sync-events: %w", err)
		}
		m := &replica.SyncEvents{Nonce: b.SyncEvents.GetNonce(), Events: evs, More: b.SyncEvents.GetMore()}
		if c := b.SyncEvents.GetCompacted(); len(c.GetEntries()) > 0 { // empty is absent, as Marshal sends it
			if m.Compacted, err = vectorFromProto(c, lim); err != nil {
				return nil, fmt.Errorf("sync-events: compacted: %w", err)
			}
		}
		return m, nil
	case nil:
		if n := len(env.ProtoReflect().GetUnknown()); n > 0 {
			return nil, fmt.Errorf("%w: envelope holds no known body (%d bytes of unknown fields)", ErrUnknownMessage, n)
		}
		return nil, fmt.Errorf("%w: empty envelope", ErrUnknownMessage)
	default:
		body, ok, err := aeFromProto(env, lim)
		if !ok {
			return nil, fmt.Errorf("%w: envelope body %T", ErrUnknownMessage, b)
		}
		return body, err
	}
}

// syncDigestFromProto converts a SyncDigest: a match carries no vector.
func syncDigestFromProto(d *pb.SyncDigest, lim Limits) (*replica.SyncDigest, error) {
	m := &replica.SyncDigest{Nonce: d.GetNonce(), Match: d.GetMatch()}
	entries := d.GetVersionVector().GetEntries()
	if m.Match {
		if len(entries) > 0 {
			return nil, fmt.Errorf("%w: sync-digest: match with a version vector of %d entries", ErrInvalidMessage, len(entries))
		}
		return m, nil
	}
	if len(entries) > lim.MaxVectorEntries {
		return nil, fmt.Errorf("%w: sync-digest: %d version vector entries, limit %d", ErrMessageTooLarge, len(entries), lim.MaxVectorEntries)
	}
	vv, err := vvFromProto(entries)
	if err != nil {
		return nil, fmt.Errorf("sync-digest: version vector: %w", err)
	}
	if vv == nil {
		vv = replica.VersionVector{}
	}
	m.VersionVector = vv
	return m, nil
}

// syncExchangeFromProto converts a SyncExchange and checks its ranges.
func syncExchangeFromProto(x *pb.SyncExchange, lim Limits) (*replica.SyncExchange, error) {
	evs, err := eventsFromProto(x.GetEvents(), lim)
	if err != nil {
		return nil, fmt.Errorf("sync-exchange: %w", err)
	}
	rs := x.GetRequest()
	if len(rs) > lim.MaxRangesPerMessage {
		return nil, fmt.Errorf("%w: sync-exchange: %d ranges, limit %d", ErrMessageTooLarge, len(rs), lim.MaxRangesPerMessage)
	}
	var req []replica.SeqRange
	if len(rs) > 0 {
		req = make([]replica.SeqRange, len(rs))
	}
	for i, r := range rs {
		if err := checkOrigin(r.GetOrigin()); err != nil {
			return nil, fmt.Errorf("sync-exchange: range %d: %w", i, err)
		}
		if r.GetFrom() == 0 || r.GetFrom() > r.GetTo() {
			return nil, fmt.Errorf("%w: sync-exchange: range %d is %d..%d, want 1 <= from <= to", ErrInvalidMessage, i, r.GetFrom(), r.GetTo())
		}
		req[i] = replica.SeqRange{Origin: replica.PeerID(r.GetOrigin()), From: r.GetFrom(), To: r.GetTo()}
	}
	m := &replica.SyncExchange{Nonce: x.GetNonce(), Events: evs, Request: req, More: x.GetMore()}
	if c := x.GetCompacted(); len(c.GetEntries()) > 0 { // empty is absent, as Marshal sends it
		if m.Compacted, err = vectorFromProto(c, lim); err != nil {
			return nil, fmt.Errorf("sync-exchange: compacted: %w", err)
		}
	}
	return m, nil
}

// EventFromProto converts one event, checking the sizes and ranges of its
// fields (not its semantics or signature: that is the engine's Verify).
func EventFromProto(p *pb.Event) (*replica.Event, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil event", ErrInvalidMessage)
	}
	if err := checkOrigin(p.GetOrigin()); err != nil {
		return nil, err
	}
	switch {
	case p.GetSeq() == 0:
		return nil, fmt.Errorf("%w: seq 0", ErrInvalidMessage)
	case p.GetOp() < pb.Op_OP_PUT || p.GetOp() > pb.Op_OP_APP:
		return nil, fmt.Errorf("%w: unknown op %d", ErrInvalidMessage, int32(p.GetOp()))
	case len(p.GetKey()) > replica.MaxKeySize:
		return nil, fmt.Errorf("%w: key of %d bytes, limit %d", ErrInvalidMessage, len(p.GetKey()), replica.MaxKeySize)
	case len(p.GetValue()) > replica.MaxValueSize:
		return nil, fmt.Errorf("%w: value of %d bytes, limit %d", ErrInvalidMessage, len(p.GetValue()), replica.MaxValueSize)
	case len(p.GetContext()) > replica.MaxContextEntries:
		return nil, fmt.Errorf("%w: context of %d entries, limit %d", ErrInvalidMessage, len(p.GetContext()), replica.MaxContextEntries)
	case len(p.GetSignature()) == 0:
		return nil, fmt.Errorf("%w: missing signature", ErrInvalidMessage)
	case len(p.GetSignature()) > MaxSignatureSize:
		return nil, fmt.Errorf("%w: signature of %d bytes, limit %d", ErrInvalidMessage, len(p.GetSignature()), MaxSignatureSize)
	}
	ctx, err := vvFromProto(p.GetContext())
	if err != nil {
		return nil, fmt.Errorf("context: %w", err)
	}
	return &replica.Event{
		Origin:    replica.PeerID(p.GetOrigin()),
		Seq:       p.GetSeq(),
		Time:      replica.Timestamp{Wall: p.GetWall(), Logical: p.GetLogical()},
		Op:        replica.Op(p.GetOp()),
		Key:       string(p.GetKey()),
		Value:     p.GetValue(),
		Context:   ctx,
		Signature: p.GetSignature(),
	}, nil
}

// eventsFromProto converts a list of events within the event limit.
func eventsFromProto(ps []*pb.Event, lim Limits) ([]*replica.Event, error) {
	if len(ps) > lim.MaxEventsPerMessage {
		return nil, fmt.Errorf("%w: %d events, limit %d", ErrMessageTooLarge, len(ps), lim.MaxEventsPerMessage)
	}
	if len(ps) == 0 {
		return nil, nil
	}
	out := make([]*replica.Event, len(ps))
	for i, p := range ps {
		e, err := EventFromProto(p)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		out[i] = e
	}
	return out, nil
}

// idsFromProto converts event IDs, each exactly 32 bytes, within the ID
// limit.
func idsFromProto(bs [][]byte, lim Limits) ([]replica.EventID, error) {
	if len(bs) > lim.MaxIDsPerMessage {
		return nil, fmt.Errorf("%w: %d ids, limit %d", ErrMessageTooLarge, len(bs), lim.MaxIDsPerMessage)
	}
	if len(bs) == 0 {
		return nil, nil
	}
	out := make([]replica.EventID, len(bs))
	for i, b := range bs {
		if len(b) != len(out[i]) {
			return nil, fmt.Errorf("%w: id %d of %d bytes, want %d", ErrInvalidMessage, i, len(b), len(out[i]))
		}
		copy(out[i][:], b)
	}
	return out, nil
}

// vvFromProto converts version vector entries: valid origins, distinct,
// non-zero sequence numbers. It returns nil for no entries.
func vvFromProto(es []*pb.VersionEntry) (replica.VersionVector, error) {
	if len(es) == 0 {
		return nil, nil
	}
	vv := make(replica.VersionVector, len(es))
	for i, e := range es {
		if err := checkOrigin(e.GetOrigin()); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if e.GetSeq() == 0 {
			return nil, fmt.Errorf("%w: entry %d has seq 0", ErrInvalidMessage, i)
		}
		o := replica.PeerID(e.GetOrigin())
		if _, dup := vv[o]; dup {
			return nil, fmt.Errorf("%w: entry %d repeats origin %s", ErrInvalidMessage, i, o)
		}
		vv[o] = e.GetSeq()
	}
	return vv, nil
}

// checkOrigin checks a peer ID's length against the engine's limit.
func checkOrigin(b []byte) error {
	if len(b) == 0 || len(b) > replica.MaxPeerIDSize {
		return fmt.Errorf("%w: origin of %d bytes, want 1..%d", ErrInvalidMessage, len(b), replica.MaxPeerIDSize)
	}
	return nil
}
