// Package pebblestore is murmur's on-disk store: an implementation of
// sync.Store on Pebble (github.com/cockroachdb/pebble/v2).
//
// One Pebble database holds the event log, the key/value state, an index of
// the keys by KeyHash with each key's state digest, the leaves of the
// anti-entropy Merkle tree, the version vector, the HLC high-water mark and
// metadata. Apply writes all parts of a sync.Batch, including the Merkle
// leaves it changes, in one Pebble batch committed with pebble.Sync, so a
// batch is on disk before Apply returns and a crash leaves either all of it
// or none. Every record carries a CRC-32C over its key and value, checked on
// every read, on top of Pebble's own block and WAL checksums; corruption is
// reported as an error wrapping ErrCorrupt that names the record or file,
// never repaired by resetting. Pebble locks the directory, so a second
// process (or a second Open in the same process) gets ErrLocked.
//
// The Merkle tree lives in memory (merkle.Tree, 2^Depth leaves) and is
// updated inside Apply; Open loads it from the persisted leaves instead of
// rescanning the state. Verify rescans everything and checks it.
package pebblestore
