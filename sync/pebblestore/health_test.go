package pebblestore

import (
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/murmur-p2p/murmur/sync/replica"
	"github.com/murmur-p2p/murmur/sync/storetest"
)

// spaceFS is a file system whose free space the test sets.
type spaceFS struct {
	vfs.FS
	avail atomic.Uint64
}

func (f *spaceFS) GetDiskUsage(string) (vfs.DiskUsage, error) {
	a := f.avail.Load()
	return vfs.DiskUsage{AvailBytes: a, TotalBytes: 1 << 30, UsedBytes: 1<<30 - a}, nil
}

func TestFullDiskRefusesWritesThenRecovers(t *testing.T) {
	fs := &spaceFS{FS: vfs.NewMem()}
	fs.avail.Store(1 << 30)
	s, err := Open("/db", Options{FS: fs, MinFreeBytes: 1 << 20})
	must(t, err)
	defer s.Close()
	w := storetest.NewWriter("origin-a")
	must(t, s.Apply(w.Put("k1", []byte("v1"))))

	fs.avail.Store(4096)
	b2 := w.Put("k2", []byte("v2"))
	err = s.Apply(b2)
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "disk full: 4096 bytes free in /db") {
		t.Fatalf("Apply on a full disk: got %v, want ErrDiskFull naming the free bytes and directory", err)
	}
	// Nothing of the refused batch is visible; reads go on.
	if _, err := s.KeyState("k2"); !errors.Is(err, replica.ErrNotFound) {
		t.Fatalf("k2 after a refused batch: %v, want not found", err)
	}
	if ks, err := s.KeyState("k1"); err != nil || string(ks.Versions[0].Value) != "v1" {
		t.Fatalf("read k1 on a full disk: %v %v", ks, err)
	}
	if vv, _ := s.VersionVector(); vv["origin-a"] != 1 {
		t.Fatalf("version vector after a refused batch: %v", vv)
	}

	fs.avail.Store(1 << 30) // space returns: the same batch goes in
	must(t, s.Apply(b2))
	if ks, err := s.KeyState("k2"); err != nil || string(ks.Versions[0].Value) != "v2" {
		t.Fatalf("k2 after space returned: %v %v", ks, err)
	}
}

func TestOpenOnFullDiskFailsWithTheCause(t *testing.T) {
	fs := &spaceFS{FS: vfs.NewMem()}
	fs.avail.Store(1000)
	_, err := Open("/db", Options{FS: fs, MinFreeBytes: 1 << 20})
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "disk full: 1000 bytes free in /db") {
		t.Fatalf("Open on a full disk: %v", err)
	}
}

// TestWALWriteErrorIsRefusedNotFatal injects "no space left on device" into
// the write-ahead log as Pebble writes a batch: Pebble calls that fatal. The
// process must go on, the write must be refused (never acknowledged),
// reads must keep working, and a reopened store must not hold the batch.
func TestWALWriteErrorIsRefusedNotFatal(t *testing.T) {
	mem := vfs.NewMem()
	var failing atomic.Bool
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if failing.Load() && strings.HasSuffix(op.Path, ".log") &&
			(op.Kind == errorfs.OpFileWrite || op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData) {
			return &os.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
		}
		return nil
	})
	s, err := Open("/db", Options{FS: errorfs.Wrap(mem, inj)})
	must(t, err)
	w := storetest.NewWriter("origin-a")
	must(t, s.Apply(w.Put("k1", []byte("v1"))))

	failing.Store(true)
	err = s.Apply(w.Put("k2", []byte("v2")))
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("Apply with the WAL failing: got %v, want ErrDiskFull", err)
	}
	if vv, _ := s.VersionVector(); vv["origin-a"] != 1 {
		t.Fatalf("version vector counts a batch that failed: %v", vv)
	}
	if ks, err := s.KeyState("k1"); err != nil || string(ks.Versions[0].Value) != "v1" {
		t.Fatalf("read k1 after the failure: %v %v", ks, err)
	}
	// Later writes are refused too (Pebble's commit pipeline is broken).
	if err := s.Apply(w.Put("k3", []byte("v3"))); err == nil {
		t.Fatal("Apply after a fatal WAL error succeeded")
	}
	failing.Store(false)
	closeErr := make(chan error, 1)
	go func() { closeErr <- s.Close() }()
	<-closeErr // must return; its error may name the WAL failure
	s2, err := Open("/db", Options{FS: mem})
	must(t, err)
	defer s2.Close()
	if vv, _ := s2.VersionVector(); vv["origin-a"] != 1 {
		t.Fatalf("reopened store: version vector %v, want origin-a at 1", vv)
	}
	if _, err := s2.KeyState("k1"); err != nil {
		t.Fatalf("reopened store lost k1: %v", err)
	}
}

// A read-only directory is reported as such, first, not as a store "in use
// by another process".
func TestOpenReadOnlyNamesTheCause(t *testing.T) {
	mem := vfs.NewMem()
	must(t, mem.MkdirAll("/db", 0o755))
	rofs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if (op.Kind.ReadOrWrite() == errorfs.OpIsWrite && op.Kind != errorfs.OpMkdirAll) || op.Kind == errorfs.OpLock {
			return &os.PathError{Op: "open", Path: op.Path, Err: syscall.EROFS}
		}
		return nil
	}))
	_, err := Open("/db", Options{FS: rofs})
	if err == nil {
		t.Fatal("Open on a read-only file system succeeded")
	}
	msg := err.Error()
	if !errors.Is(err, ErrNotWritable) || !strings.HasPrefix(msg, "store directory not writable: /db is on a read-only file system") ||
		strings.Contains(msg, "in use") {
		t.Fatalf("Open on a read-only file system: %q", msg)
	}
}

// A flush that keeps failing on a full disk is retried by Pebble at once;
// the store's backoff keeps that from spinning a core (the daemon logged
// about 1,500 background errors a second before).
func TestFailingFlushBacksOff(t *testing.T) {
	mem := vfs.NewMem()
	var failing atomic.Bool
	inj := errorfs.InjectorFunc(func(op errorfs.Op) error {
		if failing.Load() && strings.HasSuffix(op.Path, ".sst") && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return &os.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
		}
		return nil
	})
	s, err := Open("/db", Options{FS: errorfs.Wrap(mem, inj)})
	must(t, err)
	w := storetest.NewWriter("origin-a")
	must(t, s.Apply(w.Put("k1", []byte("v1"))))
	failing.Store(true)
	if _, err := s.db.AsyncFlush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.health.bgErrors.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the failing flush reported no background error")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start, t0 := s.health.bgErrors.Load(), time.Now()
	time.Sleep(2 * time.Second)
	n := s.health.bgErrors.Load() - start
	if rate := float64(n) / time.Since(t0).Seconds(); rate > 20 {
		t.Fatalf("%d background errors in %s: Pebble's retries are not backed off", n, time.Since(t0))
	}
	if ks, err := s.KeyState("k1"); err != nil || string(ks.Versions[0].Value) != "v1" {
		t.Fatalf("read during failing flushes: %v %v", ks, err)
	}
	failing.Store(false)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close hangs after failing flushes")
	}
}
