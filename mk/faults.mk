# make test-faults: murmur's fault suite against five real daemons in network
# namespaces (testnet/faults): kill -9 under write load, SIGSTOP, partitions
# (symmetric, one-way, minority) by iptables, a full and a read-only disk on
# a tmpfs, a restart without reachable bootstrap peers. Needs root; installs
# iptables with apt-get when it is missing. The short version (about two
# minutes) runs in CI; make test-faults-long runs 60 kill cycles and
# partitions of 60 s and 130 s. FAULTS_FLAGS passes flags, e.g.
# FAULTS_FLAGS='-only kill9,diskfull -seed 7'.
FAULTS_FLAGS ?=

.PHONY: test-faults test-faults-long faults-deps

faults-deps:
	@command -v iptables >/dev/null 2>&1 || { echo "installing iptables"; apt-get install -y iptables >/dev/null || { apt-get update >/dev/null && apt-get install -y iptables >/dev/null; }; }

test-faults: build faults-deps
	$(GO) run ./testnet/faults -bin $(BIN) -dir testnet/data-faults $(FAULTS_FLAGS)

test-faults-long: build faults-deps
	$(GO) run ./testnet/faults -long -bin $(BIN) -dir testnet/data-faults $(FAULTS_FLAGS)
