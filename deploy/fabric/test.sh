#!/usr/bin/env bash
# npm run test:fabric: builds what is needed, brings up a fresh native Fabric network (building the Fabric
# binaries the first time), runs the Fabric specs against it and always brings it down again, printing the
# network's logs when a spec failed.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_DIR"

status=1
finish() {
  if [ "$status" != 0 ] && [ -d "$CITYGATE_FABRIC_RUN/logs" ]; then
    for f in "$CITYGATE_FABRIC_RUN"/logs/*.log; do
      printf '\n===== %s (last 60 lines) =====\n' "$(basename "$f")" >&2
      tail -n 60 "$f" >&2
    done
  fi
  "$FABRIC_DIR/down.sh" || true
}
trap finish EXIT

say "test: compile the gateway and the specs"
"$NODE_BIN" node_modules/typescript/bin/tsc -p sandbox/tsconfig.json
"$NODE_BIN" node_modules/typescript/bin/tsc -p tsconfig.json
"$FABRIC_DIR/up.sh"
say "test: run the Fabric specs"
set +e
"$NODE_BIN" --test --test-concurrency=1 "dist/test/fabric/**/*.fabric-spec.js"
status=$?
set -e
exit $status
