"""Benchmark: the national picture on Dask over partitioned Parquet, and GPS-tag matching.

1. **Synthetic national police.uk set** from the real months' structure: every (force, month)
   partition of 43 forces x 120 months (2012-01..2021-12) is a resample of the rows of a real
   bundled Essex month (categories, places, outcomes, ASB share as published), with its own
   count drawn around ``rows / 5160``; written once to Parquet in the store's own layout
   (``events/force=F/month=M/part-0.parquet`` plus manifest) under ``--dir`` (default
   ``$GUARDIAN_HOME/bench-national`` or a temp dir) and reused by later runs of the same size.
2. **The national picture** (counts, rolling 12 months, rates per 1,000, national and group
   ranks for all 43) on a Dask LocalCluster at 1 and 2 workers, beside plain pandas over the
   same Parquet in one process (force by force, the same per-force function), and
   DuckDB (one SQL GROUP BY over the same files) -- each in a fresh process; wall time and peak
   memory (sum of the RSS of the process and its children, sampled every 0.2 s).
3. **Tag matching**: ``--points`` synthetic trail points (random walks of tagged subjects over
   Essex for a year, a fix every few minutes, accuracy 3-80 m) against a year of one force's
   burglaries (the real Essex burglary points of 12 bundled months, each given an exact time in
   2021 spanning 0-8 hours, as a force extract would have), on Dask at 1 and 2 workers; brute
   force (every point against every crime, numpy, in chunks) on a subset of the points for the
   ratio, and checked equal to the kernel there.

    .venv/bin/python benchmarks/national.py [--rows 65000000] [--points 100000000] [--dir D]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
ESSEX = ROOT / "data" / "police_uk_street_essex"
MONTHS = [f"{y}-{m:02d}" for y in range(2012, 2022) for m in range(1, 13)]


class Peak:
    """Peak of the summed RSS of this process and its children, sampled every 0.2 s."""

    def __init__(self) -> None:
        import psutil

        self.proc, self.peak, self._stop = psutil.Process(), 0, threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                rss = self.proc.memory_info().rss + sum(
                    c.memory_info().rss for c in self.proc.children(recursive=True))
            except psutil.Error:
                rss = 0
            self.peak = max(self.peak, rss)
            time.sleep(0.2)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.t.join()


# --------------------------------------------------------------------------------------------
# data


def _template():
    from guardian.data.policeuk import read_street
    from guardian.store.parquet import STORED

    out = []
    for p in sorted(ESSEX.glob("*.csv.gz"))[-4:]:
        f = read_street(p)
        f = f.assign(line=np.arange(2, 2 + len(f)))
        out.append(pa.Table.from_pandas(f[STORED].reset_index(drop=True), preserve_index=False))
    return out


def build_national(root: Path, rows: int, seed: int = 1) -> dict:
    """Write the synthetic national set (once per size)."""
    from guardian.data.geography import forces

    stamp = root / "_built.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("rows") == rows:
        return json.loads(stamp.read_text())
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    tmpl = _template()
    per = rows / (len(forces()) * len(MONTHS))
    total = 0
    for f in forces():
        scale = rng.uniform(0.5, 1.5)  # forces differ in size
        for m in MONTHS:
            t = tmpl[rng.integers(len(tmpl))]
            n = max(1, int(rng.poisson(per * scale)))
            take = t.take(pa.array(rng.integers(0, t.num_rows, n)))
            ts = pd.Timestamp(f"{m}-01", tz="Europe/London")
            for col, val in (("dataset", f), ("month", m), ("time", ts)):
                i = take.schema.get_field_index(col)
                take = take.set_column(i, col, pa.repeat(
                    pa.scalar(val, type=take.schema.field(i).type), n))
            d = root / "events" / f"force={f}" / f"month={m}"
            d.mkdir(parents=True)
            pq.write_table(take, d / "part-0.parquet")
            (d / "_manifest.json").write_text(json.dumps({
                "file": f"synthetic/{m}-{f}.csv", "sha256": f"{seed}-{f}-{m}", "dataset": f,
                "kind": "street", "rows_read": n, "loaded": n, "quarantined": 0,
                "duplicates": 0}))
            total += n
    info = {"rows": rows, "written": total, "partitions": len(forces()) * len(MONTHS),
            "seconds": round(time.perf_counter() - t0, 1),
            "bytes": sum(p.stat().st_size for p in root.rglob("*.parquet"))}
    stamp.write_text(json.dumps(info))
    return info


# --------------------------------------------------------------------------------------------
# picture runs (each in a fresh process: python national.py --run KIND --dir D)


def run_picture(kind: str, root: Path) -> dict:
    from guardian.operations.national import engine as ne
    from guardian.operations.national import picture as pic
    from guardian.store import parquet

    with Peak() as peak:
        t0 = time.perf_counter()
        if kind.startswith("dask"):
            w = int(kind[-1])
            with ne.dask_client(workers=w, threads_per_worker=1, memory_limit="3.5GB") as c:
                t1 = time.perf_counter()
                p = ne.picture_dask(c, root)
                t2 = time.perf_counter()
            start = t1 - t0
        elif kind == "pandas":
            t1 = t0
            parts = parquet.partitions(root)
            counts = pic.combine_counts([ne.force_counts(list(g["path"]))
                                         for _, g in parts.groupby("force")])
            loaded = parts.groupby("dataset")["month"].apply(sorted).to_dict()
            force_of, pops, groups = ne._reference(list(loaded))
            from guardian.data import geography

            p = pic.national_picture(counts, loaded, forces=geography.forces(), force_of=force_of,
                                     populations=pops, groups_config=groups)
            t2 = time.perf_counter()
            start = 0.0
        else:  # duckdb: counts in SQL, the same picture code after
            import duckdb

            t1 = t0
            con = duckdb.connect()
            con.execute("SET threads = 2")
            counts = con.execute(
                f"SELECT dataset, month, category, count(*) AS count FROM read_parquet("
                f"'{root}/events/*/*/part-*.parquet') GROUP BY ALL").df()
            parts = parquet.partitions(root)
            loaded = parts.groupby("dataset")["month"].apply(sorted).to_dict()
            force_of, pops, groups = ne._reference(list(loaded))
            from guardian.data import geography

            p = pic.national_picture(pic.combine_counts([counts]), loaded,
                                     forces=geography.forces(), force_of=force_of,
                                     populations=pops, groups_config=groups)
            t2 = time.perf_counter()
            start = 0.0
    return {"kind": kind, "seconds": round(t2 - t1, 2), "startup_s": round(start, 2),
            "peak_gb": round(peak.peak / 2**30, 2), "rows": int(p.counts["count"].sum()),
            "checksum": int((p.counts["count"] * np.arange(1, len(p.counts) + 1)).sum())}


# --------------------------------------------------------------------------------------------
# tag matching


def _crimes(seed: int = 2) -> pd.DataFrame:
    from guardian.data.policeuk import read_street

    ev = pd.concat([read_street(p) for p in sorted(ESSEX.glob("*.csv.gz"))[:12]])
    ev = ev[(ev["category"] == "Burglary") & ev["x"].notna()]
    rng = np.random.default_rng(seed)
    t0 = int(pd.Timestamp("2021-01-01", tz="UTC").timestamp())
    t = t0 + rng.integers(0, 365 * 86400, len(ev))
    return pd.DataFrame({"crime_id": ev["event_id"].astype(str).to_numpy(object),
                         "category": "Burglary", "t_start": t,
                         "t_end": t + rng.integers(0, 8 * 3600, len(ev)),
                         "x": ev["x"].to_numpy(float), "y": ev["y"].to_numpy(float)})


def _gen_bucket(path: str, b: int, n_points: int, n_subjects: int, box, seed: int) -> int:
    rng = np.random.default_rng([seed, b])
    per = n_points // n_subjects
    step = 365 * 86400 // per
    t0 = int(pd.Timestamp("2021-01-01", tz="UTC").timestamp())
    x0, x1, y0, y1 = box
    out = []
    for s in range(n_subjects):
        # a home somewhere in the county; a walk around it (reflected into the box)
        hx, hy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        x = np.clip(hx + rng.normal(0, 40, per).cumsum(), x0, x1)
        y = np.clip(hy + rng.normal(0, 40, per).cumsum(), y0, y1)
        out.append(pa.table({"subject": pa.array([f"tag-{b:02d}-{s:04d}"] * per).dictionary_encode(),
                             "t": t0 + np.arange(per, dtype=np.int64) * step
                             + rng.integers(0, step, per),
                             "x": x, "y": y,
                             "accuracy_m": rng.choice([3.0, 5.0, 10.0, 20.0, 80.0], per)}))
    tab = pa.concat_tables(out)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(tab, path)
    return tab.num_rows


def build_trails(root: Path, points: int, crimes: pd.DataFrame, buckets: int) -> dict:
    stamp = root / "_built.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("points") == points:
        return json.loads(stamp.read_text())
    import shutil

    from guardian.operations.national.engine import dask_client

    shutil.rmtree(root, ignore_errors=True)
    box = (crimes["x"].quantile(0.01), crimes["x"].quantile(0.99),
           crimes["y"].quantile(0.01), crimes["y"].quantile(0.99))
    subjects = max(1, min(60, points // buckets // 100_000))
    t0 = time.perf_counter()
    with dask_client(workers=2, memory_limit="3.5GB") as c:
        fut = [c.submit(_gen_bucket, str(root / f"bucket={b:02d}" / "points.parquet"), b,
                        points // buckets, subjects, box, 7, pure=False) for b in range(buckets)]
        n = sum(c.gather(fut))
    info = {"points": points, "written": n, "buckets": buckets, "subjects": subjects * buckets,
            "seconds": round(time.perf_counter() - t0, 1)}
    stamp.write_text(json.dumps(info))
    return info


def run_tagmatch(root: Path, workers: int, crimes_path: Path) -> dict:
    from guardian.operations.national.engine import dask_client
    from guardian.operations.tagmatch import service
    from guardian.operations.tagmatch.config import TagmatchConfig

    crimes = pd.read_parquet(crimes_path)
    paths = sorted(str(p) for p in root.glob("bucket=*/points.parquet"))
    cfg = TagmatchConfig()
    with Peak() as peak:
        with dask_client(workers=workers, threads_per_worker=1, memory_limit="3.5GB") as c:
            t1 = time.perf_counter()
            [cc] = c.scatter([crimes], broadcast=True)
            hits = pd.concat(c.gather([c.submit(service._bucket_task, [p], cc, cfg, pure=False)
                                       for p in paths]), ignore_index=True)
            t2 = time.perf_counter()
    return {"kind": f"tagmatch-dask{workers}", "seconds": round(t2 - t1, 2),
            "peak_gb": round(peak.peak / 2**30, 2), "hits": len(hits), "crimes": len(crimes)}


def brute(points: pd.DataFrame, crimes: pd.DataFrame, cfg) -> set:
    """Every point against every crime (numpy, 2,000 points at a time): the (crime, subject)
    pairs with a point within reach."""
    from guardian.analysis.tagmatch import window_for

    pts = points[points["accuracy_m"] <= cfg.max_accuracy_m]
    w = [window_for(c, cfg.windows, cfg.default) for c in crimes["category"]]
    dist = np.array([x.distance_m for x in w])
    lo = crimes["t_start"].to_numpy() - np.array([x.before_s for x in w])
    hi = crimes["t_end"].to_numpy() + np.array([x.after_s for x in w])
    cx, cy = crimes["x"].to_numpy(), crimes["y"].to_numpy()
    px, py, pt = pts["x"].to_numpy(), pts["y"].to_numpy(), pts["t"].to_numpy()
    acc, subj = pts["accuracy_m"].to_numpy(), pts["subject"].astype(str).to_numpy()
    found = set()
    for i in range(0, len(px), 2000):
        sl = slice(i, i + 2000)
        d = np.hypot(px[sl, None] - cx[None, :], py[sl, None] - cy[None, :])
        ok = (d <= dist[None, :] + acc[sl, None]) & (pt[sl, None] >= lo[None, :]) & \
            (pt[sl, None] <= hi[None, :])
        a, b = np.nonzero(ok)
        found.update(zip(crimes["crime_id"].to_numpy()[b], subj[sl][a], strict=True))
    return found


# --------------------------------------------------------------------------------------------


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                         check=False)
    if out.returncode:
        raise SystemExit(f"{args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=65_000_000)
    ap.add_argument("--points", type=int, default=100_000_000)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--brute-points", type=int, default=200_000)
    ap.add_argument("--skip", choices=["picture", "tagmatch"], default=None)
    ap.add_argument("--run", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    base = args.dir or Path(os.environ.get("GUARDIAN_HOME") or tempfile.gettempdir()) / "bench-national"
    nat, tag = base / f"national-{args.rows}", base / f"trails-{args.points}"
    if args.run:  # a measured child process
        if args.run.startswith("tagmatch"):
            print(json.dumps(run_tagmatch(tag, int(args.run[-1]), base / "crimes.parquet")))
        else:
            print(json.dumps(run_picture(args.run, nat)))
        return
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    if args.skip != "picture":
        info = build_national(nat, args.rows)
        print(f"national set: {info['written']:,} rows in {info['partitions']:,} partitions, "
              f"{info['bytes'] / 2**30:.2f} GiB Parquet (built in {info['seconds']} s, cached)")
        res = {k: _child(["--run", k, "--rows", str(args.rows), "--points", str(args.points),
                          "--dir", str(base)])
               for k in ("dask1", "dask2", "pandas", "duckdb")}
        assert len({r["checksum"] for r in res.values()}) == 1, "engines disagree"
        for k, r in res.items():
            print(f"  picture {k:7s}: {r['seconds']:7.1f} s (+{r['startup_s']:.1f} s cluster "
                  f"start), peak {r['peak_gb']:.2f} GiB, {r['rows']:,} rows")
        print(f"  ratio pandas / dask2 = {res['pandas']['seconds'] / res['dask2']['seconds']:.2f}; "
              f"dask1 / dask2 = {res['dask1']['seconds'] / res['dask2']['seconds']:.2f}; "
              f"duckdb / dask2 = {res['duckdb']['seconds'] / res['dask2']['seconds']:.2f}")
    if args.skip != "tagmatch":
        crimes = _crimes()
        base.mkdir(parents=True, exist_ok=True)
        crimes.to_parquet(base / "crimes.parquet")
        buckets = max(2, min(64, args.points // 1_500_000))
        info = build_trails(tag, args.points, crimes, buckets)
        print(f"trails: {info['written']:,} points of {info['subjects']} subjects in "
              f"{info['buckets']} buckets (built in {info['seconds']} s, cached); "
              f"{len(crimes):,} burglaries")
        res = {w: _child(["--run", f"tagmatch{w}", "--rows", str(args.rows), "--points",
                          str(args.points), "--dir", str(base)]) for w in (1, 2)}
        for w, r in res.items():
            print(f"  tagmatch dask{w}: {r['seconds']:7.1f} s, peak {r['peak_gb']:.2f} GiB, "
                  f"{r['hits']:,} hits")
        # brute force on a subset, checked equal to the kernel there
        from guardian.analysis.tagmatch import match_tags
        from guardian.operations.tagmatch.config import TagmatchConfig

        cfg = TagmatchConfig()
        sub = pq.read_table(str(tag / "bucket=00" / "points.parquet")).slice(
            0, args.brute_points).to_pandas()
        t0 = time.perf_counter()
        fast = match_tags(sub, crimes)
        tk = time.perf_counter() - t0
        t0 = time.perf_counter()
        slow = brute(sub, crimes, cfg)
        tb = time.perf_counter() - t0
        assert set(zip(fast["crime_id"], fast["subject"].astype(str), strict=True)) == slow
        per_point = tb / len(sub)
        print(f"  brute force on {len(sub):,} points: {tb:.1f} s vs kernel {tk:.2f} s "
              f"(ratio {tb / tk:.0f}x; {len(slow):,} hits, equal); brute force for all "
              f"{info['written']:,} points would take ~{per_point * info['written'] / 3600:.1f} h "
              f"on one core")
        print(f"  ratio tagmatch dask1 / dask2 = {res[1]['seconds'] / res[2]['seconds']:.2f}")


if __name__ == "__main__":
    main()
