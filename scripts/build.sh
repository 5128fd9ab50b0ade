#!/usr/bin/env bash
# Configures and builds chatctl into build/ (Release with debug info; -Werror for dev and CI).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCHATCTL_WERROR=ON "$@" >/dev/null
cmake --build build -j2
