# make bench-store: the durable store, Merkle anti-entropy with its coded fast
# path (issues 4 and 15; see docs/benchmarks.md, "Store, anti-entropy and
# snapshot"). Store writes are fsynced to the disk under TMPDIR. The
# 1,000,000-key benchmarks run only here (under -bench), never in go test.
BENCH_STORE_FLAGS ?=

.PHONY: bench-store
bench-store:
	$(GO) test -run '^$$' -bench 'AntiEntropy|FullSyncDecision' -benchtime 3x -benchmem $(BENCH_STORE_FLAGS) ./sync/merkle/
	$(GO) test -run '^$$' -bench 'TreeUpdate' -benchmem $(BENCH_STORE_FLAGS) ./sync/merkle/
	$(GO) test -run '^$$' -bench 'Decode|SketchUpdate' -benchmem $(BENCH_STORE_FLAGS) ./sync/riblt/
	$(GO) test -run '^$$' -bench 'Apply' -benchtime 2s -benchmem $(BENCH_STORE_FLAGS) ./sync/pebblestore/
