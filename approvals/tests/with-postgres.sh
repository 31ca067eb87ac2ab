#!/usr/bin/env bash
# Runs a command (default: the approval service's tests) against a throwaway
# PostgreSQL cluster: initdb in a temporary directory, pg_ctl on a free loopback
# port, JITGATE_TEST_POSTGRES_URL set for the command, cluster stopped and removed
# afterwards, whatever the command's outcome. Needs Debian's `postgresql` package
# (initdb and pg_ctl in /usr/lib/postgresql/*/bin) or those tools on PATH.
#
#   approvals/tests/with-postgres.sh                      # cargo test -p jitgate-approvals
#   approvals/tests/with-postgres.sh cargo test -p jitgate-approvals --test api
set -euo pipefail

pgbin=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
  if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then pgbin=$d; break; fi
done
if [ -z "$pgbin" ] && command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
  pgbin=$(dirname "$(command -v initdb)")
fi
if [ -z "$pgbin" ]; then
  echo "with-postgres.sh: initdb/pg_ctl not found (apt-get install postgresql)" >&2
  exit 2
fi

# initdb refuses to run as root: run the server as the `postgres` user then.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

dir=$(mktemp -d /tmp/jitgate-pg.XXXXXX)
[ "$(id -u)" = 0 ] && chown postgres "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

stop() {
  as_pg "$pgbin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

as_pg "$pgbin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 2; }
# fsync off: a test cluster, thrown away afterwards.
as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 2; }
echo "with-postgres.sh: PostgreSQL $("$pgbin/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port" >&2

export JITGATE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
if [ "$#" -eq 0 ]; then
  set -- cargo test --locked -p jitgate-approvals
fi
"$@"
