// Package pb holds murmur's protobuf wire messages, generated from
// murmur.proto by `make proto`. Other packages use protocol's conversion
// functions rather than these types directly; docs/protocol.md specifies them.
package pb
