package pebblestore

import "errors"

var (
	// ErrCorrupt marks data that fails a checksum or cannot be decoded.
	// The error text names the record or file; the store is not repaired.
	ErrCorrupt = errors.New("pebblestore: corrupt store")
	// ErrLocked marks a store directory that another process (or another
	// Store in this process) has open.
	ErrLocked = errors.New("pebblestore: store directory locked")
	// ErrIncompatible marks a store written in another format version.
	ErrIncompatible = errors.New("pebblestore: incompatible store format")
	// ErrDiskFull marks a write refused, or a store not opened, because its
	// file system has less than Options.MinFreeBytes free (or reported no
	// space left). The text goes on "N bytes free in DIR". Writes resume by
	// themselves once space is freed.
	ErrDiskFull = errors.New("disk full")
	// ErrNotWritable marks a store directory that does not take writes
	// (read-only file system, permissions); the text names the cause.
	ErrNotWritable = errors.New("store directory not writable")
	// ErrStoreFailed marks writes refused after Pebble reported a fatal
	// error (an I/O error in its commit pipeline); reads keep working and a
	// restart reopens the store.
	ErrStoreFailed = errors.New("store failed")
)
