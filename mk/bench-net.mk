# make bench-net: pushpull against gossipsub dissemination on real nodes:
# 10 and 50 hosts on loopback, 200 in-process hosts on mocknet (30..70 ms
# links, 1% of received messages dropped), writes paced to half the
# machine's cores, CPU per write and a shortest-path lower bound printed
# beside the latencies. See docs/benchmarks.md, "Dissemination on the
# network". BENCH_NET_FLAGS passes flags, e.g.
# BENCH_NET_FLAGS='-settings loopback-10 -writes 30' (go run ./testnet/netbench -h lists them).
BENCH_NET_FLAGS ?=

.PHONY: bench-net
bench-net:
	$(GO) run ./testnet/netbench $(BENCH_NET_FLAGS)
