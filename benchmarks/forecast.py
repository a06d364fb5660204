"""Benchmark: rolling-origin back-tests of the monthly forecasts.

1. **Panel**: 10 Chicago police districts x 14 categories (13 location categories + all) of
   monthly aggravated assaults, 2010-2019 (140 series x 120 months), back-tested 1-12 months
   ahead from every origin 36..108 (73 windows, 10,220 forecasts per method) with seasonal
   naive, ETS, SARIMA and the ensemble (Guardian's vectorised recursions) — beside the naive
   loop: one statsmodels ``ETSModel`` and one ``SARIMAX`` fit per series and origin, timed on a
   random sample of (series, origin) pairs within a time budget and extrapolated to the panel.
   Accuracy of both on the sampled windows is printed too.
2. **City**: Chicago's city-wide monthly series, all methods (statsmodels references every
   6th origin).
3. **police.uk**: the shared Essex and MSG-force months — refused (gaps), with the message.
4. ``--statsforecast PYTHON``: the same panel back-test with Nixtla's statsforecast run by
   another interpreter (it needs pandas < 3, so it lives in its own venv), scored by the same
   code.

Run: ``.venv/bin/python benchmarks/forecast.py [--budget 60] [--statsforecast /tmp/sfvenv/bin/python]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from guardian.analysis.forecast import (  # noqa: E402
    FAST_METHODS,
    forecast_with_accuracy,
    predict,
    rolling_origin_backtest,
)
from guardian.analysis.forecast.backtest import backtest_origins, score  # noqa: E402
from guardian.errors import InputError  # noqa: E402

SHARED = (REPO / ".." / "shared" / "data").resolve()
CHICAGO = SHARED / "chicago_aggravated_assaults" / "chicago_aggravated_assaults.csv.gz"
H = 12

SF_SCRIPT = r'''
import sys, time, json
import numpy as np, pandas as pd
t0 = time.perf_counter()
from statsforecast import StatsForecast
from statsforecast.models import SeasonalNaive, AutoETS, ARIMA
t_import = time.perf_counter() - t0
src, out, h, n_windows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
Y = np.load(src)
n, S = Y.shape
ds = pd.date_range("2010-01-01", periods=n, freq="MS")
df = pd.DataFrame({"unique_id": np.repeat(np.arange(S), n), "ds": np.tile(ds, S),
                   "y": Y.T.ravel()})
models = [SeasonalNaive(season_length=12), AutoETS(season_length=12, model="AAA", damped=True),
          ARIMA(order=(0, 1, 1), seasonal_order=(0, 1, 1), season_length=12)]
res = {}
for warm in (0, 1):
    sf = StatsForecast(models=models, freq="MS", n_jobs=1)
    t = time.perf_counter()
    cv = sf.cross_validation(df=df if warm else df[df.unique_id < 2], h=h, step_size=1,
                             n_windows=n_windows if warm else 2, level=[80, 95])
    res["seconds" if warm else "warmup_seconds"] = time.perf_counter() - t
cv.to_parquet(out)
print(json.dumps({"import_seconds": t_import, **res, "rows": len(cv),
                  "columns": list(map(str, cv.columns))}))
'''


def chicago_panel():
    df = pd.read_csv(CHICAGO, usecols=["date", "loc_cat", "district"])
    df["month"] = df["date"].str[:7]
    months = sorted(df["month"].unique())
    top = df["district"].value_counts().index[:10]
    cats = sorted(df["loc_cat"].unique())
    cols, names = [], []
    for d in top:
        sub = df[df["district"] == d]
        for c in [*cats, "all"]:
            s = sub if c == "all" else sub[sub["loc_cat"] == c]
            cols.append(s.groupby("month").size().reindex(months, fill_value=0).to_numpy(float))
            names.append(f"district {d} / {c}")
    city = df.groupby("month").size().reindex(months, fill_value=0)
    return np.column_stack(cols), names, months, city


def simulated_panel(rng):
    n, S = 120, 140
    t = np.arange(n)
    mu = rng.uniform(5, 200, S)[None, :] * (1 + 0.25 * np.sin(2 * np.pi * t / 12))[:, None]
    Y = rng.poisson(mu).astype(float)
    months = [f"{2010 + i // 12}-{i % 12 + 1:02d}" for i in range(n)]
    return Y, [f"sim {i}" for i in range(S)], months, pd.Series(Y.sum(1), index=months)


def table(summary: pd.DataFrame) -> str:
    cols = ["method", "windows", "mae", "mase", "relative_mase", "smape", "coverage_80",
            "coverage_95"]
    return summary[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}")


def naive_loop(Y, origins, budget, rng):
    """statsmodels fits on random (series, origin) pairs until ``budget`` seconds are spent."""
    pairs = [(s, o) for s in range(Y.shape[1]) for o in origins]
    order = rng.permutation(len(pairs))
    done, spent = [], {"ets-statsmodels": 0.0, "sarima-statsmodels": 0.0}
    preds = {k: [] for k in ("ets-statsmodels", "sarima-statsmodels", "snaive", "ets", "sarima",
                             "ensemble")}
    t_all = time.perf_counter()
    for i in order:
        if time.perf_counter() - t_all > budget:
            break
        s, o = pairs[i]
        y = Y[:, [s]]
        for m in ("ets-statsmodels", "sarima-statsmodels"):
            t = time.perf_counter()
            preds[m].append(predict([m], y, np.array([o]), H)[m])
            spent[m] += time.perf_counter() - t
        done.append((s, o))
    return done, spent, preds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=60.0, help="seconds for the naive loop")
    ap.add_argument("--statsforecast", default=None, help="python of a venv with statsforecast")
    ap.add_argument("--sf-windows", type=int, default=None,
                    help="statsforecast on only the latest N windows (default all)")
    ap.add_argument("--skip-naive", action="store_true", help="skip the statsmodels loop")
    ap.add_argument("--seed", type=int, default=20261206)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"# benchmarks/forecast.py ({os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at the start)")
    if CHICAGO.is_file():
        Y, names, months, city = chicago_panel()
        print(f"panel: Chicago aggravated assaults, {Y.shape[1]} series (10 districts x 14 "
              f"categories) x {Y.shape[0]} months {months[0]}..{months[-1]}; "
              f"{int(Y.sum())} assaults")
    else:
        Y, names, months, city = simulated_panel(rng)
        print("panel: ../shared/data absent: 140 simulated seasonal Poisson series x 120 months")
    origins = backtest_origins(Y.shape[0], horizon=H)
    print(f"back-test: origins {len(origins)} ({months[origins[0]]}..{months[origins[-1]]}), "
          f"1-{H} months ahead, {len(origins) * Y.shape[1]} forecasts per method")

    t = time.perf_counter()
    bt = rolling_origin_backtest(Y, methods=FAST_METHODS, horizon=H, months=months)
    fast_s = time.perf_counter() - t
    print(f"\n## Guardian (vectorised): {fast_s:.2f} s for all four methods")
    print("  " + ", ".join(f"{k} {v:.2f} s" for k, v in bt.timings.items()))
    print(table(bt.summary))
    print("relative MASE by months ahead (ensemble):",
          " ".join(f"{v:.2f}" for v in bt.by_horizon.query("method == 'ensemble'")["relative_mase"]))

    done, spent, ref = naive_loop(Y, origins, 0 if args.skip_naive else args.budget, rng)
    k = len(done)
    total_pairs = len(origins) * Y.shape[1]
    per = {m: spent[m] / max(k, 1) for m in spent}
    extrap = sum(per.values()) * total_pairs
    if not k:
        print("\n## naive loop over statsmodels fits: skipped")
    else:
        print(f"\n## naive loop over statsmodels fits: {k} (series, origin) pairs in "
              f"{sum(spent.values()):.1f} s = {1000 * per['ets-statsmodels']:.0f} ms per ETSModel fit, "
              f"{1000 * per['sarima-statsmodels']:.0f} ms per SARIMAX fit")
        print(f"extrapolated to the panel ({total_pairs} pairs x 2 fits): {extrap:.0f} s "
              f"= {extrap / 3600:.2f} h; ratio naive loop / Guardian = {extrap / fast_s:.0f}x")
    if k:
        # score both on exactly the sampled windows
        def stack(lst):
            from guardian.analysis.forecast.methods import Predictions
            return Predictions(lst[0].method, np.concatenate([p.mean for p in lst], axis=1),
                               {lv: np.concatenate([p.lower[lv] for p in lst], axis=1)
                                for lv in lst[0].lower},
                               {lv: np.concatenate([p.upper[lv] for p in lst], axis=1)
                                for lv in lst[0].upper})
        pos = {int(o): i for i, o in enumerate(origins)}
        Ys = np.column_stack([Y[:, s] for s, _ in done])
        # every sampled pair as its own column at its own origin: score column by column
        sub = {}
        for m in ("snaive", "ets", "sarima", "ensemble"):
            p = bt_preds_cache(Y, origins, m)
            sub[m] = stack([_take(p, pos[o], s) for s, o in done])
        for m in ("ets-statsmodels", "sarima-statsmodels"):
            sub[m] = stack(ref[m])
        rows = []
        for j, (_s, o) in enumerate(done):
            pj = {m: _take(sub[m], 0, j) for m in sub}
            rows.append(score(pj, Ys[:, [j]], np.array([o]))[1])
        allr = pd.concat(rows)
        agg = allr.groupby("method", sort=False)[["mae", "mase", "smape", "coverage_80",
                                                   "coverage_95"]].mean().reset_index()
        agg["relative_mase"] = agg["mase"] / float(agg.set_index("method").loc["snaive", "mase"])
        agg["windows"] = k
        print(f"accuracy on the {k} sampled windows (same windows for every method):")
        print(table(agg))

    print("\n## city-wide series (Chicago, all aggravated assaults)")
    r = forecast_with_accuracy(city.astype(float), horizon=H, backtest_windows=10_000,
                               label="Chicago, aggravated assaults")
    print(table(r.backtest.summary))
    print(r.sentence())
    cy = city.to_numpy(float)
    o6 = backtest_origins(len(cy), horizon=H, step=6)
    if not args.skip_naive:
        t = time.perf_counter()
        r6 = rolling_origin_backtest(cy, methods=[*FAST_METHODS, "ets-statsmodels",
                                                  "sarima-statsmodels"], horizon=H, step=6)
        print(f"every 6th origin ({len(o6)} windows) with the statsmodels references "
              f"({time.perf_counter() - t:.1f} s):")
        print(table(r6.summary))

    print("\n## police.uk months in ../shared/data")
    for folder in ("police_uk_street_essex", "police_uk_street_msg_forces"):
        d = SHARED / folder
        if not d.is_dir():
            continue
        files = sorted(d.glob("*-street.csv*"))
        by_force: dict[str, dict[str, int]] = {}
        for f in files:
            force = f.name[8:].rsplit("-street", 1)[0]
            c = pd.read_csv(f, usecols=["Month", "Crime type"])
            by_force.setdefault(force, {})[f.name[:7]] = int(
                (c["Crime type"] != "Anti-social behaviour").sum())
        for force, cnt in sorted(by_force.items()):
            try:
                forecast_with_accuracy(pd.Series(cnt, dtype=float), horizon=H, label=force)
                print(f"{force}: forecast made")
            except InputError as e:
                print(f"{force}: refused: {e}")

    if args.statsforecast:
        if args.sf_windows:
            origins = origins[-args.sf_windows:]
            t = time.perf_counter()
            bt_sf = rolling_origin_backtest(Y, methods=FAST_METHODS, horizon=H,
                                            max_windows=args.sf_windows)
            fast_s = time.perf_counter() - t
            print(f"\n## Guardian on the latest {len(origins)} windows: {fast_s:.2f} s")
            print(table(bt_sf.summary))
        with tempfile.TemporaryDirectory() as tmp:
            np.save(Path(tmp) / "y.npy", Y)
            (Path(tmp) / "sf.py").write_text(SF_SCRIPT)
            t = time.perf_counter()
            p = subprocess.run([args.statsforecast, str(Path(tmp) / "sf.py"), str(Path(tmp) / "y.npy"),
                                str(Path(tmp) / "cv.parquet"), str(H), str(len(origins))],
                               capture_output=True, text=True, check=False)
            wall = time.perf_counter() - t
            if p.returncode:
                print("statsforecast failed:", p.stderr[-2000:])
                return
            info = json.loads(p.stdout.strip().splitlines()[-1])
            cv = pd.read_parquet(Path(tmp) / "cv.parquet")
        print(f"\n## statsforecast (its own venv, pandas<3): cross_validation {info['seconds']:.1f} s "
              f"(numba warm-up on 2 series {info['warmup_seconds']:.1f} s, import "
              f"{info['import_seconds']:.1f} s; process wall {wall:.1f} s)")
        print(f"ratio statsforecast / Guardian = {info['seconds'] / fast_s:.1f}x")
        sf_preds = _sf_predictions(cv, Y.shape[1], origins, months)
        by_h, summ = score(sf_preds, Y, origins)
        print(table(summ))


def _sf_predictions(cv, S, origins, months):
    from guardian.analysis.forecast.methods import Predictions

    cv = cv.copy()
    cv["cutoff_i"] = cv["cutoff"].dt.strftime("%Y-%m").map({m: i for i, m in enumerate(months)})
    cv["o"] = cv["cutoff_i"] + 1
    cv["h"] = ((cv["ds"].dt.year - cv["cutoff"].dt.year) * 12
               + cv["ds"].dt.month - cv["cutoff"].dt.month)
    pos = {int(o): i for i, o in enumerate(origins)}
    cv = cv[cv["o"].isin(pos)]
    n_orig, H_ = len(origins), int(cv["h"].max())
    out = {}
    for model, name in (("SeasonalNaive", "snaive"), ("AutoETS", "sf-AutoETS(AAdA)"),
                        ("ARIMA", "sf-ARIMA(0,1,1)(0,1,1)12")):
        arr = {k: np.full((n_orig, S, H_), np.nan) for k in ("mean", "l80", "u80", "l95", "u95")}
        oi = cv["o"].map(pos).to_numpy()
        si = cv["unique_id"].astype(int).to_numpy()
        hi = cv["h"].to_numpy() - 1
        for k, col in (("mean", model), ("l80", f"{model}-lo-80"), ("u80", f"{model}-hi-80"),
                       ("l95", f"{model}-lo-95"), ("u95", f"{model}-hi-95")):
            arr[k][oi, si, hi] = cv[col].to_numpy(float)
        out[name] = Predictions(name, arr["mean"],
                                {0.8: np.maximum(arr["l80"], 0), 0.95: np.maximum(arr["l95"], 0)},
                                {0.8: arr["u80"], 0.95: arr["u95"]})
    return out


_CACHE: dict = {}


def bt_preds_cache(Y, origins, method):
    key = (id(Y), method)
    if key not in _CACHE:
        _CACHE[key] = predict([method], Y, origins, H)[method]
    return _CACHE[key]


def _take(p, oi, si):
    from guardian.analysis.forecast.methods import Predictions

    return Predictions(p.method, p.mean[oi:oi + 1, si:si + 1],
                       {lv: v[oi:oi + 1, si:si + 1] for lv, v in p.lower.items()},
                       {lv: v[oi:oi + 1, si:si + 1] for lv, v in p.upper.items()})


if __name__ == "__main__":
    main()
