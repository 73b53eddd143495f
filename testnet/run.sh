#!/usr/bin/env bash
# make testnet: start N nodes (default 5), wait until each has at least
# MIN_PEERS peers (default 3), print the table, write a key on node 0 and
# read it back from every node, then run until Ctrl-C.
# With TESTNET_EXIT=1, stop the nodes after the checks and exit 0 if both
# passed, 1 if not.
. "$(dirname "$0")/lib.sh"
N=${1:-5}
MIN_PEERS=${MIN_PEERS:-3}
TIMEOUT=${TESTNET_TIMEOUT:-60}
HERE=$(dirname "$0")

"$HERE/down.sh" >/dev/null 2>&1 || true
rm -rf "$TESTNET_DIR"
trap '"$HERE/down.sh"' EXIT
"$HERE/up.sh" "$N"

echo "waiting up to ${TIMEOUT}s for every node to have at least $MIN_PEERS peers"
ok=0
for _ in $(seq 1 $((TIMEOUT * 5))); do
  ok=1
  for dir in $(node_dirs); do
    p=$(json_field "$dir/daemon.json" peers)
    [ -n "$p" ] && [ "$p" -ge "$MIN_PEERS" ] || { ok=0; break; }
  done
  [ $ok = 1 ] && break
  sleep 0.2
done
"$HERE/status.sh"
if [ $ok = 1 ]; then
  echo "PASS: all $N nodes have at least $MIN_PEERS peers"
else
  echo "FAIL: not every node reached $MIN_PEERS peers within ${TIMEOUT}s (logs: $TESTNET_DIR/node*/daemon.log)"
fi

# Write a key on node 0 and read it back from every node.
key=testnet/hello value="written on node0 at $(date -u +%H:%M:%S)"
echo "writing $key on node0"
replicated=0
if "$MURMUR_BIN" put --data "$TESTNET_DIR/node0" "$key" "$value"; then
  for _ in $(seq 1 $((TIMEOUT * 5))); do
    replicated=1
    for dir in $(node_dirs); do
      got=$("$MURMUR_BIN" get --data "$dir" "$key" 2>/dev/null) || got=
      [ "$got" = "$value" ] || { replicated=0; break; }
    done
    [ $replicated = 1 ] && break
    sleep 0.2
  done
fi
printf '%-6s %s\n' NODE "GET $key"
for dir in $(node_dirs); do
  got=$("$MURMUR_BIN" get --data "$dir" "$key" 2>&1) || true
  printf '%-6s %s\n' "$(basename "$dir")" "$got"
done
if [ $replicated = 1 ]; then
  echo "PASS: the write on node0 reads back from all $N nodes"
else
  echo "FAIL: the write on node0 did not reach every node within ${TIMEOUT}s"
fi

if [ "${TESTNET_EXIT:-0}" = 1 ]; then
  [ $ok = 1 ] && [ $replicated = 1 ] && exit 0 || exit 1
fi
echo "testnet running; try: $MURMUR_BIN get --data $TESTNET_DIR/node1 $key   (Ctrl-C stops it)"
while :; do sleep 3600; done
