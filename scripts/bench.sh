#!/usr/bin/env bash
# Builds and runs the benchmarks in tests/bench/ (not part of the test suite): bench_engine_queries,
# then bench_batch_jobs (chatctl cleanup and export), then bench_chatd (chatd under load next to a
# minimal Boost.Beast echo server). Arguments go to bench_engine_queries; those after a first `--`
# go to bench_batch_jobs, those after a second `--` to bench_chatd, e.g. for quicker runs:
#   ./scripts/bench.sh --chats 100000 -- --chats 20000 -- --rounds 1 --idle-connections 2000
# bench_batch_jobs and bench_chatd also run on PostgreSQL when CHATCTL_TEST_PG is set (see
# scripts/pg-test-server.sh). Then the replay and webhook delivery benchmarks (Python drivers).
set -euo pipefail
cd "$(dirname "$0")/.."
engine_args=()
batch_args=()
chatd_args=()
while [[ $# -gt 0 && "$1" != "--" ]]; do engine_args+=("$1"); shift; done
if [[ $# -gt 0 ]]; then shift; fi  # the first --
while [[ $# -gt 0 && "$1" != "--" ]]; do batch_args+=("$1"); shift; done
if [[ $# -gt 0 ]]; then shift; fi  # the second --
chatd_args=("$@")
scripts/setup.sh --test
scripts/build.sh
build/tests/bench_engine_queries "${engine_args[@]}"
build/tests/bench_batch_jobs "${batch_args[@]}"
build/tests/bench_chatd "${chatd_args[@]}"
/usr/bin/python3 tests/bench/replay_fixtures.py --chatctl build/cmd/chatctl
/usr/bin/python3 tests/bench/webhook_delivery.py --chatctl build/cmd/chatctl
