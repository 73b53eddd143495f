// Package snapshot streams a whole key/value state in chunks, for a node
// that joins empty or whose anti-entropy found too many differing leaves
// (merkle.Result.FullSync).
//
// The sender is stateless: Next reads the items after a cursor (the last
// key sent) from a Source (the state in key order) and returns a chunk of
// at most Config.MaxChunkBytes. The receiver keeps a Receiver, which checks that
// each chunk continues exactly where the previous one ended, and hands the
// items to the caller to merge into its store; its Cursor is the resume
// point (persist it with the merged items, and after a restart ask the
// sender for the chunk after it). Both ends report Progress.
//
// A snapshot is not a point-in-time copy: the sender's state may change
// while it streams. That is sound for murmur's state, which is merged by
// causality: an item sent before a later write is superseded when that write
// arrives by gossip or the next anti-entropy round.
//
// Values are opaque here: the caller encodes a key's state (for example
// with pebblestore.EncodeKeyState). The package imports nothing from murmur.
package snapshot
