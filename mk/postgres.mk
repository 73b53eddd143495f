# PostgreSQL for store: postgres (sync/pgstore; docs/postgres.md).
#   make test-postgres   the PostgreSQL store's tests: conformance, kill -9,
#                        locking, and a daemon on Postgres killed and restarted
#   make postgres-up     a local server for the README walk-through, on a Unix
#                        socket in PG_DIR; prints the postgres_dsn to use
#   make postgres-down   stops it (PG_DIR is kept; rm -rf it to start afresh)
#   make bench-store-postgres   Postgres beside Pebble: writes and anti-entropy
#
# The tests start a throwaway server of their own (sync/pgstore/pgtest) from
# the server binaries of Debian's postgresql package; postgres-install
# installs it with apt-get when missing (as root; otherwise it says what to
# run). `make test` depends on it, so a clean machine with only Go gets it.
PG_DIR      ?= /tmp/murmur-postgres
PG_BIN       = $(or $(shell ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1),$(dir $(shell command -v initdb 2>/dev/null)))
# PostgreSQL refuses to run as root: run its programs as the postgres user.
PG_AS        = $(if $(filter 0,$(shell id -u)),runuser -u postgres --,)

.PHONY: postgres-install test-postgres postgres-up postgres-down bench-store-postgres

postgres-install:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "postgres-install: installing Debian's postgresql package (the pgstore tests start a server of their own)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	else \
		echo "postgres-install: PostgreSQL server binaries not found; run: sudo apt-get install -y postgresql"; exit 1; \
	fi

# make test's Go tests include the PostgreSQL store's.
test-go: postgres-install

test-postgres: postgres-install
	$(GO) test $(TEST_FLAGS) -count=1 ./sync/pgstore/... ./sync/storetest/
	$(GO) test $(TEST_FLAGS) -count=1 -run 'Postgres' ./cmd/murmur/

postgres-up: postgres-install
	@mkdir -p $(PG_DIR)
	@if [ -n "$(PG_AS)" ]; then chown postgres: $(PG_DIR); fi
	@if [ ! -f $(PG_DIR)/data/PG_VERSION ]; then \
		$(PG_AS) $(PG_BIN)/initdb -D $(PG_DIR)/data -U postgres -A trust -E UTF8 --no-locale >/dev/null; fi
	@$(PG_AS) $(PG_BIN)/pg_ctl -D $(PG_DIR)/data -l $(PG_DIR)/server.log -w \
		-o "-k $(PG_DIR) -c listen_addresses=''" status >/dev/null 2>&1 || \
		$(PG_AS) $(PG_BIN)/pg_ctl -D $(PG_DIR)/data -l $(PG_DIR)/server.log -w \
		-o "-k $(PG_DIR) -c listen_addresses=''" start >/dev/null
	@echo "postgres is up on a Unix socket in $(PG_DIR); use"
	@echo "  postgres_dsn: \"host=$(PG_DIR) user=postgres dbname=postgres\""
	@echo "  psql \"host=$(PG_DIR) user=postgres dbname=postgres\""

postgres-down:
	@if [ -f $(PG_DIR)/data/postmaster.pid ]; then $(PG_AS) $(PG_BIN)/pg_ctl -D $(PG_DIR)/data -m fast stop; fi

bench-store-postgres: postgres-install
	$(GO) test -run '^$$' -bench 'Store' -benchtime 2s -benchmem $(BENCH_STORE_FLAGS) ./sync/pebblestore/ ./sync/pgstore/

# bench-store runs them too.
bench-store: bench-store-postgres
