#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL 15 server on 127.0.0.1 with its own data directory,
# exporting DATABASE_URL for it, and stops and removes the server afterwards.
# Installs Debian's postgresql-15 when it is missing (needs root, as on CI machines).
# Usage: deploy/postgres/with-postgres.sh <command> [args...]
set -euo pipefail

PG_VERSION=15
PGBIN=/usr/lib/postgresql/$PG_VERSION/bin

if [ ! -x "$PGBIN/postgres" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "with-postgres: installing postgresql-$PG_VERSION from Debian's packages..." >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$PG_VERSION" >&2
  else
    echo "with-postgres: PostgreSQL $PG_VERSION is not installed; run: sudo apt-get install postgresql-$PG_VERSION" >&2
    exit 1
  fi
fi

# PostgreSQL refuses to run as root: use the postgres system user when we are root.
run_pg=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  run_pg=(runuser -u postgres --)
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/citygate-pg.XXXXXX")
[ "$(id -u)" = 0 ] && chown postgres "$dir"
port=$(node -e 'const s=require("node:net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')

stop() {
  "${run_pg[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

"${run_pg[@]}" "$PGBIN/initdb" -D "$dir/data" -U citygate --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }
"${run_pg[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null ||
  { cat "$dir/server.log" >&2; exit 1; }
"$PGBIN/psql" -h 127.0.0.1 -p "$port" -U citygate -d postgres -q -c 'create database citygate_test' >/dev/null

export DATABASE_URL="postgres://citygate@127.0.0.1:$port/citygate_test"
echo "with-postgres: PostgreSQL $PG_VERSION on 127.0.0.1:$port" >&2
set +e
"$@"
status=$?
set -e
exit $status
