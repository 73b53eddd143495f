#!/usr/bin/env bash
# Stop the testnet's daemons by the PIDs up.sh recorded (SIGTERM, then
# SIGKILL after 15s). Data dirs are kept for inspection.
. "$(dirname "$0")/lib.sh"
[ -f "$PIDS_FILE" ] || { echo "no testnet recorded in $TESTNET_DIR"; exit 0; }
mapfile -t pids <"$PIDS_FILE"
for pid in "${pids[@]}"; do
  alive "$pid" && kill -TERM "$pid" 2>/dev/null || true
done
for _ in $(seq 1 150); do
  left=0
  for pid in "${pids[@]}"; do alive "$pid" && left=1; done
  [ $left = 0 ] && break
  sleep 0.1
done
for pid in "${pids[@]}"; do
  if alive "$pid"; then
    echo "pid $pid did not stop within 15s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
done
rm -f "$PIDS_FILE"
echo "testnet stopped; data kept in $TESTNET_DIR"
