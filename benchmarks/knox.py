"""Benchmark: Guardian's Knox test against a brute-force full-matrix Knox test.

Run: ``.venv/bin/python benchmarks/knox.py`` (about 2-4 minutes on 2 cores).

Scenarios (space bands 0-500 m by 100 m, time bands 0-56 days by 7, 999 permutations,
Euclidean distance, left-closed bands, open-ended last bands):

(a) every dated event of ``data/chicago_residential_burglary_2016/chicago_be.csv``
    (11,701 rows, one has no date: 11,700 events);
(b) 100,000 events in the same area: the real points resampled with replacement, each moved by
    a uniform jitter of +-50 m in x and y, dates spread uniformly over 8.5 years (3,105 days).

Baseline: the approach of the R package NearRepeat and of open_cp's Knox code, vectorised with
numpy: the full condensed distance matrix (``scipy.spatial.distance.pdist``, n(n-1)/2 doubles)
classified once into space bands; then for every permutation the full condensed matrix of time
differences of the permuted times, classified and counted. It runs in this process. It is run
for a few permutations only and the per-permutation time is multiplied by 999 (stated as an
extrapolation). For (b) the matrices (5 x 10^9 pairs, 40 GB per array) cannot be built on this
machine, so the baseline is measured on a 20,000-event subsample of (b) and scaled by the pair
count (n^2) -- again an extrapolation, printed as such.

Guardian runs in a child process (``--child``) so that its peak resident memory is clean; the
child reports wall time, CPU time, peak RSS (``VmHWM``) and the traced peak of the call.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data" / "chicago_residential_burglary_2016" / "chicago_be.csv"
SPACE = list(range(0, 501, 100))
TIME = list(range(0, 57, 7))
PERMUTATIONS = 999


def load_a() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = pd.read_csv(DATA).dropna(subset=["X", "Y", "date"])
    t = (pd.to_datetime(d["date"]) - pd.to_datetime(d["date"]).min()).dt.days.to_numpy(float)
    return d["X"].to_numpy(float), d["Y"].to_numpy(float), t


def load_b(n: int = 100_000, seed: int = 20261124) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y, _ = load_a()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, n)
    xb = x[idx] + rng.uniform(-50, 50, n)
    yb = y[idx] + rng.uniform(-50, 50, n)
    tb = rng.integers(0, 3105, n).astype(float)  # 8.5 years of days
    return xb, yb, tb


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM; ru_maxrss can carry the parent's peak
    across fork+exec on Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(which: str, repeat: int) -> None:
    """Run Guardian `repeat` times on scenario `which`; print a JSON line with the figures
    (best wall time and the CPU time of that run)."""
    from guardian.analysis.nearrepeat import knox_test

    x, y, t = load_a() if which == "a" else load_b()
    rss_before = peak_rss_mb()
    # a short warm-up on a slice (imports, thread pool, caches), not counted
    knox_test(
        x[:2000],
        y[:2000],
        t[:2000],
        space_bands=SPACE,
        time_bands=TIME,
        permutations=9,
        random_state=0,
    )
    walls, cpus = [], []
    for _ in range(repeat):
        tracemalloc.start()
        t0 = time.perf_counter()
        c0 = time.process_time()
        r = knox_test(
            x, y, t, space_bands=SPACE, time_bands=TIME, permutations=PERMUTATIONS, random_state=1
        )
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    best = int(np.argmin(walls))
    print(
        json.dumps(
            {
                "n": int(x.size),
                "close_pairs": r.n_close_pairs,
                "wall_s": walls[best],
                "cpu_s": cpus[best],
                "walls": walls,
                "load_average": os.getloadavg()[0],
                "peak_rss_mb": peak_rss_mb(),
                "rss_before_mb": rss_before,
                "traced_peak_mb": traced_peak / 2**20,
                "observed": r.observed.tolist(),
                "significant": len(r.significant),
            }
        )
    )


def guardian(which: str, repeat: int = 1) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", which, "--repeat", str(repeat)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def brute_force(x: np.ndarray, y: np.ndarray, t: np.ndarray, permutations: int, seed: int = 1):
    """Full-matrix Knox (observed table + `permutations` permutations); times and peak memory."""
    from scipy.spatial.distance import pdist

    tracemalloc.start()
    t0 = time.perf_counter()
    n = x.size
    s_edges = np.asarray(SPACE, float)
    t_edges = np.asarray(TIME, float)
    ns, nt = len(SPACE), len(TIME)  # finite bands + open-ended band each
    d = pdist(np.column_stack([x, y]))  # n(n-1)/2 doubles
    s_code = (np.searchsorted(s_edges, d, side="right") - 1).astype(np.int16)  # 0..ns-1
    del d
    s_code *= nt

    def table(times: np.ndarray) -> np.ndarray:
        dt = pdist(times[:, None], "cityblock")
        code = np.searchsorted(t_edges, dt, side="right") - 1
        del dt
        code += s_code
        return np.bincount(code, minlength=ns * nt).reshape(ns, nt)

    observed = table(t)
    setup = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    t1 = time.perf_counter()
    for _ in range(permutations):
        table(t[rng.permutation(n)])
    per_perm = (time.perf_counter() - t1) / permutations
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return observed, setup, per_perm, peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", choices=["a", "b"], help=argparse.SUPPRESS)
    ap.add_argument(
        "--baseline-permutations",
        type=int,
        default=3,
        help="permutations actually run by the brute force (then extrapolated)",
    )
    ap.add_argument("--skip-b", action="store_true", help="only scenario (a)")
    ap.add_argument(
        "--repeat", type=int, default=5, help="Guardian runs for (a); the best is reported"
    )
    args = ap.parse_args()
    if args.child:
        run_child(args.child, args.repeat)
        return

    print(
        f"Knox benchmark  (cpus available: {len(os.sched_getaffinity(0))}, "
        f"load average now: {os.getloadavg()[0]:.2f})"
    )
    print(f"space bands {SPACE} m, time bands {TIME} days, {PERMUTATIONS} permutations\n")

    # ---- (a) ----
    x, y, t = load_a()
    g = guardian("a", args.repeat)
    obs_b, setup_b, per_perm_b, peak_b = brute_force(x, y, t, args.baseline_permutations)
    total_b = setup_b + PERMUTATIONS * per_perm_b
    same = np.array_equal(np.asarray(g["observed"]), obs_b)
    print(f"(a) chicago_be.csv: {x.size:,} events, {g['close_pairs']:,} pairs within 500 m")
    print(
        f"    Guardian      : {g['wall_s']:.2f} s wall, best of {len(g['walls'])} "
        f"(all: {', '.join(f'{w:.2f}' for w in g['walls'])}; load average {g['load_average']:.1f})"
    )
    print(
        f"                    {g['cpu_s']:.2f} s CPU, peak RSS "
        f"{g['peak_rss_mb']:.0f} MB (process; {g['rss_before_mb']:.0f} MB before the call), "
        f"traced peak of the call {g['traced_peak_mb']:.0f} MB"
    )
    print(
        f"    brute force   : setup + observed {setup_b:.2f} s, {per_perm_b:.2f} s per "
        f"permutation (mean of {args.baseline_permutations}) -> {total_b:.0f} s for "
        f"{PERMUTATIONS} (extrapolated), traced peak {peak_b:.0f} MB"
    )
    print(f"    observed tables identical: {same}")
    print(
        f"    speed-up: {total_b / g['wall_s']:.0f}x ; memory: {peak_b / g['traced_peak_mb']:.0f}x "
        "less (traced peaks)\n"
    )

    if args.skip_b:
        return
    # ---- (b) ----
    xb, yb, tb = load_b()
    g2 = guardian("b")
    m = 20_000
    obs_s, setup_s, per_perm_s, peak_s = brute_force(
        xb[:m], yb[:m], tb[:m], args.baseline_permutations
    )
    scale = (xb.size * (xb.size - 1)) / (m * (m - 1))
    total_s = (setup_s + PERMUTATIONS * per_perm_s) * scale
    print(
        f"(b) {xb.size:,} events (resampled, +-50 m jitter, 8.5 years), "
        f"{g2['close_pairs']:,} pairs within 500 m"
    )
    print(
        f"    Guardian      : {g2['wall_s']:.1f} s wall ({g2['cpu_s']:.1f} s CPU; load average "
        f"{g2['load_average']:.1f}), peak RSS "
        f"{g2['peak_rss_mb']:.0f} MB (process; {g2['rss_before_mb']:.0f} MB before the call), "
        f"traced peak of the call {g2['traced_peak_mb']:.0f} MB"
    )
    print(
        f"    brute force on {m:,} of them: {per_perm_s:.2f} s per permutation, traced peak "
        f"{peak_s:.0f} MB; scaled by pairs (x{scale:.0f}) to 100,000 events: "
        f"~{total_s / 3600:.1f} h for {PERMUTATIONS} permutations and ~{peak_s * scale / 1024:.0f} GB "
        "(extrapolated; cannot run here)"
    )
    print(f"    speed-up (extrapolated): {total_s / g2['wall_s']:.0f}x")
    ok_a = g["wall_s"] <= 1.0
    ok_b = g2["wall_s"] <= 60 and g2["peak_rss_mb"] <= 2048
    print(
        f"\ngoals: (a) <= 1 s: {'met' if ok_a else 'NOT met'}; (b) <= 60 s and <= 2 GB: "
        f"{'met' if ok_b else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
