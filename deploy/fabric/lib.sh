# Shared settings for the native Fabric network scripts (sourced, not run).
# Every path is derived from this file's location or from variables, never from the machine.
# shellcheck shell=bash

FABRIC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$FABRIC_DIR/../.." && pwd)

# Source archive of Fabric's v3.1.5 tag with its vendor/ (builds with no network).
CITYGATE_FABRIC_SRC=${CITYGATE_FABRIC_SRC:-$REPO_DIR/../shared/vendor/hyperledger-fabric-v3.1.5-src.tar.gz}
# Where built binaries are cached, one folder per archive digest.
CITYGATE_FABRIC_CACHE=${CITYGATE_FABRIC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/citygate/fabric}
# Run directory: generated crypto, channel artefacts, ledgers, logs, pids and ports. Not in git.
CITYGATE_FABRIC_RUN=${CITYGATE_FABRIC_RUN:-$REPO_DIR/.fabric/run}
FABRIC_VERSION=3.1.5
CHANNEL=${CITYGATE_FABRIC_CHANNEL:-citygate}
CC_NAME=provenance
CC_VERSION=1.0
CC_LABEL=${CC_NAME}_${CC_VERSION}

say() { printf 'fabric: %s\n' "$*" >&2; }
die() { printf 'fabric: error: %s\n' "$*" >&2; exit 1; }

# Node 26 from the repo (the machine's node may be older).
NODE_BIN=$REPO_DIR/node_modules/.bin/node

archive_digest() {
  [ -f "$CITYGATE_FABRIC_SRC" ] || die "Fabric source archive not found: $CITYGATE_FABRIC_SRC (set CITYGATE_FABRIC_SRC)"
  sha256sum "$CITYGATE_FABRIC_SRC" | cut -d' ' -f1
}

# Folder holding bin/ and sampleconfig/ for the current archive.
fabric_home() {
  local digest
  digest=$(archive_digest)
  printf '%s/%s\n' "$CITYGATE_FABRIC_CACHE" "${digest:0:16}"
}

# A free TCP port on 127.0.0.1 (the kernel picks it; a tiny race remains until the node binds it).
free_port() {
  "$NODE_BIN" -e 'const s=require("node:net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Waits until 127.0.0.1:$1 accepts TCP connections, up to $2 seconds.
wait_port() {
  local port=$1 timeout=${2:-60} name=${3:-port $1} i
  for ((i = 0; i < timeout * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "$name did not listen on 127.0.0.1:$port within ${timeout}s"
}

# Start time of a process (clock ticks since boot, /proc/PID/stat field 22), empty when it is gone.
proc_start() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  awk '{ print $20 }' <<<"$stat"
}
