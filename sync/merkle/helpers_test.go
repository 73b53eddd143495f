package merkle

import (
	"crypto/sha256"
	"encoding/binary"
)

// kh returns a test key hash for key number i.
func kh(i uint64) KeyHash {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	return sha256.Sum256(b[:])
}

// dg returns a test digest for version v of key i.
func dg(i, v uint64) Digest {
	var b [17]byte
	b[0] = 'v'
	binary.BigEndian.PutUint64(b[1:], i)
	binary.BigEndian.PutUint64(b[9:], v)
	return sha256.Sum256(b[:])
}

// tb is what session needs of testing.TB and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// session runs a whole reconciliation between a (initiator) and b
// (responder), passing every message through its binary encoding.
func session(t tb, ca Config, a *MemState, cb Config, b *MemState) (Result, Result) {
	t.Helper()
	ini, err := NewInitiator(ca, a.Tree, a.Index)
	if err != nil {
		t.Fatal(err)
	}
	res, err := NewResponder(cb, b.Tree, b.Index)
	if err != nil {
		t.Fatal(err)
	}
	req, err := ini.Start()
	if err != nil {
		t.Fatal(err)
	}
	for req != nil {
		wire, err := req.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Request
		if err := got.UnmarshalBinary(wire, 1<<20); err != nil {
			t.Fatal(err)
		}
		if req.Coded != nil {
			cw, _ := req.Coded.MarshalBinary()
			got.Coded = &CodedRequest{}
			if err := got.Coded.UnmarshalBinary(cw, 1<<20); err != nil {
				t.Fatal(err)
			}
			wire = append(wire, cw...)
		}
		if len(wire) != req.Size() {
			t.Fatalf("request size %d, encoded %d", req.Size(), len(wire))
		}
		resp, err := res.Handle(&got)
		if err != nil {
			t.Fatal(err)
		}
		if resp == nil {
			if !got.Done && !got.FullSync {
				t.Fatal("responder returned no response to a request that does not end the session")
			}
			break
		}
		wire, err = resp.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Response
		if err := back.UnmarshalBinary(wire, 1<<20); err != nil {
			t.Fatal(err)
		}
		if resp.Coded != nil {
			cw, _ := resp.Coded.MarshalBinary()
			back.Coded = &CodedResponse{}
			if err := back.Coded.UnmarshalBinary(cw, 1<<20); err != nil {
				t.Fatal(err)
			}
			wire = append(wire, cw...)
		}
		if len(wire) != resp.Size() {
			t.Fatalf("response size %d, encoded %d", resp.Size(), len(wire))
		}
		req, err = ini.Step(&back)
		if err != nil {
			t.Fatal(err)
		}
	}
	if !ini.Done() || !res.Done() {
		t.Fatalf("session not done: initiator %v responder %v", ini.Done(), res.Done())
	}
	return ini.Result(), res.Result()
}
