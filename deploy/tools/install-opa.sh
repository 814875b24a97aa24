#!/usr/bin/env bash
# Prints the path of the pinned opa CLI (last line of stdout), building it with `go install` the first
# time and reusing ${CITYGATE_CACHE:-$HOME/.cache/citygate}/tools/opa-<version>/opa afterwards.
# A fresh build takes about 3 minutes. Progress and errors go to stderr.
set -euo pipefail

OPA_VERSION="v1.22.2"
OPA_MODULE="github.com/open-policy-agent/opa"

cache="${CITYGATE_CACHE:-$HOME/.cache/citygate}"
dir="$cache/tools/opa-$OPA_VERSION"
bin="$dir/opa"

log() { printf 'install-opa: %s\n' "$*" >&2; }

# The cached binary counts only if it runs and reports the pinned version.
is_pinned() { [[ -x $1 ]] && "$1" version 2>/dev/null | grep -qx "Version: ${OPA_VERSION#v}"; }

if is_pinned "$bin"; then
  log "using cached $bin"
  echo "$bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  log "error: 'go' is not on PATH and no cached opa $OPA_VERSION was found at $bin."
  log "Install Go (https://go.dev/dl/), or put an opa $OPA_VERSION binary at that path."
  exit 1
fi

mkdir -p "$dir"
# Build into a private directory and rename into place, so that an interrupted or concurrent run never
# leaves a half-written binary at $bin.
tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

log "building opa $OPA_VERSION with $(go version) (CGO_ENABLED=0); this takes a few minutes..."
if ! GOBIN="$tmp" CGO_ENABLED=0 GOWORK=off go install "$OPA_MODULE@$OPA_VERSION" >&2; then
  log "error: 'go install $OPA_MODULE@$OPA_VERSION' failed (see above)."
  exit 1
fi
if ! is_pinned "$tmp/opa"; then
  log "error: the built binary does not report version ${OPA_VERSION#v}."
  exit 1
fi
mv -f "$tmp/opa" "$bin"
log "installed $bin"
echo "$bin"
