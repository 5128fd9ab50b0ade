#!/usr/bin/env bash
# Builds and runs the benchmarks in tests/bench/ (not part of the test suite). Arguments go to the
# benchmark, e.g. ./scripts/bench.sh --chats 100000 for a quicker run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
scripts/build.sh
build/tests/bench_engine_queries "$@"
