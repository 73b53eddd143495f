// Package merkle is murmur's anti-entropy structure: an incrementally
// updated hash tree over the key/value state and a reconciliation protocol
// that finds exactly which keys two trees disagree on.
//
// The tree has Depth levels below the root over the key-hash space: leaf i
// covers every key whose KeyHash (sha256 of the key) starts with the Depth
// bits of i, so a leaf is a bucket of key hashes and every node covers one
// contiguous KeyHash range. A node stores the number of entries under it and
// the lane-wise sum (mod 2^64, four 64-bit lanes) of their entry hashes, where
// an entry is a (KeyHash, Digest) pair and Digest is the caller's digest of
// that key's replicated state. Because the node value is a sum, a write
// changes one leaf and its Depth ancestors by adding and subtracting one
// entry hash: updates are O(Depth), never a rebuild, and any order of the
// same writes gives the same tree. Below the leaves the same definition
// continues over longer KeyHash prefixes; those nodes are computed on demand
// from a Source that lists entries in KeyHash order (a store index).
//
// Reconciliation is a request/response exchange between an Initiator and a
// Responder, each holding its own Tree and Source. The initiator compares
// root hashes, then asks the responder for the hashes of the descendants of
// the nodes that still differ, several levels per round trip while many
// nodes differ and a few levels per round trip once differences are
// isolated. The exchange ends with a list of Ranges (KeyHash prefixes) that
// hold all differing entries and little else; each side then sends the
// other its entries in those ranges, which the receiver merges by the
// causality rules. If too large a fraction of leaves differ (Config.
// FullSyncThreshold) the result says FullSync and the caller streams a
// snapshot instead.
//
// Everything here is deterministic and does no I/O except through the
// Source it is given. The package imports nothing from murmur.
package merkle
