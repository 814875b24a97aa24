#!/usr/bin/env bash
# End-to-end tests of the web console: Playwright (playwright-core) drives Debian's chromium against a test
# gateway on loopback. Installs chromium from Debian's packages when it is missing (needs root, as on CI).
# Screenshots go to .test-artifacts/console/.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "console-test: installing chromium from Debian's packages..." >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  else
    echo "console-test: chromium is not installed; run: sudo apt-get install chromium" >&2
    exit 1
  fi
fi
export CITYGATE_CHROMIUM="${CITYGATE_CHROMIUM:-$(command -v chromium)}"

npm run -s build
mkdir -p .test-artifacts/console
node --test --test-concurrency=1 "dist/test/console/**/*.console-spec.js"
