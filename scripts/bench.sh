#!/usr/bin/env bash
# Builds and runs the benchmarks in tests/bench/ (not part of the test suite): bench_engine_queries,
# then bench_batch_jobs (chatctl cleanup and export). Arguments go to bench_engine_queries; those
# after a `--` go to bench_batch_jobs, e.g. for quicker runs:
#   ./scripts/bench.sh --chats 100000 -- --chats 20000
# bench_batch_jobs also runs on PostgreSQL when CHATCTL_TEST_PG is set (see scripts/pg-test-server.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
engine_args=()
while [[ $# -gt 0 && "$1" != "--" ]]; do engine_args+=("$1"); shift; done
if [[ $# -gt 0 ]]; then shift; fi  # the --
scripts/setup.sh --test
scripts/build.sh
build/tests/bench_engine_queries "${engine_args[@]}"
build/tests/bench_batch_jobs "$@"
