# make bench-sim: the sync engine's one-write dissemination benchmark in the
# simulator (N = 100, 1,000, 10,000; fanout 3; loss 0/5/20%); see
# docs/benchmarks.md. BENCH_SIM_FLAGS passes options to testnet/sim
# (e.g. BENCH_SIM_FLAGS="-seeds 3 -nodes 100,1000").
BENCH_SIM_FLAGS ?=

.PHONY: bench-sim
bench-sim:
	$(GO) run ./testnet/sim $(BENCH_SIM_FLAGS)

# ... then the anti-entropy join table: an empty node joins after 10,000
# (and 50,000) writes and catches up by snapshot (testnet/simjoin).
bench-sim: bench-sim-join
.PHONY: bench-sim-join
bench-sim-join:
	$(GO) run ./testnet/simjoin
