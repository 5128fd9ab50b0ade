#!/usr/bin/env bash
# The second command of the README and what CI runs: installs everything the tests need (a
# PostgreSQL server included, started here on a private socket), builds, and runs the whole suite
# on SQLite and PostgreSQL. Extra arguments go to ctest (e.g. -R cli).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
scripts/build.sh

if [[ -z "${CHATCTL_TEST_PG:-}" ]]; then
  server=$(scripts/pg-test-server.sh start) || { echo "test: cannot start PostgreSQL" >&2; exit 69; }
  eval "$server"
  trap 'scripts/pg-test-server.sh stop "${CHATCTL_TEST_PG_DIR:-}"' EXIT
fi
export CHATCTL_TEST_PG

ctest --test-dir build --output-on-failure -j2 "$@"
