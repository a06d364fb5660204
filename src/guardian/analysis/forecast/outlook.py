"""A forecast together with its measured accuracy: the one call reports make.

:func:`forecast_with_accuracy` checks the series, back-tests every method by rolling origin,
forecasts 1..H months ahead with 80% and 95% intervals, and names the method with the lowest
back-test MASE — never a forecast without its back-test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from guardian.analysis.forecast.backtest import BASELINE, BacktestResult, rolling_origin_backtest
from guardian.analysis.forecast.methods import FAST_METHODS, LABELS, LEVELS, predict
from guardian.analysis.forecast.series import (
    MIN_TRAIN_MONTHS,
    BreakWindow,
    MonthlySeries,
    detect_breaks,
    prepare_series,
)
from guardian.errors import InputError

MAX_HORIZON = 24
MIN_BACKTEST_HORIZON = 12
"""A forecast is shown only if it can be back-tested at least this far ahead (or at its own
horizon, if shorter)."""
BACKTEST_WINDOWS = 24
"""The latest this many rolling windows are scored."""


@dataclass(frozen=True)
class ForecastResult:
    """A monthly forecast with its back-test.

    Attributes
    ----------
    label : str
        What is forecast ("Essex Police, all crime").
    method : str
        The method with the lowest back-test MASE (drawn first).
    forecasts : dict
        Method -> DataFrame ``month, mean, lower_80, upper_80, lower_95, upper_95`` (counts).
    backtest : BacktestResult
    series : MonthlySeries
    suspected_breaks : list of str
        Months whose year-on-year change is extreme (reported, not acted on).
    """

    label: str
    method: str
    horizon: int
    forecasts: dict[str, pd.DataFrame] = field(repr=False)
    backtest: BacktestResult = field(repr=False)
    series: MonthlySeries = field(repr=False)
    break_policy: str = "exclude"
    suspected_breaks: list[str] = field(default_factory=list)

    @property
    def backtest_horizon(self) -> int:
        return self.backtest.horizon

    def sentence(self) -> str:
        """One line: the chosen method's accuracy beside seasonal naive's, and coverage."""
        b = self.backtest.row(self.method)
        n = self.backtest.row(BASELINE)
        rel = b["relative_mase"]
        verdict = (
            "no other method beat it"
            if self.method == BASELINE
            else (
                f"{100 * (1 - rel):.0f}% lower error than seasonal naive"
                if rel is not None and rel < 1
                else "no better than seasonal naive"
            )
        )
        return (
            f"Back-test over {len(self.backtest.origins)} rolling windows, 1-"
            f"{self.backtest.horizon} months ahead: {LABELS[self.method]} MASE {b['mase']:.2f} "
            f"(sMAPE {b['smape']:.1f}%), seasonal naive MASE {n['mase']:.2f} — {verdict}; its "
            f"80% intervals held {100 * b['coverage_80']:.0f}% and its 95% intervals "
            f"{100 * b['coverage_95']:.0f}% of what was recorded"
        )

    def to_dict(self) -> dict:
        s = self.series
        return {
            "label": self.label,
            "method": self.method,
            "method_label": LABELS[self.method],
            "horizon": self.horizon,
            "levels": list(LEVELS),
            "history": {
                "first": s.months[0],
                "last": s.months[-1],
                "months": s.n,
                "values": [
                    {"month": m, "count": float(c), "excluded": m in s.excluded}
                    for m, c in zip(s.months, s.counts, strict=True)
                ],
            },
            "breaks": {
                "policy": self.break_policy,
                "windows": [b.to_dict() for b in s.breaks],
                "excluded_months": list(s.excluded),
                "suspected": list(self.suspected_breaks),
            },
            "forecasts": {
                k: [{c: (v if c == "month" else float(v)) for c, v in r.items()}
                    for r in df.to_dict("records")]
                for k, df in self.forecasts.items()
            },
            "backtest": self.backtest.to_dict(),
            "sentence": self.sentence(),
        }


def forecast_with_accuracy(
    counts: pd.Series,
    *,
    horizon: int = 12,
    loaded_months: list[str] | None = None,
    methods=FAST_METHODS,
    breaks: list[BreakWindow] | None = None,
    break_policy: str = "exclude",
    min_train: int = MIN_TRAIN_MONTHS,
    backtest_windows: int = BACKTEST_WINDOWS,
    label: str = "",
) -> ForecastResult:
    """Forecast a monthly count series 1..``horizon`` months ahead, with its back-test.

    Parameters
    ----------
    counts : Series
        Counts per ``YYYY-MM`` month (see :func:`prepare_series`).
    horizon : int
        Months ahead, 1..24.
    loaded_months : list of str, optional
        Months whose data was loaded (absent months of ``counts`` among them count 0).
    methods : sequence of str
        Methods to back-test and forecast (seasonal naive is always included).
    breaks, break_policy
        Structural breaks (default: the 2020-21 lockdowns, excluded); see
        :func:`prepare_series`.
    min_train : int
        Months of training in the first back-test window.
    backtest_windows : int
        Latest rolling windows scored.

    Returns
    -------
    ForecastResult

    Raises
    ------
    InputError
        Series with gaps, too short to fit and back-test (saying how many months are needed),
        or a horizon outside 1..24.
    """
    if not 1 <= horizon <= MAX_HORIZON:
        raise InputError(f"horizon must be 1..{MAX_HORIZON} months, got {horizon}")
    hb_min = min(horizon, MIN_BACKTEST_HORIZON)
    need = min_train + hb_min
    s = prepare_series(
        counts, loaded_months=loaded_months, breaks=breaks, break_policy=break_policy,
        min_months=need, label=label,
    )
    hb = min(horizon, s.n - min_train)
    methods = list(dict.fromkeys([BASELINE] + list(methods)))
    bt = rolling_origin_backtest(
        s.values, methods=methods, horizon=hb, min_train=min_train, max_windows=backtest_windows,
        months=s.months,
    )
    if not np.isfinite(bt.summary["mase"]).any():
        raise InputError(
            f"{label + ': ' if label else ''}every back-test month is excluded or the series is "
            "constant; no forecast is shown without a measured accuracy"
        )
    preds = predict(methods, s.values[:, None], np.array([s.n]), horizon)
    future = s.future_months(horizon)
    out = {}
    for m, p in preds.items():
        out[m] = pd.DataFrame(
            {
                "month": future,
                "mean": np.maximum(p.mean[0, 0], 0.0),
                "lower_80": p.lower[0.8][0, 0],
                "upper_80": p.upper[0.8][0, 0],
                "lower_95": p.lower[0.95][0, 0],
                "upper_95": p.upper[0.95][0, 0],
            }
        )
    return ForecastResult(
        label=label,
        method=bt.best_method(),
        horizon=horizon,
        forecasts=out,
        backtest=bt,
        series=s,
        break_policy=break_policy,
        suspected_breaks=detect_breaks(s),
    )
