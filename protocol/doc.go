// Package protocol defines murmur's wire protocols: the libp2p protocol IDs,
// the protobuf messages exchanged on them, length-prefixed framing with size
// limits checked before allocation, and the stream handlers and clients that
// carry sync engine messages between hosts.
package protocol
