# make bench-order: the global order of issue 12 (see docs/benchmarks.md,
# "Global order"): commit latency of an ordered event on three voters
# (p50/p99), and the time a new follower takes to catch up after 100,000
# ordered events. In-process nodes on real libp2p hosts over loopback.
BENCH_ORDER_FLAGS ?=

.PHONY: bench-order
bench-order:
	$(GO) test -run '^$$' -bench 'OrderCommitLatency|OrderFollowerCatchUp' -benchtime 1x -timeout 30m $(BENCH_ORDER_FLAGS) ./p2pnode/
