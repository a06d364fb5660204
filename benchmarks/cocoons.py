"""Benchmark: opening burglary cocoons on real data, against a plain-Python baseline.

Run: ``.venv/bin/python benchmarks/cocoons.py`` (about 2 minutes on 2 cores).

Data: ``data/chicago_residential_burglary_2016/chicago_be.csv`` (11,700 dated residential
burglaries, day resolution), loaded into a fresh SQLite store in a temporary folder.

End to end: :func:`guardian.operations.cocoons.service.open_cocoons` (read burglaries
from the store, group them with a k-d tree and connected components, write cocoons, members
and visit tasks, recompute near repeats), default parameters (400 m, 42 days, 20 visits per
burglary). Then :func:`cocoon_section_data` (what the briefing asks for) and an incremental
daily run (one more day of burglaries into a store that holds the rest of the year).

(1) The grouping kernel (:func:`link_burglaries`: k-d tree pairs + sparse connected components)
against the baseline, what one writes without a spatial index: a plain-Python union-find over
every pair of burglaries (distance <= 800 m and < 42 days apart). Both run in this process on
January, January-March and the full year; they must find the same number of cocoons.
(2) Guardian end to end (no baseline: absolute times).
"""

from __future__ import annotations

import itertools
import math
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "chicago_residential_burglary_2016" / "chicago_be.csv"
MAPPING = REPO / "mappings" / "chicago_be.toml"


def baseline_groups(frame: pd.DataFrame, r: float = 400.0, w: float = 42.0) -> int:
    pts = list(frame[["X", "Y", "day"]].itertuples(index=False, name=None))
    parent = list(range(len(pts)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for (i, (xa, ya, ta)), (j, (xb, yb, tb)) in itertools.combinations(enumerate(pts), 2):
        if abs(ta - tb) < w and math.hypot(xa - xb, ya - yb) <= 2 * r:
            parent[find(i)] = find(j)
    return len({find(i) for i in range(len(pts))})


def fresh_store():
    from guardian.data.extract import ExtractMapping
    from guardian.store.db import get_engine
    from guardian.store.ingest import ingest

    d = tempfile.mkdtemp(prefix="guardian-bench-cocoons-")
    engine = get_engine(f"sqlite:///{d}/store.db")
    ingest(engine, [DATA], mapping=ExtractMapping.from_toml(MAPPING), workers=1)
    return engine


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    import numpy as np

    from guardian.operations.cocoons.service import (
        cocoon_section_data,
        link_burglaries,
        open_cocoons,
    )

    raw = pd.read_csv(DATA).dropna(subset=["X", "Y", "date"])
    raw["day"] = (pd.to_datetime(raw["date"]) - pd.Timestamp("2016-01-01")).dt.days
    print(f"data: {len(raw):,} burglaries, Chicago 2016 (day resolution)")

    print("\n(1) grouping kernel (merge rule 800 m / 42 days) vs plain-Python union-find")
    print(f"{'subset':10} {'burglaries':>10} {'cocoons':>8} {'guardian s':>11} {'baseline s':>11} "
          f"{'ratio':>8}")
    month = raw["date"].str[:7]
    for label, last in (("January", "2016-01"), ("Jan-Mar", "2016-03"), ("full year", "2016-12")):
        sub = raw[(month >= "2016-01") & (month <= last)] if last != "2016-12" else raw
        t, x, y = (sub["day"].to_numpy(float), sub["X"].to_numpy(float), sub["Y"].to_numpy(float))
        labels, g = timed(lambda: link_burglaries(t, x, y, 400.0, 42.0))  # noqa: B023
        n_base, b = timed(lambda: baseline_groups(sub))  # noqa: B023
        n_mine = len(np.unique(labels))
        assert n_base == n_mine, (n_base, n_mine)
        print(f"{label:10} {len(sub):>10,} {n_mine:>8,} {g:>11.3f} {b:>11.2f} {b / g:>7.0f}x")

    print("\n(2) end to end in a SQLite store (read, group, write cocoons/members/visits)")
    end_of = {"2016-01": datetime(2016, 2, 1, 6, tzinfo=UTC)}
    engine = fresh_store()
    rep, g = timed(lambda: open_cocoons(engine, dataset="chicago_be", as_of=end_of["2016-01"],
                                        start_month="2016-01", end_month="2016-01"))
    print(f"January: {rep.added:,} burglaries -> {rep.cocoons_opened:,} cocoons, "
          f"{rep.visits_planned:,} visits in {g:.2f} s")
    engine.dispose()
    engine = fresh_store()
    before = datetime(2016, 12, 31, 5, 59, tzinfo=UTC)  # just before 31 Dec in Chicago
    rep, g = timed(lambda: open_cocoons(engine, dataset="chicago_be", as_of=before))
    print(f"full year to 30 Dec: {rep.added:,} burglaries -> {rep.cocoons_opened:,} cocoons, "
          f"{rep.visits_planned:,} visits in {g:.2f} s")
    year_end = datetime(2017, 1, 1, 6, tzinfo=UTC)
    rep, g = timed(lambda: open_cocoons(engine, dataset="chicago_be", as_of=year_end))
    print(f"incremental daily run (31 Dec): {rep.added:,} burglaries added, "
          f"{rep.joined_existing} joined existing cocoons, in {g:.2f} s")
    for when in (datetime(2016, 7, 1, 5, tzinfo=UTC), year_end):
        sec, g = timed(lambda: cocoon_section_data(engine, dataset="chicago_be", as_of=when))  # noqa: B023
        print(f"briefing section as of {when:%Y-%m-%d}: {len(sec['cocoons'])} live cocoons, "
              f"{sec['overdue_count']:,} overdue visits (no visit recorded), in {g:.2f} s")


if __name__ == "__main__":
    main()
