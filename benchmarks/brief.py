"""Benchmark: ``guardian brief`` for Essex 2021-12 from a store holding the 15 bundled months,
end to end (a fresh process: imports, store read, every figure, charts and maps -- harm spots,
the risk map with its six-window back-test -- HTML, JSON, the interactive map and the PDF).

Goal: <= 10 s on 2 cores.

Baselines, in the same process:

* **bare read** -- ``pandas.read_csv`` of the 15 files, nothing computed (the floor for anything
  that starts from the published files);
* **naive recomputation** -- the way a spreadsheet-style script produces the same figures: after
  the read, one boolean filter + count over the whole frame per figure (monthly totals, month x
  category for the month, previous month, last year and baseline, district x category for the
  month), without sharing aggregates -- and without charts, PDF, anomalies or harm.

Also reports Guardian's in-process phases (store read, figures, charts, HTML, PDF).

    .venv/bin/python benchmarks/brief.py
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
ESSEX = ROOT / "data" / "police_uk_street_essex"
MONTH = "2021-12"
RUNS = 3


def bare_read(files: list[Path]) -> tuple[float, pd.DataFrame]:
    t = time.perf_counter()
    df = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    return time.perf_counter() - t, df


def naive_figures(df: pd.DataFrame) -> tuple[float, int]:
    """One filter-and-count over the whole frame per figure (no shared aggregation)."""
    t = time.perf_counter()
    lsoa = pd.read_csv(ROOT / "src" / "guardian" / "data" / "reference" / "lsoa2011.csv.gz")
    lad = dict(zip(lsoa["lsoa_code"], lsoa["lad_name"], strict=True))
    df = df.assign(district=df["LSOA code"].map(lad))
    months = sorted(df["Month"].unique())
    cats = sorted(df["Crime type"].unique())
    districts = sorted(df["district"].dropna().unique())
    n = 0
    for m in months:  # monthly crime / ASB totals
        for asb in (True, False):
            n += int(
                ((df["Month"] == m) & ((df["Crime type"] == "Anti-social behaviour") == asb)).sum()
            )
    for m in months[-2:] + [
        "2020-12",
        "2019-12",
    ]:  # month x category: month, previous, LY, baseline
        for c in cats:
            n += int(((df["Month"] == m) & (df["Crime type"] == c)).sum())
    for d in districts:  # district x category for the month (rates, harm)
        for c in cats:
            n += int(
                ((df["Month"] == MONTH) & (df["district"] == d) & (df["Crime type"] == c)).sum()
            )
    return time.perf_counter() - t, n


def run_cli(home: Path, out: Path) -> float:
    env = {**os.environ, "GUARDIAN_HOME": str(home)}
    env.pop("GUARDIAN_DATABASE_URL", None)
    t = time.perf_counter()
    subprocess.run(
        [
            str(Path(sys.executable).with_name("guardian")),
            "brief",
            "--force",
            "essex",
            "--month",
            MONTH,
            "--out",
            str(out),
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - t


def phases(home: Path) -> dict[str, float]:
    os.environ["GUARDIAN_HOME"] = str(home)
    from guardian.reports.briefing import build_briefing
    from guardian.reports.context import gather_context
    from guardian.reports.render import briefing_json, render_html, render_pdf
    from guardian.store.db import get_engine

    out = {}
    t = time.perf_counter()
    engine = get_engine()
    ctx = gather_context(engine, "essex", MONTH)
    out["gather context (store read)"] = time.perf_counter() - t
    t = time.perf_counter()
    ctx.picture  # noqa: B018 -- shared aggregates
    out["aggregates + anomalies"] = time.perf_counter() - t
    from guardian.reports.briefing import SECTIONS

    targeting = ("harm_spots", "risk", "cocoons", "patrols")
    t = time.perf_counter()
    ctx.targeting_events  # noqa: B018 -- the targeting sections' event frame, read once
    out["targeting events read (store)"] = time.perf_counter() - t
    t = time.perf_counter()
    build_briefing(ctx, [s for s in SECTIONS if s.key not in targeting])
    out["performance sections (figures + 3 charts)"] = time.perf_counter() - t
    for s in SECTIONS:
        if s.key in targeting:
            t = time.perf_counter()
            s.build(ctx)
            out[f"section {s.key}"] = time.perf_counter() - t
    data = build_briefing(ctx)  # (harm spots cached on the context: not timed again)
    t = time.perf_counter()
    from guardian.reports.interactive import render_map_html

    render_map_html(data)
    out["interactive map page"] = time.perf_counter() - t
    t = time.perf_counter()
    html = render_html(data)
    briefing_json(data)
    out["HTML + JSON"] = time.perf_counter() - t
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        render_pdf(html, Path(d) / "b.pdf")
    out["PDF (WeasyPrint)"] = time.perf_counter() - t
    engine.dispose()
    return out


def main() -> None:
    files = sorted(ESSEX.glob("*-essex-street.csv.gz"))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average at start {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "GUARDIAN_HOME": str(home)}
        env.pop("GUARDIAN_DATABASE_URL", None)
        t = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).with_name("guardian")), "ingest", str(ESSEX)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        print(
            f"setup: ingest 15 Essex months into SQLite: {time.perf_counter() - t:.1f} s (not timed below)"
        )

        cli = [run_cli(home, Path(tmp) / f"out{i}") for i in range(RUNS)]
        out = Path(tmp) / "out0"
        sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
        ph = phases(home)

    rd, df = bare_read(files)
    nv, _ = naive_figures(df)
    med = statistics.median(cli)
    print(f"rows: {len(df):,} in {len(files)} files")
    print(
        f"guardian brief (fresh process, HTML+JSON+PDF), median of {RUNS}: {med:.2f} s "
        f"(runs: {', '.join(f'{x:.2f}' for x in cli)}); goal <= 10 s: {'met' if med <= 10 else 'NOT met'}"
    )
    print("  outputs: " + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in sizes.items()))
    print("in-process phases:")
    for k, v in ph.items():
        print(f"  {k:<36} {v:6.2f} s")
    figs = sum(
        v
        for k, v in ph.items()
        if k in ("aggregates + anomalies", "performance sections (figures + 3 charts)")
    )
    print(f"baseline: bare pandas.read_csv of the files: {rd:.2f} s")
    print(f"baseline: naive filter-and-count per figure (after the read): {nv:.2f} s")
    print(f"ratio guardian brief end to end / bare read: {med / rd:.2f}x")
    print(
        f"ratio naive script (read + per-figure counts, no charts/PDF) / guardian brief end to end: "
        f"{(rd + nv) / med:.1f}x"
    )
    print(
        f"ratio naive per-figure counting / Guardian aggregates+performance sections: "
        f"{nv / figs:.1f}x"
    )
    print(
        f"load average at end {os.getloadavg()[0]:.1f} (other work on the machine slows every figure)"
    )


if __name__ == "__main__":
    main()
