# The dashboard's browser test (internal/controlapi/uitest).
#   make test-ui   install Debian's chromium if missing, start a 3-node
#                  testnet with an API token (DATA/api.token where murmur
#                  init writes one, else MURMUR_API_TOKEN), load the
#                  dashboard in headless Chromium and check what it shows
#                  (UI_SCREENSHOT=file.png keeps a screenshot)
# UI_BASE_PORT: first P2P port of the testnet (TESTNET_BASE_PORT if set).

UI_TESTNET_DIR ?= $(CURDIR)/testnet/data-ui
UI_BASE_PORT   ?= $(or $(TESTNET_BASE_PORT),4350)

.PHONY: test-ui chromium

chromium:
	@if ! command -v chromium >/dev/null; then \
		echo "installing Debian's chromium package"; \
		apt-get install -y chromium >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }; \
	fi; \
	command -v chromium >/dev/null || { echo "test-ui: chromium is missing and 'apt-get install -y chromium' failed (run it as root)"; exit 1; }

test-ui: build chromium
	@TESTNET_DIR=$(UI_TESTNET_DIR) testnet/down.sh >/dev/null 2>&1 || true
	rm -rf $(UI_TESTNET_DIR)
	@export TESTNET_DIR=$(UI_TESTNET_DIR) TESTNET_BASE_PORT=$(UI_BASE_PORT) UI_TESTNET_DIR=$(UI_TESTNET_DIR); \
	probe=$$(mktemp -d); $(BIN) init --data "$$probe/n" >/dev/null; \
	if [ ! -f "$$probe/n/api.token" ]; then \
		echo "murmur init writes no DATA/api.token: the testnet gets its API token from MURMUR_API_TOKEN"; \
		export MURMUR_API_TOKEN=$$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n'); \
	fi; rm -rf "$$probe"; \
	testnet/up.sh 3 || { testnet/down.sh; exit 1; }; \
	$(GO) test -tags uitest -count=1 -timeout 5m -v ./internal/controlapi/uitest/; rc=$$?; \
	testnet/down.sh >/dev/null; exit $$rc

# The deployment files: the systemd unit must verify with no warning and
# keep an exposure level (systemd-analyze security) of 2.0 or less; the
# Grafana dashboard is checked by `go test ./deploy` (in make test).
.PHONY: test-deploy
test-deploy: build
	@command -v systemd-analyze >/dev/null || { echo "installing Debian's systemd package (for systemd-analyze)"; \
		apt-get install -y systemd >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y systemd >/dev/null; }; }
	@command -v systemd-analyze >/dev/null || { echo "test-deploy: systemd-analyze is missing and 'apt-get install -y systemd' failed (run it as root)"; exit 1; }
	@d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
	sed "s|/usr/local/bin/murmur|$(CURDIR)/$(BIN)|g" deploy/systemd/murmur.service >"$$d/murmur.service" && \
	out=$$(systemd-analyze verify "$$d/murmur.service" 2>&1) && [ -z "$$out" ] || { echo "deploy/systemd/murmur.service does not verify:"; echo "$$out"; exit 1; }; \
	systemd-analyze security --offline=yes --threshold=20 "$$d/murmur.service" >"$$d/security.txt" 2>&1 || { \
		echo "deploy/systemd/murmur.service: exposure level above 2.0:"; tail -1 "$$d/security.txt"; exit 1; }; \
	echo "deploy/systemd/murmur.service: verifies; $$(tail -1 "$$d/security.txt")"
