"""Benchmark: hot-spot patrol planning, visit logging and dosage on the bundled Essex data.

Run: .venv/bin/python benchmarks/patrols.py [--postgres URL]

Loads the 15 bundled Essex months into a throwaway SQLite store (or a PostgreSQL database given
by URL), then times

* ``create_plan`` for Southend-on-Sea (12-month window, 20 spots of 150 m, Gi* included, stored),
  against a baseline in the same process: the pandas script an analyst would write today —
  read the street CSVs of the window, project lon/lat, keep the district's LSOAs and the
  street-violence categories, weight by the harm table, group into 150 m cells, take the top 20
  (no significance test, nothing stored);
* ``log_visit`` per visit (1,000 visits);
* ``plan_dosage`` on those 1,000 visits.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Transformer

REPO = Path(__file__).resolve().parents[1]
ESSEX = REPO / "data" / "police_uk_street_essex"
HARM_CSV = REPO / "src" / "guardian" / "data" / "reference" / "harm_index_v1.csv"
LSOA_CSV = REPO / "src" / "guardian" / "data" / "reference" / "lsoa2011.csv.gz"
DISTRICT = "Southend-on-Sea UA"
WINDOW = [f"2021-{m:02d}" for m in range(3, 13)]  # what a 12-month window before 2022-01 finds


def pandas_baseline() -> pd.DataFrame:
    from guardian.operations.patrols.planning import DEFAULT_PATROL_CATEGORIES

    raw = pd.concat([pd.read_csv(gzip.open(ESSEX / f"{m}-essex-street.csv.gz")) for m in WINDOW],
                    ignore_index=True)
    lsoa = pd.read_csv(LSOA_CSV, dtype=str)
    codes = set(lsoa.loc[(lsoa["force"] == "Essex") & (lsoa["lad_name"] == DISTRICT), "lsoa_code"])
    raw = raw[raw["LSOA code"].isin(codes) & raw["Crime type"].isin(DEFAULT_PATROL_CATEGORIES)]
    raw = raw.dropna(subset=["Longitude", "Latitude"]).drop_duplicates("Crime ID")
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True).transform(
        raw["Longitude"].to_numpy(), raw["Latitude"].to_numpy())
    w = pd.read_csv(HARM_CSV).set_index("category")["weight"]
    df = pd.DataFrame({"gx": np.floor(x / 150).astype(int), "gy": np.floor(y / 150).astype(int),
                       "harm": raw["Crime type"].map(w).to_numpy()})
    return df.groupby(["gx", "gy"])["harm"].sum().nlargest(20).reset_index()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", help="PostgreSQL URL of an empty database")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from guardian.operations.patrols import service as S
    from guardian.store.db import get_engine
    from guardian.store.ingest import ingest

    tmp = tempfile.TemporaryDirectory()
    url = args.postgres or f"sqlite:///{tmp.name}/bench.db"
    engine = get_engine(url)
    t = time.perf_counter()
    ingest(engine, [ESSEX])
    print(f"store: {engine.dialect.name}; ingest of 15 Essex months {time.perf_counter() - t:.1f} s")

    plan_t, base_t = [], []
    week = date(2022, 1, 3)
    plan = None
    for k in range(args.repeats):
        t = time.perf_counter()
        top = pandas_baseline()
        base_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        plan = S.create_plan(engine, dataset="Essex Police", district=DISTRICT,
                             week=week + timedelta(days=7 * k), random_days=3, random_state=k)
        plan_t.append(time.perf_counter() - t)
    assert plan is not None
    same = {(int(a), int(b)) for a, b in top[["gx", "gy"]].itertuples(index=False)} == {
        (s["gx"], s["gy"]) for s in plan["spots"]}
    p_med, b_med = statistics.median(plan_t), statistics.median(base_t)
    print(f"create_plan (Southend, 10 months, 20 spots, Gi*, stored): median {p_med:.2f} s "
          f"of {args.repeats}")
    print(f"baseline pandas script from CSV (top 20 cells only):      median {b_med:.2f} s")
    print(f"ratio plan / baseline: {p_med / b_med:.2f} (same 20 cells: {same})")

    rng = np.random.default_rng(0)
    n = 1000
    t = time.perf_counter()
    days = plan["days"]
    for i in range(n):
        d = days[i % 7]
        start = pd.Timestamp(f"{d}T08:00") + pd.Timedelta(minutes=int(i // 7) * 1)
        mins = int(rng.integers(5, 40))
        S.log_visit(engine, plan_id=plan["id"], spot=int(rng.integers(1, 21)),
                    start=start.isoformat(), end=(start + pd.Timedelta(minutes=mins)).isoformat(),
                    officer=f"PC {i}")
    log_s = time.perf_counter() - t
    print(f"log_visit: {n} visits in {log_s:.2f} s ({1000 * log_s / n:.1f} ms per visit)")
    t = time.perf_counter()
    d = S.plan_dosage(engine, plan_id=plan["id"])
    print(f"plan_dosage on {d['totals']['visits_logged']} visits: "
          f"{time.perf_counter() - t:.3f} s (Koper share {d['totals']['koper_share']:.2f})")
    engine.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
