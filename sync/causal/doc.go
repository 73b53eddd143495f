// Package causal holds murmur's causality rules as pure functions over
// plain values: version vectors, dots, the comparison of two writes, the
// dotted version vector set of one key (apply and join), the evidence rule
// that decides which of a peer's claims may remove a version, and the
// garbage-collection predicate. It imports nothing of murmur and does no
// I/O, so its laws can be checked by property tests (rapid): join is
// commutative, associative and idempotent, and applying writes in any
// order gives the join of the states that applied them separately.
//
// The engine (sync/replica) keeps its own types for versions and events
// and maps them to the values here.
//
// # Evidence
//
// Everything a peer sends is a claim. The rules here distinguish what a
// node knows (writes it applied; a Set's Context is built only from them)
// from what a peer says (its vectors and contexts). A version is removed
// from a set only by a write whose own signed context covers it (JoinSets
// takes the peer's writes, never its context), and a write is applied only
// when its context is backed: every dot it claims to have seen is covered
// by what the node holds (Backed). Vectors from peers are hints that make a
// node ask for events; they never delete, raise or skip anything by
// themselves.
package causal
