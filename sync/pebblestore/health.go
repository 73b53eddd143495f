package pebblestore

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// DefaultMinFreeBytes is Options.MinFreeBytes when it is zero: 64 MiB, room
// for Pebble to flush its memtables (4 MiB each) and finish a compaction of
// a small store after the last write was accepted, so a full disk is met
// by the store's own refusal rather than by a failed write inside Pebble.
const DefaultMinFreeBytes = 64 << 20

// probeFile is the file Open writes, syncs and removes to find out that the
// directory takes writes before anything else is written there.
const probeFile = "WRITE-PROBE"

// health decides whether the store takes writes. A write is refused while
// the file system has less than minFree bytes available, or once Pebble
// reported a fatal error (its commit pipeline is then unusable; the process
// keeps running and serving reads). It also keeps Pebble's background
// errors (a flush or compaction failing on a full disk, which Pebble
// retries at once) from filling the log and spinning a core.
type health struct {
	dir     string
	fs      vfs.FS
	minFree uint64

	// fatal holds the first error Pebble called fatal.
	fatal atomic.Pointer[error]

	// bgErrors counts Pebble's background errors.
	bgErrors atomic.Uint64

	bgMu         sync.Mutex
	bgRun        int       // background errors in a row
	bgLast       time.Time // when the last one came
	bgLogged     time.Time // when one was last logged
	bgSuppressed int       // errors not logged since bgLogged
}

// maxBackgroundBackoff is the longest a background error delays Pebble's
// retry; it bounds how long Close can wait behind it.
const maxBackgroundBackoff = time.Second

// writable returns nil if a write may go to Pebble now, else an error
// wrapping ErrDiskFull or ErrStoreFailed that says why.
func (h *health) writable() error {
	if p := h.fatal.Load(); p != nil {
		if errors.Is(*p, ErrDiskFull) {
			return *p
		}
		return fmt.Errorf("%w: %v (writes are refused until the node restarts)", ErrStoreFailed, *p)
	}
	return h.space()
}

// space checks the free space of the store's file system.
func (h *health) space() error {
	du, err := h.fs.GetDiskUsage(h.dir)
	if err != nil {
		// The file system cannot say (an in-memory one); writes decide.
		return nil
	}
	if du.AvailBytes < h.minFree {
		return fmt.Errorf("%w: %d bytes free in %s (writes resume above %d)", ErrDiskFull, du.AvailBytes, h.dir, h.minFree)
	}
	return nil
}

// probe writes, syncs and removes a small file in the directory, so a
// read-only or full file system is reported by its real cause before
// Pebble or the lock file meet it.
func (h *health) probe() error {
	name := h.fs.PathJoin(h.dir, probeFile)
	f, err := h.fs.Create(name, vfs.WriteCategoryUnspecified)
	if err == nil {
		_, err = f.Write([]byte("murmur\n"))
		if serr := f.Sync(); err == nil {
			err = serr
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if rerr := h.fs.Remove(name); err == nil {
			err = rerr
		}
	}
	if err == nil {
		return nil
	}
	return writeError(h.dir, err)
}

// writeError names the cause of a failed write in dir first.
func writeError(dir string, err error) error {
	switch {
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%w: %s is on a read-only file system: %v", ErrNotWritable, dir, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: %s: permission denied: %v", ErrNotWritable, dir, err)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: no space left in %s: %v", ErrDiskFull, dir, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrNotWritable, dir, err)
}

// setFatal records a fatal Pebble error (the first one wins).
func (h *health) setFatal(err error) {
	h.fatal.CompareAndSwap(nil, &err)
}

// backgroundError logs a background error of Pebble (rate-limited: the first
// of a run, then a summary at most every 10 s) and delays the caller, which
// is Pebble's flush or compaction goroutine about to retry at once,
// doubling the delay from 10 ms to maxBackgroundBackoff over a run.
func (h *health) backgroundError(err error) {
	h.bgErrors.Add(1)
	h.bgMu.Lock()
	now := time.Now()
	if now.Sub(h.bgLast) > 2*maxBackgroundBackoff+time.Second {
		h.bgRun = 0
	}
	h.bgRun++
	h.bgLast = now
	run := h.bgRun
	logNow := run == 1 || now.Sub(h.bgLogged) >= 10*time.Second
	suppressed := h.bgSuppressed
	if logNow {
		h.bgLogged, h.bgSuppressed = now, 0
	} else {
		h.bgSuppressed++
	}
	h.bgMu.Unlock()
	if logNow {
		if suppressed > 0 {
			log.Errorf("pebblestore %s: background error (%d more since the last report): %v", h.dir, suppressed, err)
		} else {
			log.Errorf("pebblestore %s: background error: %v", h.dir, err)
		}
	}
	delay := 10 * time.Millisecond << min(run-1, 7)
	time.Sleep(min(delay, maxBackgroundBackoff))
}

// pebbleLogger is Pebble's logger: go-log, except that Fatalf records the
// error (writes are refused from then on) instead of ending the process.
type pebbleLogger struct{ h *health }

func (l pebbleLogger) Infof(format string, args ...any)  { log.Infof(format, args...) }
func (l pebbleLogger) Errorf(format string, args ...any) { log.Errorf(format, args...) }

// Fatalf records the error. The write that hit it is refused by Apply;
// reads go on.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	log.Errorf("pebblestore %s: fatal: %s", l.h.dir, msg)
	err := errors.New(msg)
	for _, a := range args {
		if e, ok := a.(error); ok && (errors.Is(e, syscall.ENOSPC) || errors.Is(e, syscall.EDQUOT)) {
			err = fmt.Errorf("%w: %s: %s", ErrDiskFull, l.h.dir, msg)
		}
	}
	l.h.setFatal(err)
}
