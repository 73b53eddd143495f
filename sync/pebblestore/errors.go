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
)
