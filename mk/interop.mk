# make test-interop: murmur daemons against kubo (built from a pinned release
# against murmur's go-libp2p) and js-libp2p 3.x on Node 22 (from npm); see
# testnet/interop/run.sh for the checks. Needs go and npm; a missing tool
# fails. TESTNET_BASE_PORT picks the 50 loopback ports it uses (default 4600).
.PHONY: test-interop
test-interop: build
	testnet/interop/run.sh
