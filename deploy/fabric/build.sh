#!/usr/bin/env bash
# Builds Fabric's peer, orderer, configtxgen, cryptogen and osnadmin from the source archive
# (offline, with Fabric's own vendor/) into a cache keyed by the archive's sha256. Reused when present.
# Prints the cache folder (which holds bin/ and sampleconfig/) on stdout.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

digest=$(archive_digest)
sums=$(dirname "$CITYGATE_FABRIC_SRC")/SHA256SUMS
if [ -f "$sums" ]; then
  expected=$(awk -v f="$(basename "$CITYGATE_FABRIC_SRC")" '$2 == f || $2 == "*" f { print $1 }' "$sums")
  [ -z "$expected" ] || [ "$expected" = "$digest" ] || die "archive sha256 $digest does not match $sums"
fi
home="$CITYGATE_FABRIC_CACHE/${digest:0:16}"
if [ -f "$home/.complete" ]; then
  say "binaries: cached ($home)"
  printf '%s\n' "$home"
  exit 0
fi

command -v go >/dev/null || die "go is not installed (Fabric $FABRIC_VERSION needs Go >= 1.26)"
mkdir -p "$CITYGATE_FABRIC_CACHE"
work=$(mktemp -d "$CITYGATE_FABRIC_CACHE/.build-XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
say "binaries: unpacking $(basename "$CITYGATE_FABRIC_SRC")"
tar -xzf "$CITYGATE_FABRIC_SRC" -C "$work"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n1)
[ -f "$src/go.mod" ] && [ -d "$src/vendor" ] || die "archive has no go.mod and vendor/ at its top level"

say "binaries: go build peer orderer configtxgen cryptogen osnadmin (offline, -mod=vendor; a few minutes)"
mkdir -p "$work/out/bin"
(cd "$src" && GOFLAGS=-mod=vendor GOPROXY=off CGO_ENABLED=${CGO_ENABLED:-1} go build -trimpath \
  -ldflags "-X github.com/hyperledger/fabric/common/metadata.Version=$FABRIC_VERSION" \
  -o "$work/out/bin/" ./cmd/peer ./cmd/orderer ./cmd/configtxgen ./cmd/cryptogen ./cmd/osnadmin)
cp -r "$src/sampleconfig" "$work/out/sampleconfig"
printf '%s  %s\nbuilt in %ss\n' "$digest" "$(basename "$CITYGATE_FABRIC_SRC")" "$(($(date +%s) - start))" >"$work/out/.complete"
rm -rf "$home"
mv "$work/out" "$home"
say "binaries: built in $(($(date +%s) - start))s ($home)"
printf '%s\n' "$home"
