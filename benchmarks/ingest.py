"""Benchmark: ingest the 15 bundled Essex months (254,503 rows) into SQLite and PostgreSQL.

Baseline, in the same process: a bare ``pandas.read_csv`` of the same files (no validation,
no projection, no store). Goal: complete ingest within 4x the bare parse. Each of
``GUARDIAN_BENCH_ROUNDS`` (default 5) rounds times the baseline and each store into a fresh
database; the goal is judged on the median of the per-round ratios.

PostgreSQL is measured when ``GUARDIAN_BENCH_POSTGRES_URL`` (or GUARDIAN_TEST_POSTGRES_URL)
names a server; each run uses a fresh database.

    .venv/bin/python benchmarks/ingest.py
"""

from __future__ import annotations

import os
import platform
import statistics
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


def adding_a_month(url: str, files: list[Path]) -> tuple[float, float, int]:
    """Seconds to add the last month to a store holding the others (indexes kept, rows
    checked against the stored keys), and the bare parse of that file."""
    from guardian.store.db import get_engine
    from guardian.store.ingest import ingest

    engine = get_engine(url)
    ingest(engine, files[:-1])
    t = time.perf_counter()
    (report,) = ingest(engine, files[-1:])
    dt = time.perf_counter() - t
    engine.dispose()
    base = min(bare_parse(files[-1:])[0] for _ in range(3))
    return dt, base, report.rows_read


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
    rounds = int(os.environ.get("GUARDIAN_BENCH_ROUNDS", "5"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    pg = os.environ.get("GUARDIAN_BENCH_POSTGRES_URL") or os.environ.get("GUARDIAN_TEST_POSTGRES_URL")
    if not pg:
        print("PostgreSQL: skipped (set GUARDIAN_BENCH_POSTGRES_URL)")
    # Rounds interleave the baseline and each store, so a slow spell of a shared machine hits
    # them alike; the ratio is taken within each round, and its median reported.
    times: dict[str, list[float]] = {"bare": [], "SQLite": [], "PostgreSQL": []}
    ratios: dict[str, list[float]] = {"SQLite": [], "PostgreSQL": []}
    rows = 0
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            base, rows = bare_parse(files)
            times["bare"].append(base)
            dt, n = guardian_ingest(f"sqlite:///{tmp}/bench{r}.db")
            assert n == rows, (n, rows)
            times["SQLite"].append(dt)
            ratios["SQLite"].append(dt / base)
            if pg:
                url, drop = _pg_db(pg)
                try:
                    dt, n = guardian_ingest(url)
                finally:
                    drop()
                assert n == rows, (n, rows)
                times["PostgreSQL"].append(dt)
                ratios["PostgreSQL"].append(dt / base)
    med = statistics.median
    base = med(times["bare"])
    print(f"bare pandas.read_csv: {rows:,} rows, median {base:.2f} s of {rounds} "
          f"(min {min(times['bare']):.2f}) = {rows / base:,.0f} rows/s")
    print(f"{'store':<12}{'median s':>9}{'min s':>7}{'rows/s':>10}{'x bare (median)':>17}"
          f"{'x bare (best)':>15}  goal <= 4x")
    for name in ("SQLite", "PostgreSQL"):
        if not times[name]:
            continue
        t, x = med(times[name]), med(ratios[name])
        print(f"{name:<12}{t:>9.2f}{min(times[name]):>7.2f}{rows / t:>10,.0f}{x:>17.2f}"
              f"{min(ratios[name]):>15.2f}  {'met' if x <= 4 else 'NOT met'}")
    with tempfile.TemporaryDirectory() as tmp:
        dt, base1, n1 = adding_a_month(f"sqlite:///{tmp}/add.db", files)
    print(f"adding one month ({files[-1].name}, {n1:,} rows) to the SQLite store of the other "
          f"{len(files) - 1}: {dt:.2f} s = {dt / base1:.1f}x its bare parse ({base1:.3f} s); "
          "a single file parses in one process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
