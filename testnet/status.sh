#!/usr/bin/env bash
# Show each testnet node's PID, state, peer ID, peer count and API address.
. "$(dirname "$0")/lib.sh"
printf '%-6s %-8s %-8s %-54s %-6s %s\n' NODE PID STATE PEER_ID PEERS API
i=0
for dir in $(node_dirs); do
  pid=$(sed -n "$((i + 1))p" "$PIDS_FILE" 2>/dev/null)
  state=stopped
  [ -n "$pid" ] && alive "$pid" && state=running
  peer_id=$("$MURMUR_BIN" id --data "$dir" 2>/dev/null || echo "-")
  peers=- api=-
  if [ "$state" = running ] && [ -f "$dir/daemon.json" ]; then
    peers=$(json_field "$dir/daemon.json" peers)
  fi
  if [ "$state" = running ] && [ -f "$dir/api.addr" ]; then
    api=$(cat "$dir/api.addr")
  fi
  printf '%-6s %-8s %-8s %-54s %-6s %s\n' "node$i" "${pid:--}" "$state" "$peer_id" "$peers" "$api"
  i=$((i + 1))
done
