#!/usr/bin/env bash
# make testnet: start N nodes (default 5), wait until each has at least
# MIN_PEERS peers (default 3), print the table, then run until Ctrl-C.
# With TESTNET_EXIT=1, stop the nodes after the check and exit 0 if it passed,
# 1 if not.
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
if [ "${TESTNET_EXIT:-0}" = 1 ]; then
  [ $ok = 1 ] && exit 0 || exit 1
fi
echo "testnet running; press Ctrl-C to stop it"
while :; do sleep 3600; done
