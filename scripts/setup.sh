#!/usr/bin/env bash
# Installs what chatctl needs from Debian 12 (bookworm) packages. With --test, also what the test
# suite needs (a PostgreSQL server, Python with pytest, jsonschema and yaml).
# Runs apt-get only for packages that are missing, as root or through sudo.
set -euo pipefail

build=(build-essential cmake ninja-build pkg-config
       libcli11-dev libsoci-dev libsqlite3-dev sqlite3 libpq-dev libyaml-cpp-dev nlohmann-json3-dev
       libboost1.81-dev libssl-dev libspdlog-dev)
test=(catch2 postgresql postgresql-client python3 python3-pytest python3-jsonschema python3-yaml python3-websockets openssl
      bash zsh fish groff-base man-db)

want=("${build[@]}")
if [[ "${1:-}" == "--test" ]]; then want+=("${test[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 77; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
