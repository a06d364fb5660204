#!/usr/bin/env bash
# Run the whole suite. Starts a throwaway PostgreSQL cluster when none is given
# (GUARDIAN_TEST_POSTGRES_URL) and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
started=""
if [[ -z "${GUARDIAN_TEST_POSTGRES_URL:-}" ]]; then
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [[ -n "$pgbin" ]]; then
    pgdir=$(mktemp -d /tmp/guardian-pg.XXXXXX)
    port=$((20000 + RANDOM % 20000))
    chown postgres "$pgdir" 2>/dev/null || true
    as_pg() { if [[ $(id -u) -eq 0 ]]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
    as_pg "$pgbin/initdb -D $pgdir/data -A trust -U guardian >/dev/null"
    as_pg "$pgbin/pg_ctl -D $pgdir/data -o '-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off' -l $pgdir/log -w start >/dev/null"
    started="$pgdir"
    export GUARDIAN_TEST_POSTGRES_URL="postgresql+psycopg://guardian@127.0.0.1:$port/postgres"
    stop_pg() { as_pg "$pgbin/pg_ctl -D $pgdir/data -m fast stop >/dev/null" || true; rm -rf "$pgdir"; }
    trap stop_pg EXIT
    echo "started PostgreSQL on port $port for the tests"
  else
    echo "PostgreSQL not installed: PostgreSQL tests will be skipped" >&2
  fi
fi
.venv/bin/ruff check src tests benchmarks scripts || { echo "ruff: lint errors (run .venv/bin/ruff check --fix)"; exit 1; }
.venv/bin/python -m pytest -q -n 2 -p no:cacheprovider "$@" || code=$?
code=${code:-0}
.venv/bin/lint-imports --no-cache >/dev/null || { echo "import contracts broken"; .venv/bin/lint-imports --no-cache; exit 1; }
exit $code
