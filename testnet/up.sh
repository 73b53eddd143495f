#!/usr/bin/env bash
# Start N murmur daemons on 127.0.0.1, each with its own data dir and ports.
# Only node 0 is given to the others as bootstrap; they find each other
# through the DHT. Each node's control API listens on a free loopback port,
# recorded in its data dir, so the CLI reaches node I with
# --data $TESTNET_DIR/nodeI. Usage: testnet/up.sh [N]   (default 5)
# With TESTNET_CLOSED=1 the network is closed: one private network key and
# one authority key in $TESTNET_DIR, every node admitted as an admin.
. "$(dirname "$0")/lib.sh"
N=${1:-5}
case $N in '' | *[!0-9]*) echo "usage: $0 [N]  (N a number of nodes)" >&2; exit 2 ;; esac

ensure_binary
mkdir -p "$TESTNET_DIR"
if [ -f "$PIDS_FILE" ]; then
  while read -r pid; do
    if alive "$pid"; then
      echo "a testnet is already running (pid $pid); stop it with testnet/down.sh" >&2
      exit 1
    fi
  done <"$PIDS_FILE"
fi
: >"$PIDS_FILE"

# closed_setup DIR: make node DIR a member of the closed testnet (once).
closed_setup() {
  local dir=$1 auth=$TESTNET_DIR/authority.key
  [ -f "$dir/member.cert" ] && return 0
  [ -f "$auth" ] || "$MURMUR_BIN" network create --out "$auth" >"$TESTNET_DIR/authority.txt"
  [ -f "$TESTNET_DIR/swarm.key" ] || "$MURMUR_BIN" keygen --out "$TESTNET_DIR/swarm.key" >/dev/null
  "$MURMUR_BIN" init --data "$dir" --swarm-key "$TESTNET_DIR/swarm.key" >/dev/null
  "$MURMUR_BIN" network admit "$("$MURMUR_BIN" id --data "$dir")" --authority-key "$auth" \
    --network "$TESTNET_NETWORK" --role admin --out "$dir/member.cert" >/dev/null
  echo "network_authorities: [$(sed -n 's/^authority: //p' "$TESTNET_DIR/authority.txt")]" >>"$dir/config.yaml"
}

start_node() { # start_node I [bootstrap]
  local i=$1 dir=$TESTNET_DIR/node$1 port=$((TESTNET_BASE_PORT + $1))
  if [ "${TESTNET_CLOSED:-0}" = 1 ]; then closed_setup "$dir"; fi
  "$MURMUR_BIN" init --data "$dir" >/dev/null
  local args=(daemon --data "$dir" --network "$TESTNET_NETWORK"
    --listen "/ip4/127.0.0.1/tcp/$port" --listen "/ip4/127.0.0.1/udp/$port/quic-v1"
    --api-addr 127.0.0.1:0)
  [ -n "${2:-}" ] && args+=(--bootstrap "$2")
  rm -f "$dir/daemon.out"
  "$MURMUR_BIN" "${args[@]}" >"$dir/daemon.out" 2>"$dir/daemon.log" &
  echo $! >>"$PIDS_FILE"
}

wait_ready() { # wait_ready I: wait for node I's "ready" line
  local dir=$TESTNET_DIR/node$1 pid
  pid=$(sed -n "$(($1 + 1))p" "$PIDS_FILE")
  for _ in $(seq 1 300); do
    grep -qx ready "$dir/daemon.out" 2>/dev/null && return 0
    if ! alive "$pid"; then
      echo "node $1 exited during start-up; its log ($dir/daemon.log):" >&2
      tail -20 "$dir/daemon.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "node $1 not ready after 30s; see $dir/daemon.log" >&2
  return 1
}

start_node 0
wait_ready 0
BOOT=$(sed -n 's/^addr: \(.*\/tcp\/.*\)$/\1/p' "$TESTNET_DIR/node0/daemon.out" | head -1)
echo "node 0 ready: $BOOT"
for i in $(seq 1 $((N - 1))); do
  start_node "$i" "$BOOT"
done
for i in $(seq 1 $((N - 1))); do
  wait_ready "$i"
done
echo "$N nodes running in $TESTNET_DIR (stop with testnet/down.sh)"
