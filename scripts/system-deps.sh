#!/usr/bin/env bash
# Install the system packages Guardian needs, only those missing. Safe to re-run.
set -euo pipefail
need=()
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
have_lib libpango-1.0 || need+=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libfontconfig1)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [[ "${GUARDIAN_SKIP_TEST_DEPS:-}" != "1" ]]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
fi
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing system packages: ${need[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
