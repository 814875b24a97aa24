#!/usr/bin/env bash
# Builds CityGate (the sandbox package, the gateway with its tests and benchmarks, the console bundle), one line
# of progress per phase, and skips the work when no source changed since the last complete build: `npm start`
# after a restart, and each `test:*` script after the first, start at once. CITYGATE_FORCE_BUILD=1 rebuilds.
set -euo pipefail
cd "$(dirname "$0")/../.."

stamp=dist/.build-stamp
# What a build reads. Outputs (dist/, sandbox/dist/, console/dist/) are left out, so a build never dates itself.
inputs=(src test bench sandbox/src sandbox/tsconfig.json sandbox/package.json console/src console/index.html
  console/vite.config.ts console/tsconfig.json tsconfig.json package.json package-lock.json)

if [[ -z "${CITYGATE_FORCE_BUILD:-}" && -f $stamp ]]; then
  changed=$(find "${inputs[@]}" -newer "$stamp" -type f -print -quit 2>/dev/null || true)
  if [[ -z $changed ]]; then
    echo "build: up to date (no source changed since the last build; CITYGATE_FORCE_BUILD=1 rebuilds)"
    exit 0
  fi
  echo "build: $changed and maybe more changed since the last build"
fi

# Dated before the work starts: a source saved during the build makes the next one run again.
mkdir -p dist
started=$(mktemp dist/.build-started.XXXXXX)
trap 'rm -f "$started"' EXIT
t0=$SECONDS
echo "build: compiling the sandbox package (1/3)"
tsc -p sandbox/tsconfig.json
echo "build: compiling the gateway, its tests and benchmarks (2/3)"
tsc -p tsconfig.json
echo "build: bundling the web console (3/3)"
vite build console --logLevel warn
mv "$started" "$stamp"
trap - EXIT
echo "build: done in $((SECONDS - t0)) s"
