# make bench-net: pushpull against gossipsub dissemination on real nodes:
# 10 and 50 hosts on loopback, 200 in-process hosts on mocknet (30..70 ms
# links, 1% of received messages dropped). See docs/benchmarks.md,
# "Dissemination on the network". BENCH_NET_FLAGS passes flags, e.g.
# BENCH_NET_FLAGS='-settings loopback-10 -writes 30'.
BENCH_NET_FLAGS ?=

.PHONY: bench-net
bench-net:
	$(GO) run ./testnet/netbench $(BENCH_NET_FLAGS)
