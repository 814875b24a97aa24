#!/usr/bin/env bash
# CI check for the policy bundle: runs the Rego checks and tests (via policy-build.sh), rebuilds the wasm
# into a temporary directory and fails if the committed policies/build/policy.wasm or MANIFEST.json
# differs from what the sources produce. Works on a fresh machine: install-opa.sh builds the pinned opa
# with `go install` (about 3 minutes) and caches it.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

bash deploy/tools/policy-build.sh --out "$tmp"

stale=0
for f in policy.wasm MANIFEST.json; do
  committed="policies/build/$f"
  if [[ ! -f $committed ]]; then
    echo "policy-check: $committed is missing." >&2
    stale=1
  elif ! cmp -s "$committed" "$tmp/$f"; then
    echo "policy-check: $committed differs from what the sources in policies/citygate produce." >&2
    stale=1
  fi
done

if [[ $stale -ne 0 ]]; then
  if [[ -f policies/build/MANIFEST.json ]]; then
    echo "--- committed MANIFEST.json vs rebuilt:" >&2
    diff -u policies/build/MANIFEST.json "$tmp/MANIFEST.json" >&2 || true
  fi
  echo "policy-check: FAILED: the committed policy bundle is stale. Run 'npm run policy:build' and commit policies/build/." >&2
  exit 1
fi
revision="$(sed -n 's/.*"revision": "\([0-9a-f]*\)".*/\1/p' "$tmp/MANIFEST.json")"
echo "policy-check: OK: policies/build/policy.wasm and MANIFEST.json match the sources (revision $revision)."
