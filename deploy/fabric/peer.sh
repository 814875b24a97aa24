#!/usr/bin/env bash
# Runs Fabric's own peer CLI against the running test network as an organisation's administrator, e.g.
#   deploy/fabric/peer.sh housing chaincode query -C citygate -n provenance -c '{"Args":["LatestTreeHead"]}'
# (reads the ports and paths that up.sh wrote to network.env).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

org=${1:-}
case "$org" in
  authority | housing) shift ;;
  *) die "usage: peer.sh authority|housing <peer CLI arguments...>" ;;
esac
env_file=$CITYGATE_FABRIC_RUN/network.env
[ -f "$env_file" ] || die "no running network ($env_file is missing): npm run fabric:up"
# shellcheck disable=SC1090
. "$env_file"
U=$(tr '[:lower:]' '[:upper:]' <<<"$org")
v() { local n="FABRIC_${U}_$1"; printf '%s' "${!n}"; }
export FABRIC_CFG_PATH=$(v CONFIG) FABRIC_LOGGING_SPEC=${FABRIC_LOGGING_SPEC:-error}
export CORE_PEER_LOCALMSPID=$(v MSPID) CORE_PEER_MSPCONFIGPATH=$(v ADMIN_MSP) CORE_PEER_ADDRESS=$(v PEER)
export CORE_PEER_TLS_ENABLED=true CORE_PEER_TLS_ROOTCERT_FILE=$(v PEER_TLS_CA)
exec "$FABRIC_BIN/peer" "$@"
