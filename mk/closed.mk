# make testnet-closed: the testnet check (testnet/run.sh) on a closed
# network: a private network key and member certificates, set up by
# testnet/up.sh with TESTNET_CLOSED=1. Uses ports TESTNET_BASE_PORT.. (4400).
.PHONY: testnet-closed
testnet-closed: build
	TESTNET_CLOSED=1 TESTNET_EXIT=1 TESTNET_DIR=$(CURDIR)/testnet/data-closed TESTNET_BASE_PORT=$${TESTNET_BASE_PORT:-4400} testnet/run.sh 5
