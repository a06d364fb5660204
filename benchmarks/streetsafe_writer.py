"""The Street Safe writer's cost per report: the intake's decide-and-commit of batches, on
PostgreSQL, with the fixed JSON statements (``operations.streetsafe.storage``, what the web
uses) beside SQLAlchemy Core (``portable=True``, the reference), in the same process.

Each run stores ``--reports`` new reports in batches of ``--batch`` (what a writer thread takes
from its queue under load), every report from its own client, on one connection, each batch
one transaction committed with PostgreSQL's default durability. Printed per path: reports
stored a second, and the writer's Python CPU time per report (what competes with the event
loop for the GIL in a server process). The two paths alternate, ``--rounds`` times each.

    .venv/bin/python benchmarks/streetsafe_writer.py --reports 20000 --batch 32
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from streetsafe import REASONS, _pg_cluster  # noqa: E402


def _items(it, n0: int, n: int, now: datetime, rng) -> list[dict]:
    from guardian.operations.streetsafe.sample import BASILDON_CENTRE

    la, lo = BASILDON_CENTRE
    out = []
    for i in range(n0, n0 + n):
        body = {"key": f"bench-{i:012d}-{rng.randrange(10**6):06d}",
                "lat": la + rng.uniform(-0.01, 0.01), "lon": lo + rng.uniform(-0.02, 0.02),
                "reasons": rng.sample(REASONS, rng.randint(1, 3)), "when": "now",
                "daynight": "night", "token": it.token(time.time() - 10)}
        out.append(it.prepare(body, address=f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
                              now=now))
    return out


def _run(it, conn, items: list[dict], batch: int) -> tuple[float, float]:
    """Store ``items`` in batches; returns (wall seconds, CPU seconds of this thread)."""
    w0, c0 = time.perf_counter(), time.thread_time()
    for i in range(0, len(items), batch):
        with conn.begin():
            outs = it.decide(conn, items[i:i + batch])
        bad = [o for o, _ in outs if o != "new"]
        assert not bad, bad[:3]
    return time.perf_counter() - w0, time.thread_time() - c0


def main() -> None:
    import random

    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    a.reports = min(a.reports, 200_000)  # bounded
    from guardian.operations.streetsafe.config import StreetSafeConfig
    from guardian.operations.streetsafe.intake import Intake
    from guardian.operations.streetsafe.sample import seed_force
    from guardian.store.db import get_engine

    tmp = Path(tempfile.mkdtemp(prefix="guardian-sswriter-"))
    stop_pg = None
    url = os.environ.get("GUARDIAN_BENCH_POSTGRES_URL")
    if not url:
        url, stop_pg = _pg_cluster(tmp)
    rng = random.Random(7)
    now = datetime.now(UTC)
    res: dict[str, list[tuple[float, float]]] = {"JSON statements": [], "SQLAlchemy Core": []}
    try:
        engine = get_engine(url)
        seed_force(engine, name=f"Bench {now:%H%M%S}")
        cfg = StreetSafeConfig(min_seconds=0.5, global_per_minute=10**9)
        it = Intake(engine, tmp / "home", cfg, b"b" * 32)
        print(f"{a.reports:,} reports a run in batches of {a.batch}, {a.rounds} rounds; "
              f"PostgreSQL, {os.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d}, load average "
              f"{os.getloadavg()[0]:.1f} at the start")
        n0 = 0
        with engine.connect().execution_options(immediate=True) as conn:
            for _ in range(a.rounds):
                for name, portable in (("JSON statements", False), ("SQLAlchemy Core", True)):
                    items = _items(it, n0, a.reports, now, rng)
                    n0 += a.reports
                    it.portable = portable
                    _run(it, conn, items[:a.batch * 8], a.batch)  # warm: prepared statements
                    res[name].append(_run(it, conn, items[a.batch * 8:], a.batch))
        engine.dispose()
    finally:
        if stop_pg:
            stop_pg()
        shutil.rmtree(tmp, ignore_errors=True)
    n = a.reports - a.batch * 8
    print(f"{'path':<20}{'reports/s':>11}{'CPU us/report':>15}{'vs Core (CPU)':>15}")
    ref = statistics.median(c for _, c in res["SQLAlchemy Core"]) / n
    for name, runs in res.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs) / n
        print(f"{name:<20}{n / wall:>11,.0f}{cpu * 1e6:>15.1f}{ref / cpu:>14.2f}x")


if __name__ == "__main__":
    main()
