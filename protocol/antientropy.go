package protocol

import (
	"fmt"

	"github.com/murmur-p2p/murmur/protocol/pb"
	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/replica"
)

// maxMerkleNodes caps the marks of a merkle request and the hashes and
// listed entries of a merkle response (merkle.Config.MaxNodesPerMessage's
// default), checked before they are allocated.
const maxMerkleNodes = 1 << 16

// aeToProto converts the anti-entropy bodies (/murmur/ae/1.0.0); ok is false
// for other bodies.
func aeToProto(b replica.Body, env *pb.Envelope) (ok bool, err error) {
	switch m := b.(type) {
	case *replica.AERequest:
		if m.Req == nil {
			return true, fmt.Errorf("%w: ae-request without a merkle request", ErrInvalidMessage)
		}
		req, err := m.Req.MarshalBinary()
		if err != nil {
			return true, fmt.Errorf("ae-request: %w", err)
		}
		r := &pb.AERequest{Nonce: m.Nonce, CatchUp: m.CatchUp, Request: req}
		if m.Req.Coded != nil {
			if r.Coded, err = m.Req.Coded.MarshalBinary(); err != nil {
				return true, fmt.Errorf("ae-request: %w", err)
			}
		}
		env.Body = &pb.Envelope_AeRequest{AeRequest: r}
	case *replica.AEResponse:
		r := &pb.AEResponse{Nonce: m.Nonce, Refused: m.Refused}
		if m.Resp != nil {
			if r.Response, err = m.Resp.MarshalBinary(); err != nil {
				return true, fmt.Errorf("ae-response: %w", err)
			}
			if m.Resp.Coded != nil {
				if r.Coded, err = m.Resp.Coded.MarshalBinary(); err != nil {
					return true, fmt.Errorf("ae-response: %w", err)
				}
			}
		}
		if m.VersionVector != nil {
			r.VersionVector = &pb.VersionVector{Entries: vvToProto(m.VersionVector)}
		}
		env.Body = &pb.Envelope_AeResponse{AeResponse: r}
	case *replica.AEStates:
		states, err := statesToProto(m.States)
		if err != nil {
			return true, fmt.Errorf("ae-states: %w", err)
		}
		rs := make([]*pb.MerkleRange, len(m.Ranges))
		for i, r := range m.Ranges {
			rs[i] = &pb.MerkleRange{Level: uint32(r.Level), Prefix: r.Prefix}
		}
		env.Body = &pb.Envelope_AeStates{AeStates: &pb.AEStates{Nonce: m.Nonce, States: states, Ranges: rs,
			VersionVector: &pb.VersionVector{Entries: vvToProto(m.VersionVector)}, Last: m.Last}}
	case *replica.SnapshotRequest:
		env.Body = &pb.Envelope_SnapshotRequest{SnapshotRequest: &pb.SnapshotRequest{Nonce: m.Nonce, Started: m.Cursor.Started, After: []byte(m.Cursor.After)}}
	case *replica.SnapshotChunk:
		states, err := statesToProto(m.States)
		if err != nil {
			return true, fmt.Errorf("snapshot-chunk: %w", err)
		}
		env.Body = &pb.Envelope_SnapshotChunk{SnapshotChunk: &pb.SnapshotChunk{Nonce: m.Nonce, Started: m.Cursor.Started,
			After: []byte(m.Cursor.After), States: states, Last: m.Last,
			VersionVector: &pb.VersionVector{Entries: vvToProto(m.VersionVector)}, KeysTotal: m.KeysTotal}}
	default:
		return false, nil
	}
	return true, nil
}

// statesToProto converts key states.
func statesToProto(states []*replica.StateEntry) ([]*pb.KeyState, error) {
	out := make([]*pb.KeyState, len(states))
	for i, s := range states {
		if s == nil {
			return nil, fmt.Errorf("%w: state %d is nil", ErrInvalidMessage, i)
		}
		evs, err := eventsToProto(s.Versions)
		if err != nil {
			return nil, fmt.Errorf("state %d: %w", i, err)
		}
		out[i] = &pb.KeyState{Key: []byte(s.Key), Versions: evs, Context: vvToProto(s.Context)}
	}
	return out, nil
}

// aeFromProto converts and validates the anti-entropy bodies; ok is false
// for other bodies.
func aeFromProto(env *pb.Envelope, lim Limits) (b replica.Body, ok bool, err error) {
	switch x := env.Body.(type) {
	case *pb.Envelope_AeRequest:
		m := x.AeRequest
		req := &merkle.Request{}
		if err := req.UnmarshalBinary(m.GetRequest(), maxMerkleNodes); err != nil {
			return nil, true, fmt.Errorf("%w: ae-request: %w", ErrInvalidMessage, err)
		}
		if c := m.GetCoded(); len(c) > 0 {
			req.Coded = &merkle.CodedRequest{}
			if err := req.Coded.UnmarshalBinary(c, maxMerkleNodes); err != nil {
				return nil, true, fmt.Errorf("%w: ae-request: %w", ErrInvalidMessage, err)
			}
		}
		return &replica.AERequest{Nonce: m.GetNonce(), CatchUp: m.GetCatchUp(), Req: req}, true, nil
	case *pb.Envelope_AeResponse:
		m := x.AeResponse
		out := &replica.AEResponse{Nonce: m.GetNonce(), Refused: m.GetRefused()}
		if !out.Refused {
			resp := &merkle.Response{}
			if err := resp.UnmarshalBinary(m.GetResponse(), maxMerkleNodes); err != nil {
				return nil, true, fmt.Errorf("%w: ae-response: %w", ErrInvalidMessage, err)
			}
			if c := m.GetCoded(); len(c) > 0 {
				resp.Coded = &merkle.CodedResponse{}
				if err := resp.Coded.UnmarshalBinary(c, maxMerkleNodes); err != nil {
					return nil, true, fmt.Errorf("%w: ae-response: %w", ErrInvalidMessage, err)
				}
			}
			out.Resp = resp
		} else if len(m.GetResponse()) > 0 {
			return nil, true, fmt.Errorf("%w: ae-response: refused with a merkle response", ErrInvalidMessage)
		}
		if m.VersionVector != nil {
			if out.VersionVector, err = vectorFromProto(m.GetVersionVector(), lim); err != nil {
				return nil, true, fmt.Errorf("ae-response: %w", err)
			}
		}
		return out, true, nil
	case *pb.Envelope_AeStates:
		m := x.AeStates
		states, err := statesFromProto(m.GetStates(), lim)
		if err != nil {
			return nil, true, fmt.Errorf("ae-states: %w", err)
		}
		if len(m.GetRanges()) > lim.MaxRangesPerMessage {
			return nil, true, fmt.Errorf("%w: ae-states: %d ranges, limit %d", ErrMessageTooLarge, len(m.GetRanges()), lim.MaxRangesPerMessage)
		}
		var rs []merkle.Range
		for i, r := range m.GetRanges() {
			if r.GetLevel() > merkle.MaxLevel || (r.GetLevel() < 64 && r.GetPrefix()>>r.GetLevel() != 0) {
				return nil, true, fmt.Errorf("%w: ae-states: range %d has level %d and prefix %#x", ErrInvalidMessage, i, r.GetLevel(), r.GetPrefix())
			}
			rs = append(rs, merkle.Range{Level: uint8(r.GetLevel()), Prefix: r.GetPrefix()})
		}
		vv, err := vectorFromProto(m.GetVersionVector(), lim)
		if err != nil {
			return nil, true, fmt.Errorf("ae-states: %w", err)
		}
		return &replica.AEStates{Nonce: m.GetNonce(), States: states, Ranges: rs, VersionVector: vv, Last: m.GetLast()}, true, nil
	case *pb.Envelope_SnapshotRequest:
		m := x.SnapshotRequest
		cur, err := cursorFromProto(m.GetStarted(), m.GetAfter())
		if err != nil {
			return nil, true, fmt.Errorf("snapshot-request: %w", err)
		}
		return &replica.SnapshotRequest{Nonce: m.GetNonce(), Cursor: cur}, true, nil
	case *pb.Envelope_SnapshotChunk:
		m := x.SnapshotChunk
		cur, err := cursorFromProto(m.GetStarted(), m.GetAfter())
		if err != nil {
			return nil, true, fmt.Errorf("snapshot-chunk: %w", err)
		}
		states, err := statesFromProto(m.GetStates(), lim)
		if err != nil {
			return nil, true, fmt.Errorf("snapshot-chunk: %w", err)
		}
		vv, err := vectorFromProto(m.GetVersionVector(), lim)
		if err != nil {
			return nil, true, fmt.Errorf("snapshot-chunk: %w", err)
		}
		return &replica.SnapshotChunk{Nonce: m.GetNonce(), Cursor: cur, States: states, Last: m.GetLast(), VersionVector: vv, KeysTotal: m.GetKeysTotal()}, true, nil
	}
	return nil, false, nil
}

// cursorFromProto checks a snapshot cursor.
func cursorFromProto(started bool, after []byte) (replica.SnapshotCursor, error) {
	if len(after) > replica.MaxKeySize || (!started && len(after) > 0) {
		return replica.SnapshotCursor{}, fmt.Errorf("%w: cursor of %d bytes (started %v)", ErrInvalidMessage, len(after), started)
	}
	return replica.SnapshotCursor{Started: started, After: string(after)}, nil
}

// vectorFromProto converts a version vector within the entry limit (an
// absent vector is empty).
func vectorFromProto(v *pb.VersionVector, lim Limits) (replica.VersionVector, error) {
	if n := len(v.GetEntries()); n > lim.MaxVectorEntries {
		return nil, fmt.Errorf("%w: %d version vector entries, limit %d", ErrMessageTooLarge, n, lim.MaxVectorEntries)
	}
	vv, err := vvFromProto(v.GetEntries())
	if err != nil {
		return nil, fmt.Errorf("version vector: %w", err)
	}
	if vv == nil {
		vv = replica.VersionVector{}
	}
	return vv, nil
}

// statesFromProto converts key states: at most MaxIDsPerMessage states, each
// with a key, at most sync.MaxStateVersions versions (valid events) and a
// valid context. The engine checks signatures and consistency.
func statesFromProto(ps []*pb.KeyState, lim Limits) ([]*replica.StateEntry, error) {
	if len(ps) > lim.MaxIDsPerMessage {
		return nil, fmt.Errorf("%w: %d states, limit %d", ErrMessageTooLarge, len(ps), lim.MaxIDsPerMessage)
	}
	var out []*replica.StateEntry
	for i, p := range ps {
		switch {
		case len(p.GetKey()) == 0 || len(p.GetKey()) > replica.MaxKeySize:
			return nil, fmt.Errorf("%w: state %d has a key of %d bytes", ErrInvalidMessage, i, len(p.GetKey()))
		case len(p.GetVersions()) > replica.MaxStateVersions:
			return nil, fmt.Errorf("%w: state %d has %d versions, limit %d", ErrMessageTooLarge, i, len(p.GetVersions()), replica.MaxStateVersions)
		case len(p.GetContext()) > replica.MaxContextEntries:
			return nil, fmt.Errorf("%w: state %d has %d context entries, limit %d", ErrMessageTooLarge, i, len(p.GetContext()), replica.MaxContextEntries)
		}
		st := &replica.StateEntry{Key: string(p.GetKey())}
		for j, pe := range p.GetVersions() {
			ev, err := EventFromProto(pe)
			if err != nil {
				return nil, fmt.Errorf("state %d version %d: %w", i, j, err)
			}
			st.Versions = append(st.Versions, ev)
		}
		ctx, err := vvFromProto(p.GetContext())
		if err != nil {
			return nil, fmt.Errorf("state %d context: %w", i, err)
		}
		st.Context = ctx
		out = append(out, st)
	}
	return out, nil
}
