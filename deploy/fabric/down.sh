#!/usr/bin/env bash
# Stops every process deploy/fabric/up.sh started (by the pids it recorded, nothing else) and removes the run
# directory. CITYGATE_FABRIC_KEEP=1 keeps the directory (logs, ledgers) for a look afterwards.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUN=$CITYGATE_FABRIC_RUN
t0=$(date +%s%N)
pids=()
if [ -d "$RUN/pids" ]; then
  for f in "$RUN"/pids/*.pid; do
    [ -f "$f" ] || continue
    read -r pid started <"$f" || true
    # Signal it only if it is still the process that was started (same pid and start time): never a stranger
    # that reused the pid.
    if [ -n "${pid:-}" ] && [ "$(proc_start "$pid")" = "${started:-}" ]; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
    rm -f "$f"
  done
fi
for ((i = 0; i < 100; i++)); do
  alive=()
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
  [ ${#alive[@]} -eq 0 ] && break
  sleep 0.1
done
for pid in "${alive[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
if [ "${CITYGATE_FABRIC_KEEP:-0}" = 1 ]; then
  say "stopped ${#pids[@]} processes; kept $RUN"
else
  if [ -f "$RUN/.citygate-fabric-run" ]; then rm -rf "$RUN"; fi
  say "stopped ${#pids[@]} processes and removed the run directory in $((($(date +%s%N) - t0) / 1000000)) ms"
fi
