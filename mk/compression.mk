# make bench-compression: frame compression (compression: snappy | zstd) of a
# 100-event Push with JSON values and with random values: wire size as a
# share of the plain frame (ratio) and CPU per frame, compressing and
# decompressing. See docs/benchmarks.md, "Frame compression".
.PHONY: bench-compression
bench-compression:
	$(GO) test -run '^$$' -bench 'Compression' -benchmem ./protocol/
