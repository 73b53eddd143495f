# Shared settings and helpers for the testnet scripts; sourced, not run.
# TESTNET_DIR        where node data dirs live (default testnet/data)
# TESTNET_BASE_PORT  node i listens on TCP and QUIC port BASE+i (default 4200)
# TESTNET_NETWORK    network name (default testnet)
# MURMUR_BIN         murmur binary (default bin/murmur, built if missing)

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TESTNET_DIR=${TESTNET_DIR:-$ROOT/testnet/data}
TESTNET_BASE_PORT=${TESTNET_BASE_PORT:-4200}
TESTNET_NETWORK=${TESTNET_NETWORK:-testnet}
MURMUR_BIN=${MURMUR_BIN:-$ROOT/bin/murmur}
PIDS_FILE=$TESTNET_DIR/pids

ensure_binary() {
  if [ ! -x "$MURMUR_BIN" ] || [ -n "$(find "$ROOT/cmd" "$ROOT/p2pnode" "$ROOT/dhtdiscovery" "$ROOT/security" "$ROOT/internal" "$ROOT/sync" "$ROOT/protocol" -name '*.go' -newer "$MURMUR_BIN" 2>/dev/null | head -1)" ]; then
    echo "building $MURMUR_BIN"
    (cd "$ROOT" && go build -o "$MURMUR_BIN" ./cmd/murmur)
  fi
}

# json_field FILE KEY: the scalar value of "KEY" in a daemon.json file.
json_field() {
  sed -n "s/^  \"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$1" 2>/dev/null | head -1
}

# node_dirs: the data dirs of the testnet's nodes, in order.
node_dirs() {
  local i=0
  while [ -d "$TESTNET_DIR/node$i" ]; do
    echo "$TESTNET_DIR/node$i"
    i=$((i + 1))
  done
}

alive() { kill -0 "$1" 2>/dev/null; }
