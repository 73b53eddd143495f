// Package security holds murmur's trust machinery: the node's persisted
// Ed25519 identity, event signing and verification with libp2p keys, and the
// gating and rate limits that keep misbehaving peers out.
//
// The identity key lives in the node's data directory (IdentityFileName) with
// mode 0600. LoadOrCreateIdentity creates it on first start and refuses,
// with an error that names the file, anything it cannot trust afterwards: an
// empty, truncated or corrupt file, a key of another type, or a file that
// other users can read.
package security
