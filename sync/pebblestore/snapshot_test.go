package pebblestore

import (
	"math/rand/v2"
	"testing"

	"github.com/murmur-p2p/murmur/sync"
	"github.com/murmur-p2p/murmur/sync/merkle"
	"github.com/murmur-p2p/murmur/sync/snapshot"
)

// streamSnapshot copies src's state into dst chunk by chunk, through the
// wire encoding, and returns the chunks and bytes sent.
func streamSnapshot(t testing.TB, src, dst *Store, cfg snapshot.Config) (chunks, bytes int) {
	r := snapshot.NewReceiver(snapshot.Cursor{}, cfg)
	total := src.MerkleTree().Root().Count
	for !r.Done() {
		c, err := snapshot.Next(src.SnapshotSource(), r.Cursor(), r.Progress(), total, cfg)
		must(t, err)
		b, err := c.MarshalBinary()
		must(t, err)
		chunks, bytes = chunks+1, bytes+len(b)
		var got snapshot.Chunk
		must(t, got.UnmarshalBinary(b, cfg))
		must(t, r.Accept(&got, func(items []snapshot.Item) error {
			batch := &sync.Batch{}
			for _, it := range items {
				ks, err := DecodeKeyState(it.Key, it.Value)
				if err != nil {
					return err
				}
				batch.Keys = append(batch.Keys, ks)
			}
			return dst.Apply(batch)
		}))
	}
	if p := r.Progress(); p.KeysDone != total || p.Fraction() != 1 {
		t.Fatalf("progress %+v for %d keys", p, total)
	}
	return chunks, bytes
}

// TestSnapshotIntoEmptyStore: a store that installs another's snapshot
// ends with the same state and the same Merkle root, so anti-entropy then
// finds them in sync.
func TestSnapshotIntoEmptyStore(t *testing.T) {
	src, err := Open(t.TempDir(), Options{MerkleDepth: 8})
	must(t, err)
	defer src.Close()
	for _, b := range batchSeq(rand.New(rand.NewPCG(9, 9)), 60, 20) {
		must(t, src.Apply(b))
	}
	dst, err := Open(t.TempDir(), Options{MerkleDepth: 8})
	must(t, err)
	defer dst.Close()
	chunks, _ := streamSnapshot(t, src, dst, snapshot.Config{MaxChunkBytes: 4096})
	if chunks < 5 {
		t.Fatalf("only %d chunks of 4 KiB", chunks)
	}
	if src.MerkleTree().Root() != dst.MerkleTree().Root() {
		t.Fatal("roots differ after the snapshot")
	}
	ini, _ := merkle.NewInitiator(merkle.DefaultConfig(), dst.MerkleTree(), dst.MerkleSource())
	res, _ := merkle.NewResponder(merkle.DefaultConfig(), src.MerkleTree(), src.MerkleSource())
	req, _ := ini.Start()
	resp, err := res.Handle(req)
	must(t, err)
	if _, err := ini.Step(resp); err != nil || !ini.Result().InSync {
		t.Fatalf("anti-entropy after the snapshot: in sync %v, %v", ini.Result().InSync, err)
	}
	must(t, dst.Verify())
}
