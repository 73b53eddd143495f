package pgstore

import "errors"

var (
	// ErrCorrupt marks stored data that cannot be decoded or whose content
	// hash does not match its ID. The error text names the row.
	ErrCorrupt = errors.New("pgstore: corrupt store")
	// ErrLocked marks a schema that another open Store holds.
	ErrLocked = errors.New("pgstore: schema locked by another store")
	// ErrIncompatible marks a schema written in another format version.
	ErrIncompatible = errors.New("pgstore: incompatible store format")
)
