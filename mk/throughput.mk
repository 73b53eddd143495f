# make bench-write: what one write costs and waits for (docs/benchmarks.md,
# "Per-write cost"): the latency floor of this disk and machine
# (testnet/latfloor: fsync, Pebble sync, Ed25519, Node.Put, loopback HTTP),
# the engine's write paths in process (CPU per event), the store's CPU with
# and without the coded sketch, then 3 real daemons under single puts, under
# 100-put batches (POST /v1/kv) and under one writer (1 and 3 nodes). Ports
# from TESTNET_BASE_PORT (default 4200). Not part of make test.
BENCH_WRITE_PORT ?= $(or $(TESTNET_BASE_PORT),4200)

.PHONY: bench-write
bench-write:
	$(GO) build -o bin/murmur ./cmd/murmur
	$(GO) run ./testnet/latfloor -n 2000
	$(GO) test -run '^$$' -bench 'NodeReceive' -benchtime 500x ./sync/replica/
	$(GO) test -run '^$$' -bench 'NodeConcurrentPuts' -benchtime 20000x ./sync/replica/
	$(GO) test -run '^$$' -bench 'WriteCPU' -benchtime 300x ./sync/pebblestore/
	$(GO) run ./testnet/loadbench -murmur bin/murmur -base-port $(BENCH_WRITE_PORT) -nodes 3 -writers 64 -writes 20000 -etcd ''
	$(GO) run ./testnet/loadbench -murmur bin/murmur -base-port $(BENCH_WRITE_PORT) -nodes 3 -writers 16 -writes 40000 -batch 100 -etcd ''
	$(GO) run ./testnet/loadbench -murmur bin/murmur -base-port $(BENCH_WRITE_PORT) -nodes 1,3 -writers 1 -writes 2000 -etcd ''
