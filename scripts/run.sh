#!/usr/bin/env bash
# The first command of the README: installs what is needed, builds, and runs chatctl's main job on
# the embedded default database (created and migrated on first use). Until chatd exists that job
# is channel administration: with no arguments it lists the channels; any arguments are passed to
# chatctl as they are (./scripts/run.sh channel add Sales --group sales).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
if [[ $# -eq 0 ]]; then set -- channel list; fi
exec build/cmd/chatctl "$@"
