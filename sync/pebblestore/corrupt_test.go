package pebblestore

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/murmur-p2p/murmur/sync/storetest"
)

// TestCorruptRecordIsReported: a value whose bytes changed under Pebble's
// checksums (written back through Pebble, as a bug or a bad disk
// controller would) fails the record checksum, naming the key.
func TestCorruptRecordIsReported(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{MerkleDepth: 8})
	must(t, err)
	w := storetest.NewWriter("o")
	must(t, s.Apply(w.Put("victim", []byte("value"))))
	must(t, s.Apply(w.Put("other", []byte("value"))))
	must(t, s.Close())

	db, err := pebble.Open(dir, &pebble.Options{})
	must(t, err)
	v, closer, err := db.Get(keyKey("victim"))
	must(t, err)
	bad := append([]byte(nil), v...)
	_ = closer.Close()
	bad[len(bad)/2] ^= 0x40
	must(t, db.Set(keyKey("victim"), bad, pebble.Sync))
	must(t, db.Close())

	s, err = Open(dir, Options{MerkleDepth: 8})
	must(t, err)
	defer s.Close()
	_, err = s.KeyState("victim")
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `key "victim"`) || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("reading the corrupt key: %v", err)
	}
	if _, err := s.KeyState("other"); err != nil {
		t.Fatalf("a healthy key next to the corrupt one: %v", err)
	}
	if err := s.Verify(); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "victim") {
		t.Fatalf("Verify: %v", err)
	}
}

// TestCorruptTableIsReported flips bytes in the middle of an sstable; the
// damage is reported (by Open or by Verify) as ErrCorrupt naming the
// directory, never read back as data or ignored.
func TestCorruptTableIsReported(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{MerkleDepth: 8})
	must(t, err)
	for _, b := range storetest.BatchSeq(rand.New(rand.NewPCG(5, 5)), 200, 20) {
		must(t, s.Apply(b))
	}
	must(t, s.db.Flush())
	must(t, s.Close())

	tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	var biggest string
	var size int64
	for _, p := range tables {
		if fi, err := os.Stat(p); err == nil && fi.Size() > size {
			biggest, size = p, fi.Size()
		}
	}
	if biggest == "" {
		t.Fatal("no sstable after a flush")
	}
	data, err := os.ReadFile(biggest)
	must(t, err)
	for i := size / 3; i < size/3+16; i++ {
		data[i] ^= 0xff
	}
	must(t, os.WriteFile(biggest, data, 0o644))

	s, err = Open(dir, Options{MerkleDepth: 8})
	if err == nil {
		err = s.Verify()
		_ = s.Close()
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("store with a damaged table: %v", err)
	}
	t.Log(err)
}

// TestDamagedLogIsReported flips bytes in the middle of the write-ahead
// log of a store that crashed before flushing. Pebble's replay stops at the
// damage; the watermark check reports the acknowledged batches that were
// lost instead of opening a store that silently forgot them.
func TestDamagedLogIsReported(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{MerkleDepth: 8})
	must(t, err)
	for _, b := range storetest.BatchSeq(rand.New(rand.NewPCG(6, 6)), 50, 5) {
		must(t, s.Apply(b))
	}
	// Crash: drop the store without Close (the database is closed only to
	// release its files; Pebble's Close does not flush memtables).
	must(t, s.db.Close())
	must(t, s.lock.Close())
	_ = s.wm.f.Close()

	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(logs) == 0 {
		t.Fatal("no write-ahead log")
	}
	data, err := os.ReadFile(logs[len(logs)-1])
	must(t, err)
	if len(data) < 4096 {
		t.Fatalf("log of %d bytes", len(data))
	}
	data[len(data)/3] ^= 0xff
	must(t, os.WriteFile(logs[len(logs)-1], data, 0o644))

	_, err = Open(dir, Options{MerkleDepth: 8})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "was acknowledged") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("open with a damaged log: %v", err)
	}
	t.Log(err)
}
