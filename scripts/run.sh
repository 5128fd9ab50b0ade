#!/usr/bin/env bash
# The first command of the README: installs what is needed, builds, and starts chatd on the
# embedded default database (created and migrated on first use), ready for a client at
# ws://127.0.0.1:8780/v3.2/customer/rtm/ws?license_id=1. Any arguments are passed to chatctl as
# they are instead (./scripts/run.sh token issue --customer cust-1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
if [[ $# -eq 0 ]]; then
  set -- chatd
  # As examples/systemd/chatctl-chatd.service has it (a GLIBC_TUNABLES of your own still wins).
  export GLIBC_TUNABLES="glibc.malloc.tcache_count=200${GLIBC_TUNABLES:+:$GLIBC_TUNABLES}"
fi
exec build/cmd/chatctl "$@"
