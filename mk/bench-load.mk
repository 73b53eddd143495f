# make bench-load: murmur under write load, real daemons (3 and 5) on
# loopback against a 3-node etcd cluster (Debian's etcd-server, installed
# with apt-get when missing) under the same HTTP writers, in the same run:
# 64 writers, then one writer. Ports from TESTNET_BASE_PORT (default 4200).
# See docs/benchmarks.md, "Under load". BENCH_LOAD_FLAGS passes flags to
# testnet/loadbench, e.g. BENCH_LOAD_FLAGS='-writes 20000 -spread'.
#
# make bench-soak: 10 minutes at a paced rate (SOAK_RATE writes/s, default
# 500: about half of this shared machine's 3-node capacity) on 3 nodes, over
# 10,000 keys (the data stops growing, so memory must stay flat), printing
# every node's RSS each 30 s and the lag, loss, peers and bans at the end. Not part of make test.
BENCH_LOAD_FLAGS ?=
SOAK_RATE ?= 500
BENCH_LOAD_PORT ?= $(or $(TESTNET_BASE_PORT),4200)

.PHONY: bench-load bench-soak etcd-server
etcd-server:
	@command -v etcd >/dev/null || apt-get install -y etcd-server

bench-load: etcd-server
	$(GO) build -o bin/murmur ./cmd/murmur
	$(GO) run ./testnet/loadbench -murmur bin/murmur -base-port $(BENCH_LOAD_PORT) -nodes 3,5 -writers 64 -writes 10000 $(BENCH_LOAD_FLAGS)
	$(GO) run ./testnet/loadbench -murmur bin/murmur -base-port $(BENCH_LOAD_PORT) -nodes 3 -writers 1 -writes 1000 $(BENCH_LOAD_FLAGS)

bench-soak:
	$(GO) build -o bin/murmur ./cmd/murmur
	$(GO) run ./testnet/loadbench -murmur bin/murmur -base-port $(BENCH_LOAD_PORT) -nodes 3 -writers 16 -etcd '' -rate $(SOAK_RATE) -duration 10m -keys 10000 -rss-every 30s -lag-timeout 60s $(BENCH_LOAD_FLAGS)
