// Package sync is murmur's replication engine: a deterministic state machine
// that replicates signed events and the key/value state derived from them.
package sync
