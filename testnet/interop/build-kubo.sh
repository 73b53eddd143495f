#!/usr/bin/env bash
# Builds kubo's ipfs command at KUBO_VERSION (a pinned release, fetched as a
# Go module) against the go-libp2p version murmur's go.mod requires, and
# prints the binary's path. Built as a dependency of a throw-away module,
# kubo's own replace of go-libp2p does not apply; nothing of kubo is kept
# but the binary, cached in INTEROP_BUILD (default testnet/interop/.build).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# v0.43.1 requires go-libp2p v0.49 and builds unchanged against murmur's v0.51.
KUBO_VERSION=${KUBO_VERSION:-v0.43.1}
OUT=${INTEROP_BUILD:-$ROOT/testnet/interop/.build}
LIBP2P=$(cd "$ROOT" && go list -m -f '{{.Version}}' github.com/libp2p/go-libp2p)
BIN=$OUT/ipfs-$KUBO_VERSION-go-libp2p-$LIBP2P
if [ -x "$BIN" ]; then
  echo "$BIN"
  exit 0
fi
mkdir -p "$OUT"
mod=$(mktemp -d)
trap 'rm -rf "$mod"' EXIT
GOVERSION=$(cd "$ROOT" && go list -m -f '{{.GoVersion}}')
cat >"$mod/go.mod" <<MOD
module murmur-interop/kubo

go $GOVERSION

require (
	github.com/ipfs/kubo $KUBO_VERSION
	github.com/libp2p/go-libp2p $LIBP2P
)
MOD
cat >"$mod/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/ipfs/kubo/cmd/ipfs"
GO
echo "building kubo $KUBO_VERSION against go-libp2p $LIBP2P (a few minutes the first time)" >&2
(cd "$mod" && go mod tidy >&2 && go build -o "$BIN.tmp" github.com/ipfs/kubo/cmd/ipfs >&2)
got=$(go version -m "$BIN.tmp" | awk '$1 == "dep" && $2 == "github.com/libp2p/go-libp2p" { print $3 }')
if [ "$got" != "$LIBP2P" ]; then
  echo "kubo was linked with go-libp2p $got, want $LIBP2P" >&2
  exit 1
fi
mv "$BIN.tmp" "$BIN"
echo "$BIN"
