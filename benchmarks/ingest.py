"""Benchmark: ingest the 15 bundled Essex months (254,503 rows) into SQLite and PostgreSQL.

Baseline, in the same process: a bare ``pandas.read_csv`` of the same files (no validation,
no projection, no store). Goal: complete ingest within 4x the bare parse.

PostgreSQL is measured when ``GUARDIAN_BENCH_POSTGRES_URL`` (or GUARDIAN_TEST_POSTGRES_URL)
names a server; each run uses a fresh database.

    .venv/bin/python benchmarks/ingest.py
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
ESSEX = ROOT / "data" / "police_uk_street_essex"


def bare_parse(files: list[Path]) -> tuple[float, int]:
    t = time.perf_counter()
    n = sum(len(pd.read_csv(f)) for f in files)
    return time.perf_counter() - t, n


def guardian_ingest(url: str) -> tuple[float, int]:
    from guardian.store.db import get_engine
    from guardian.store.ingest import ingest

    engine = get_engine(url)
    t = time.perf_counter()
    reports = ingest(engine, [ESSEX])
    dt = time.perf_counter() - t
    engine.dispose()
    return dt, sum(r.rows_read for r in reports)


def _pg_db(base: str) -> tuple[str, callable]:
    from sqlalchemy import create_engine, text

    name = "gbench_" + uuid.uuid4().hex[:8]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.rsplit("/", 1)[0] + "/" + name, drop


def main() -> int:
    files = sorted(ESSEX.glob("*.csv.gz"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    base, rows = min(bare_parse(files) for _ in range(3))
    print(f"bare pandas.read_csv: {rows:,} rows in {base:.2f} s ({rows / base:,.0f} rows/s)")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        best = min(guardian_ingest(f"sqlite:///{tmp}/bench{i}.db") for i in range(2))
        results.append(("SQLite", *best))
    pg = os.environ.get("GUARDIAN_BENCH_POSTGRES_URL") or os.environ.get("GUARDIAN_TEST_POSTGRES_URL")
    if pg:
        runs = []
        for _ in range(2):
            url, drop = _pg_db(pg)
            try:
                runs.append(guardian_ingest(url))
            finally:
                drop()
        results.append(("PostgreSQL", *min(runs)))
    else:
        print("PostgreSQL: skipped (set GUARDIAN_BENCH_POSTGRES_URL)")
    print(f"{'store':<12}{'seconds':>9}{'rows/s':>12}{'x bare parse':>14}  goal <= 4x")
    for name, dt, n in results:
        assert n == rows, (n, rows)
        print(f"{name:<12}{dt:>9.2f}{n / dt:>12,.0f}{dt / base:>14.2f}  {'met' if dt / base <= 4 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
