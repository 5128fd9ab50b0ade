#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests, listening only on a Unix socket in a fresh
# temporary folder (no TCP port to collide with), and prints two lines for `eval`:
#   export CHATCTL_TEST_PG=postgresql://postgres@/postgres?host=<socket dir>
#   export CHATCTL_TEST_PG_DIR=<folder>
# `pg-test-server.sh stop <folder>` stops it and removes the folder.
set -euo pipefail

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[[ -x "$pgbin/initdb" ]] || { echo "pg-test-server: no PostgreSQL server installed" >&2; exit 69; }

as_owner() {  # initdb and postgres refuse to run as root
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [[ "${1:-start}" == "stop" ]]; then
  dir=${2:-}
  [[ -n "$dir" ]] || exit 0
  as_owner "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  exit 0
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/chatctl-pg.XXXXXX")
if [[ $(id -u) -eq 0 ]]; then chown postgres: "$dir"; fi
as_owner "$pgbin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 69; }
as_owner "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-k $dir -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 69; }
echo "export CHATCTL_TEST_PG='postgresql://postgres@/postgres?host=$dir'"
echo "export CHATCTL_TEST_PG_DIR='$dir'"
