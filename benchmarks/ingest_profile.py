"""Where an ingest's time goes: CPU seconds per process and wall time per phase.

Loads the 15 bundled Essex months (as ``benchmarks/ingest.py`` does) into a fresh SQLite file
and, when ``GUARDIAN_BENCH_POSTGRES_URL`` names a server, a fresh PostgreSQL database, and
prints for each run: wall time; CPU of the writer (this process), of the parsing workers (its
children) and of the PostgreSQL server's processes (read from ``/proc``: only when the server
runs on this machine, else "n/a"); and the writer's wall time storing files, building the
indexes and waiting for the workers' results. A companion to the ratio ``ingest.py`` judges,
not a goal of its own.

    .venv/bin/python benchmarks/ingest_profile.py
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from ingest import ESSEX, _pg_db

ROUNDS = int(os.environ.get("GUARDIAN_BENCH_ROUNDS", "3"))


def _postgres_cpu() -> float | None:
    """CPU seconds used so far by the processes named postgres on this machine (None: none)."""
    tick, total, seen = os.sysconf("SC_CLK_TCK"), 0.0, False
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if "postgres" not in Path(f"/proc/{pid}/comm").read_text():
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
        seen = True
    return total if seen else None


def _cpu(who) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def profile(url: str) -> dict:
    import guardian.store.ingest as ing
    from guardian.store.db import get_engine

    phases: dict[str, float] = defaultdict(float)
    originals = {}
    for name, label in (("load", "storing files"), ("build_indexes", "index builds")):
        originals[name] = f = getattr(ing._Loader, name)

        def timed(*a, _f=f, _label=label, **k):
            t = time.perf_counter()
            try:
                return _f(*a, **k)
            finally:
                phases[_label] += time.perf_counter() - t

        setattr(ing._Loader, name, timed)
    try:
        engine = get_engine(url)
        with engine.connect():
            pass  # connected and migrated before the clock starts
        pg0 = _postgres_cpu() if engine.dialect.name == "postgresql" else None
        me0, kids0 = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        ing.ingest(engine, [ESSEX])
        wall = time.perf_counter() - t
        me, kids = _cpu(resource.RUSAGE_SELF) - me0, _cpu(resource.RUSAGE_CHILDREN) - kids0
        pg = _postgres_cpu() - pg0 if pg0 is not None else None
        engine.dispose()
    finally:
        for name, f in originals.items():
            setattr(ing._Loader, name, f)
    return {"wall": wall, "writer": me, "workers": kids, "server": pg, **phases}


def show(name: str, r: dict) -> None:
    server = f"{r['server']:.2f}" if r["server"] is not None else "n/a"
    rest = r["wall"] - r["storing files"] - r["index builds"]
    print(f"{name:<11}{r['wall']:>6.2f}{r['writer']:>8.2f}{r['workers']:>9.2f}{server:>8}"
          f"{r['storing files']:>9.2f}{r['index builds']:>8.2f}{rest:>8.2f}")


def main() -> int:
    print(f"machine: {os.cpu_count()} cores; 15 Essex months (254,503 rows), {ROUNDS} rounds each")
    print(f"{'store':<11}{'wall':>6}{'writer':>8}{'workers':>9}{'server':>8}"
          f"{'storing':>9}{'indexes':>8}{'other':>8}")
    print(f"{'':<11}{'s':>6}{'CPU-s':>8}{'CPU-s':>9}{'CPU-s':>8}{'wall s':>9}{'wall s':>8}{'wall s':>8}")
    pg = os.environ.get("GUARDIAN_BENCH_POSTGRES_URL") or os.environ.get("GUARDIAN_TEST_POSTGRES_URL")
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(ROUNDS):
            show("SQLite", profile(f"sqlite:///{tmp}/p{r}.db"))
            if pg:
                url, drop = _pg_db(pg)
                try:
                    show("PostgreSQL", profile(url))
                finally:
                    drop()
    print("other = start-up, the first file parsed by the writer, waits for the workers, ANALYZE "
          "(PostgreSQL) and commit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
