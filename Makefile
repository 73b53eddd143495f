# murmur's Makefile: its targets are the documentation of how to work.
#   make testnet   5 local daemons that find each other; Ctrl-C stops them
#                  (TESTNET_EXIT=1: exit after the check, 0 if it passed)
#   make test      unit, property, simulator and integration tests, then a
#                  testnet smoke check
#   make build     bin/murmur
#   make lint      go mod tidy check, gofmt, go vet, and staticcheck when the module proxy serves it
#   make fuzz      run every fuzz target for FUZZTIME each

GO          ?= go
BIN         := bin/murmur
PKGS        := ./...
TEST_FLAGS  ?= -timeout 9m
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 20s
# The version murmur reports (murmur version, the libp2p agent murmur/<version>).
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS     := -X github.com/murmur-p2p/murmur/internal/version.stamped=$(VERSION)

.PHONY: all build test test-go test-smoke test-race lint vet fmt testnet testnet-down fuzz clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/murmur

test: test-go test-smoke

test-go:
	$(GO) test $(TEST_FLAGS) $(PKGS)

# A 5-node testnet must come up and fill its peer tables.
# SMOKE_BASE_PORT moves it when another testnet holds 4300.
SMOKE_BASE_PORT ?= 4300
test-smoke: build
	TESTNET_EXIT=1 TESTNET_DIR=$(CURDIR)/testnet/data-smoke TESTNET_BASE_PORT=$(SMOKE_BASE_PORT) testnet/run.sh 5

test-race:
	$(GO) test -race $(TEST_FLAGS) $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet $(PKGS)

lint: vet
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run go mod tidy"; $(GO) mod tidy -diff; exit 1; }
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@if $(GO) run $(STATICCHECK) -version >/dev/null 2>&1; then \
		echo "staticcheck ./..."; $(GO) run $(STATICCHECK) $(PKGS); \
	else echo "staticcheck not available from the module proxy; skipped"; fi

testnet: build
	testnet/run.sh 5

testnet-down:
	testnet/down.sh

# Runs each Fuzz* target for FUZZTIME; `make test` already runs their corpora.
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf bin testnet/data testnet/data-smoke

# Benchmark and soak targets live in mk/*.mk (bench-sim, bench-store, ...).
-include mk/*.mk
