package merkle

import (
	"encoding/binary"
	"testing"
)

// fuzzState is a small state both session fuzzers run against.
func fuzzState(n int) *MemState {
	m, _ := NewMemState(6)
	for i := 0; i < n; i++ {
		m.Put(kh(uint64(i)), dg(uint64(i), 0))
	}
	return m
}

// splitFrames cuts b into length-prefixed frames (one length byte each).
func splitFrames(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := int(b[0])
		b = b[1:]
		if n > len(b) {
			n = len(b)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// FuzzResponder feeds a responder arbitrary request sequences: it must
// answer or fail with an error, never panic or answer past its limits.
func FuzzResponder(f *testing.F) {
	a, b := fuzzState(300), fuzzState(310)
	ini, _ := NewInitiator(Config{}, a.Tree, a.Index)
	res, _ := NewResponder(Config{}, b.Tree, b.Index)
	var seed []byte
	req, _ := ini.Start()
	for req != nil {
		w, _ := req.MarshalBinary()
		seed = append(append(seed, byte(len(w))), w...)
		resp, err := res.Handle(req)
		if err != nil || resp == nil {
			break
		}
		req, _ = ini.Step(resp)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := Config{MaxNodesPerMessage: 1 << maxJump}
		r, _ := NewResponder(cfg, b.Tree, b.Index)
		for _, frame := range splitFrames(data) {
			var q Request
			if q.UnmarshalBinary(frame, 1<<16) != nil {
				continue
			}
			resp, err := r.Handle(&q)
			if err != nil || resp == nil {
				return
			}
			if len(resp.Nodes) > cfg.MaxNodesPerMessage {
				t.Fatalf("%d hashes over the limit %d", len(resp.Nodes), cfg.MaxNodesPerMessage)
			}
		}
	})
}

// FuzzInitiator feeds an initiator arbitrary responses: it must go on or
// fail with an error, never panic, and end within 64 levels.
func FuzzInitiator(f *testing.F) {
	a, b := fuzzState(300), fuzzState(310)
	ini, _ := NewInitiator(Config{}, a.Tree, a.Index)
	res, _ := NewResponder(Config{}, b.Tree, b.Index)
	var seed []byte
	req, _ := ini.Start()
	for req != nil {
		resp, err := res.Handle(req)
		if err != nil || resp == nil {
			break
		}
		w, _ := resp.MarshalBinary()
		seed = binary.AppendUvarint(seed, uint64(len(w)))
		seed = append(seed, w...)
		req, _ = ini.Step(resp)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _ := NewInitiator(Config{}, a.Tree, a.Index)
		req, err := s.Start()
		rounds := 0
		for req != nil && err == nil && !req.Done && !req.FullSync && len(data) > 0 {
			n, k := binary.Uvarint(data)
			if k <= 0 || n > uint64(len(data)-k) {
				return
			}
			frame := data[k : k+int(n)]
			data = data[k+int(n):]
			var resp Response
			if resp.UnmarshalBinary(frame, 1<<16) != nil {
				return
			}
			req, err = s.Step(&resp)
			if rounds++; rounds > MaxLevel+1 {
				t.Fatalf("session still running after %d rounds", rounds)
			}
		}
	})
}
