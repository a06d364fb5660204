"""Rolling-origin back-tests of monthly forecasts: MASE, sMAPE and interval coverage.

Each window trains on the months before its origin and forecasts the next ``horizon`` months,
which are then compared with what was recorded (Tashman 2000). Only complete windows are used,
so every horizon is scored on the same number of windows.

* **MASE** (Hyndman & Koehler 2006): absolute error divided by the in-sample mean absolute
  error of the seasonal naive forecast on that window's training months (lag 12). Below 1: the
  method did better than seasonal naive would have done in-sample.
* **sMAPE**: ``200 |y - f| / (|y| + |f|)`` in percent (0 when both are 0).
* **Coverage**: the share of recorded values inside the 80% and 95% intervals.
* **Relative MASE** against seasonal naive: the method's mean MASE divided by seasonal naive's on
  the same windows; below 1 means it beat seasonal naive out of sample.

Months excluded as a structural break are not scored (their recorded value follows another
regime).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from guardian.analysis.forecast.methods import LEVELS, Predictions, predict
from guardian.analysis.forecast.series import MIN_TRAIN_MONTHS, SEASON
from guardian.errors import InputError

BASELINE = "snaive"


def backtest_origins(
    n: int, *, horizon: int, min_train: int = MIN_TRAIN_MONTHS, step: int = 1,
    max_windows: int | None = None,
) -> np.ndarray:
    """Origins (months of training) of the complete rolling windows of a series of ``n``.

    Window ``o`` trains on months ``0..o-1`` and is scored on months ``o..o+horizon-1``; the
    origins run from ``min_train`` to ``n - horizon`` by ``step``. With ``max_windows`` only
    the latest that many are kept.

    Raises
    ------
    InputError
        When not even one window fits, saying how many months are needed.
    """
    if horizon < 1 or step < 1:
        raise InputError(f"horizon and step must be at least 1 (got {horizon}, {step})")
    if min_train < 2 * SEASON + 1:
        raise InputError(f"min_train must be at least {2 * SEASON + 1} months, got {min_train}")
    last = n - horizon
    if last < min_train:
        raise InputError(
            f"a back-test at {horizon} months ahead needs at least {min_train + horizon} "
            f"continuous months ({min_train} to train + {horizon} to score); the series has {n}"
        )
    o = np.arange(min_train, last + 1, step)
    if max_windows is not None and len(o) > max_windows:
        o = o[-max_windows:]
    return o


def mase_scale(Y: np.ndarray, origins: np.ndarray, m: int = SEASON) -> np.ndarray:
    """In-sample mean absolute seasonal-naive error on each training window, (O, S).

    ``mean_{m <= t < o} |y_t - y_{t-m}|`` over pairs where both months are observed.
    """
    d = np.abs(Y[m:] - Y[:-m])  # row t-m is month t
    obs = np.isfinite(d)
    cs = np.concatenate([np.zeros((1, Y.shape[1])), np.cumsum(np.where(obs, d, 0), axis=0)])
    cn = np.concatenate([np.zeros((1, Y.shape[1])), np.cumsum(obs, axis=0)])
    k = np.asarray(origins) - m
    with np.errstate(invalid="ignore", divide="ignore"):
        return cs[k] / cn[k]


def smape(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """Elementwise sMAPE in percent: ``200 |y - f| / (|y| + |f|)``, 0 where both are 0."""
    a, f = np.asarray(actual, float), np.asarray(forecast, float)
    den = np.abs(a) + np.abs(f)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den == 0, 0.0, 200.0 * np.abs(a - f) / den)


def actuals(Y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Recorded values of each window, (O, S, H) (NaN for excluded months)."""
    rows = np.asarray(origins)[:, None] + np.arange(horizon)[None, :]
    return Y[rows].transpose(0, 2, 1)


@dataclass(frozen=True)
class BacktestResult:
    """Scores of a rolling-origin back-test.

    Attributes
    ----------
    by_horizon : DataFrame
        ``method, horizon, windows, mae, mase, smape, coverage_80, coverage_95,
        relative_mase`` (means over windows and series).
    summary : DataFrame
        The same over all horizons 1..H, one row per method.
    origins : list of str
        First month forecast of each window (``YYYY-MM``) when months were given.
    """

    by_horizon: pd.DataFrame
    summary: pd.DataFrame
    horizon: int
    origins: list
    n_series: int
    timings: dict[str, float] = field(default_factory=dict)

    def best_method(self) -> str:
        """Lowest mean MASE over all horizons."""
        s = self.summary.dropna(subset=["mase"])
        return str(s.sort_values("mase", kind="stable").iloc[0]["method"])

    def row(self, method: str) -> dict:
        r = self.summary[self.summary["method"] == method]
        if r.empty:
            raise InputError(f"method {method!r} is not in this back-test")
        return {k: _py(v) for k, v in r.iloc[0].to_dict().items()}

    def to_dict(self) -> dict:
        return {
            "horizon": self.horizon,
            "windows": len(self.origins),
            "first_origin": self.origins[0] if self.origins else None,
            "last_origin": self.origins[-1] if self.origins else None,
            "n_series": self.n_series,
            "baseline": BASELINE,
            "summary": [{k: _py(v) for k, v in r.items()} for r in self.summary.to_dict("records")],
            "by_horizon": [
                {k: _py(v) for k, v in r.items()} for r in self.by_horizon.to_dict("records")
            ],
            "seconds": {k: round(v, 4) for k, v in self.timings.items()},
        }


def _py(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    return v


def score(preds: dict[str, Predictions], Y: np.ndarray, origins: np.ndarray) -> tuple:
    """Score predictions against the recorded values; returns (by_horizon, summary)."""
    Y = np.asarray(Y, float)
    H = next(iter(preds.values())).mean.shape[2]
    A = actuals(Y, origins, H)
    scale = mase_scale(Y, origins)[:, :, None]
    ok = np.isfinite(A) & np.isfinite(scale) & (scale > 0)
    rows, summ = [], []
    for name, p in preds.items():
        err = np.abs(A - p.mean)
        ase = err / np.where(ok, scale, np.nan)
        sm = smape(A, p.mean)
        cov = {lv: (A >= p.lower[lv]) & (A <= p.upper[lv]) for lv in LEVELS}
        for h in range(H):
            k = ok[:, :, h]
            rows.append(
                {
                    "method": name,
                    "horizon": h + 1,
                    "windows": int(k.any(axis=1).sum()),
                    "mae": float(err[:, :, h][k].mean()) if k.any() else np.nan,
                    "mase": float(ase[:, :, h][k].mean()) if k.any() else np.nan,
                    "smape": float(sm[:, :, h][k].mean()) if k.any() else np.nan,
                    "coverage_80": float(cov[0.8][:, :, h][k].mean()) if k.any() else np.nan,
                    "coverage_95": float(cov[0.95][:, :, h][k].mean()) if k.any() else np.nan,
                }
            )
        summ.append(
            {
                "method": name,
                "windows": int(ok.any(axis=(1, 2)).sum()),
                "scored": int(ok.sum()),
                "mae": float(err[ok].mean()) if ok.any() else np.nan,
                "mase": float(ase[ok].mean()) if ok.any() else np.nan,
                "smape": float(sm[ok].mean()) if ok.any() else np.nan,
                "coverage_80": float(cov[0.8][ok].mean()) if ok.any() else np.nan,
                "coverage_95": float(cov[0.95][ok].mean()) if ok.any() else np.nan,
            }
        )
    by_h = pd.DataFrame(rows)
    summary = pd.DataFrame(summ)
    if BASELINE in preds:
        base = summary.set_index("method").loc[BASELINE, "mase"]
        summary["relative_mase"] = summary["mase"] / base
        bh = by_h[by_h["method"] == BASELINE].set_index("horizon")["mase"]
        by_h["relative_mase"] = by_h["mase"] / by_h["horizon"].map(bh)
    else:
        summary["relative_mase"] = np.nan
        by_h["relative_mase"] = np.nan
    return by_h, summary


def rolling_origin_backtest(
    Y: np.ndarray,
    *,
    methods=("snaive", "ets", "sarima", "ensemble"),
    horizon: int = 12,
    min_train: int = MIN_TRAIN_MONTHS,
    step: int = 1,
    max_windows: int | None = None,
    months: list[str] | None = None,
) -> BacktestResult:
    """Rolling-origin back-test of ``methods`` on series ``Y``.

    Parameters
    ----------
    Y : ndarray, shape (n, S) or (n,)
        Monthly counts (NaN for excluded break months).
    methods : sequence of str
        From :data:`guardian.analysis.forecast.methods.METHODS`; seasonal naive is always
        scored too (it is the baseline).
    horizon : int
        Months ahead, 1..24.
    min_train, step, max_windows : int
        See :func:`backtest_origins`.
    months : list of str, optional
        The months of ``Y``'s rows, to name each window by its first forecast month.
    """
    Y = np.asarray(Y, float)
    if Y.ndim == 1:
        Y = Y[:, None]
    if not 1 <= horizon <= 24:
        raise InputError(f"horizon must be 1..24 months, got {horizon}")
    origins = backtest_origins(
        Y.shape[0], horizon=horizon, min_train=min_train, step=step, max_windows=max_windows
    )
    methods = list(dict.fromkeys([BASELINE] + list(methods)))
    timings = {}
    preds = {}
    for m in methods:
        t0 = time.perf_counter()
        if m == "ensemble":
            from guardian.analysis.forecast.methods import ensemble

            for dep in ("snaive", "ets", "sarima"):
                if dep not in preds:
                    preds[dep] = predict([dep], Y, origins, horizon)[dep]
            preds[m] = ensemble([preds["snaive"], preds["ets"], preds["sarima"]])
        else:
            preds[m] = predict([m], Y, origins, horizon)[m]
        timings[m] = time.perf_counter() - t0
    preds = {m: preds[m] for m in methods}
    by_h, summary = score(preds, Y, origins)
    names = [months[o] for o in origins] if months is not None else [int(o) for o in origins]
    return BacktestResult(
        by_horizon=by_h, summary=summary, horizon=horizon, origins=names,
        n_series=Y.shape[1], timings=timings,
    )
