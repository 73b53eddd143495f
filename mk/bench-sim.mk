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

# make bench-sim-steady: the steady-state table (issue 11): 10 writes per run,
# 1 s apart, the first at node 0 (cold), the rest from origins drawn from the
# seed (warm), over links with a fixed latency each; every row beside the
# eager-push lower bound (shortest path over the overlay to the farthest
# node). See docs/benchmarks.md, "Steady state and the eager-push bound".
BENCH_SIM_STEADY_FLAGS ?= -writes 10 -fixed-links -seeds 3

.PHONY: bench-sim-steady bench-sim-100k
bench-sim-steady:
	$(GO) run ./testnet/sim $(BENCH_SIM_STEADY_FLAGS) $(BENCH_SIM_FLAGS)

# make bench-sim-100k: the same at N = 100,000 (one seed, no loss, 5 writes),
# printing the heap in use per simulated node after setup, the peak RSS and
# the wall time. About 14 GB peak RSS and 8-11 minutes; not part of make test.
bench-sim-100k:
	$(GO) run ./testnet/sim -nodes 100000 -loss 0 -seeds 1 -writes 5 -fixed-links -mem $(BENCH_SIM_FLAGS)
