"""Benchmark: ``guardian board --force essex --quarter 2021Q4`` end to end, beside
``guardian brief --force essex --month 2021-12`` in the same run, from one SQLite store holding
the 15 bundled Essex months.

Each command is a fresh process (imports, store read, every figure, the risk map's back-test,
HTML, JSON and PDF). Goal: the board report <= 20 s on 2 cores. The briefing is the baseline
(the board report is built on the briefing's context, so the ratio shows what the quarter's
figures, the 14 themes, the traces and the governance pack add). Also prints the board's
in-process phases and checks that a rerun writes byte-identical JSON.

    .venv/bin/python benchmarks/board.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ESSEX = ROOT / "data" / "police_uk_street_essex"
GUARDIAN = str(Path(sys.executable).with_name("guardian"))


def timed(args: list[str], env: dict) -> float:
    t = time.perf_counter()
    subprocess.run([GUARDIAN, *args], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def phases(home: Path) -> dict[str, float]:
    os.environ["GUARDIAN_HOME"] = str(home)
    from guardian.operations.board.service import current_texts
    from guardian.reports.board.build import build_board
    from guardian.reports.board.render import board_json, render_html
    from guardian.reports.board.themes import load_themes
    from guardian.reports.context import gather_context
    from guardian.reports.render import render_pdf
    from guardian.store.db import get_engine

    out = {}
    t = time.perf_counter()
    engine = get_engine()
    ctx = gather_context(engine, "essex", "2021-12")
    themes = load_themes()
    texts = current_texts(engine, force=ctx.force, quarter="2021Q4")
    out["context + themes + texts"] = time.perf_counter() - t
    t = time.perf_counter()
    ctx.targeting_events  # noqa: B018 -- read once for the risk back-test
    out["targeting events read (store)"] = time.perf_counter() - t
    t = time.perf_counter()
    report = build_board(ctx, quarter="2021Q4", themes=themes, texts=texts)
    out["every section, traced (incl. risk back-test)"] = time.perf_counter() - t
    t = time.perf_counter()
    html = render_html(report)
    board_json(report)
    out["HTML + JSON"] = time.perf_counter() - t
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        render_pdf(html, Path(d) / "b.pdf")
    out["PDF (WeasyPrint)"] = time.perf_counter() - t
    out["_traces"] = len(report["provenance"]["traces"])
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    runs = ap.parse_args().runs
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, load average at start {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "GUARDIAN_HOME": str(home)}
        env.pop("GUARDIAN_DATABASE_URL", None)
        t = timed(["ingest", str(ESSEX)], env)
        print(f"setup: ingest 15 Essex months into SQLite: {t:.1f} s (not timed below)")
        board, brief = [], []
        for i in range(runs):  # interleaved, so both see the same load
            board.append(timed(["board", "--force", "essex", "--quarter", "2021Q4", "--out",
                                f"{tmp}/board{i}"], env))
            brief.append(timed(["brief", "--force", "essex", "--month", "2021-12", "--out",
                                f"{tmp}/brief{i}"], env))
        same = all((Path(tmp) / f"board{i}" / "board.json").read_bytes()
                   == (Path(tmp) / "board0" / "board.json").read_bytes() for i in range(runs))
        sizes = {p.name: p.stat().st_size for p in sorted((Path(tmp) / "board0").iterdir())}
        ph = phases(home)
    mb, mr = statistics.median(board), statistics.median(brief)
    print(f"guardian board (fresh process, HTML+JSON+PDF+governance), median of {runs}: "
          f"{mb:.2f} s (runs: {', '.join(f'{x:.2f}' for x in board)}); goal <= 20 s: "
          f"{'met' if mb <= 20 else 'NOT met'}")
    print(f"guardian brief (same store, same run), median of {runs}: {mr:.2f} s "
          f"(runs: {', '.join(f'{x:.2f}' for x in brief)})")
    print(f"ratio board / brief: {mb / mr:.2f}x")
    print(f"board.json byte-identical across the {runs} runs: {same}")
    print("  outputs: " + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in sizes.items()))
    print(f"in-process phases (board; {ph.pop('_traces')} trace entries):")
    for k, v in ph.items():
        print(f"  {k:<46} {v:6.2f} s")
    print(f"load average at end {os.getloadavg()[0]:.1f} (other work on the machine slows "
          "every figure)")


if __name__ == "__main__":
    main()
