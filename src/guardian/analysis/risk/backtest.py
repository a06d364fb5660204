"""Rolling-origin back-tests: how accurate each risk method has actually been.

For each cut-off ``c`` in ``start, start + window, ...`` (strictly before ``end``), every method is
fitted on the events before ``c`` and predicts ``[c, c + window)``; the prediction is scored
against the events that then happened, together with the oracle (cells ranked by the actual
counts). Monthly windows (``window="month"``) step by calendar month for police.uk data.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from guardian.analysis.risk.base import RiskEstimator, as_timestamp, event_arrays, to_days
from guardian.analysis.risk.evaluation import DEFAULT_COVERAGES, evaluate_surface
from guardian.analysis.risk.grid import Grid
from guardian.analysis.risk.kde import KDERisk
from guardian.analysis.risk.naive import NaiveRisk
from guardian.analysis.risk.opencp import OpenCPProspectiveRisk, describe_area, study_area
from guardian.analysis.risk.prospective import ProspectiveRisk
from guardian.analysis.risk.sepp import SEPPRisk
from guardian.errors import InputError

METHODS: dict[str, type[RiskEstimator]] = {
    "naive": NaiveRisk,
    "kde": KDERisk,
    "prospective": ProspectiveRisk,
    "sepp": SEPPRisk,
    "opencp-prospective": OpenCPProspectiveRisk,
}
"""Registered methods by name."""


def make_estimator(name: str, **params) -> RiskEstimator:
    """Build a method by name: one of :data:`METHODS`."""
    if name not in METHODS:
        raise InputError(f"method was {name!r} but is expected to be one of {sorted(METHODS)}")
    return METHODS[name](**params)


def window_step(window) -> pd.DateOffset | pd.Timedelta:
    """The length of one window: ``"month"`` (a calendar month) or a number of days.

    Whole days step by calendar day (wall clock), so windows keep starting at midnight across
    daylight-saving changes; fractional days step by elapsed time.
    """
    if window == "month":
        return pd.DateOffset(months=1)
    try:
        days = float(window)
    except (TypeError, ValueError) as exc:
        raise InputError(f"window must be a number of days or 'month', got {window!r}") from exc
    if not days > 0:
        raise InputError(f"window must be a positive number of days, got {window!r}")
    return pd.DateOffset(days=int(days)) if days.is_integer() else pd.Timedelta(days=days)


def rolling_windows(start, end, window, tz) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Cut-offs and window ends: ``[(c, c + window), ...]`` with ``c < end`` and ``c + window <= end``.

    ``window`` is a number of days or ``"month"`` (calendar months), see :func:`window_step`.
    """
    s, e = as_timestamp(start, tz), as_timestamp(end, tz)
    if e <= s:
        raise InputError(f"back-test end {e.date()} must be after its start {s.date()}")
    step = window_step(window)
    out = []
    c = s
    while c + step <= e:
        out.append((c, c + step))
        c = c + step
    if not out:
        raise InputError(
            f"no whole {window!r} window fits between {s.date()} and {e.date()}; widen the range"
        )
    return out


@dataclass(frozen=True)
class BacktestResult:
    """Per-window scores and their summary for every method.

    Attributes
    ----------
    periods : DataFrame
        One row per (method, cut-off, coverage): n_events, hits, hit_rate, pai, oracle_hit_rate,
        oracle_pai.
    summary : DataFrame
        One row per (method, coverage): mean hit rate and PAI over windows (each window weighted
        equally), pooled hit rate (all hits / all events), mean oracle, windows.
    grid : Grid
    n_domain_cells : int
        Cells in the study area (the denominator of area share).
    domain : bool array (ny, nx)
        The study-area cells.
    params : dict
        Methods and parameters, window, coverages, domain rule, seeds.
    timings : dict
        Seconds spent fitting + predicting per method.
    """

    periods: pd.DataFrame
    summary: pd.DataFrame
    grid: Grid
    n_domain_cells: int
    params: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    domain: np.ndarray | None = field(default=None, repr=False)

    def best_method(self, coverage: float = 0.05) -> str:
        """The method with the highest mean PAI at ``coverage``."""
        s = self.summary[np.isclose(self.summary["coverage"], coverage)]
        if s.empty:
            raise InputError(
                f"coverage {coverage} was not evaluated; choose one of "
                f"{sorted(self.summary['coverage'].unique())}"
            )
        return str(s.sort_values("mean_pai", ascending=False)["method"].iloc[0])

    def summary_for(self, method: str) -> dict:
        """Back-test figures of one method, for printing beside its map."""
        s = self.summary[self.summary["method"] == method]
        if s.empty:
            raise InputError(
                f"method {method!r} is not in this back-test; have "
                f"{sorted(self.summary['method'].unique())}"
            )
        return {
            "method": method,
            "windows": int(s["windows"].iloc[0]),
            "first_cutoff": self.params.get("first_cutoff"),
            "last_cutoff": self.params.get("last_cutoff"),
            "window": self.params.get("window"),
            "coverage": [float(c) for c in s["coverage"]],
            "mean_hit_rate": [float(v) for v in s["mean_hit_rate"]],
            "mean_pai": [float(v) for v in s["mean_pai"]],
            "mean_oracle_pai": [float(v) for v in s["mean_oracle_pai"]],
        }

    def to_frame(self) -> pd.DataFrame:
        return self.summary.copy()

    def to_dict(self) -> dict:
        return {
            "summary": self.summary.to_dict(orient="records"),
            "periods": self.periods.assign(
                cutoff=self.periods["cutoff"].astype(str), end=self.periods["end"].astype(str)
            ).to_dict(orient="records"),
            "grid": self.grid.to_dict(),
            "n_domain_cells": self.n_domain_cells,
            "params": self.params,
            "timings_s": self.timings,
        }


def rolling_origin_backtest(
    events: pd.DataFrame,
    *,
    methods: Mapping[str, RiskEstimator] | None = None,
    start,
    end,
    window: float | str = 7,
    coverages=DEFAULT_COVERAGES,
    cell_m: float = 150.0,
    grid: Grid | None = None,
    domain_buffer_m: float = 300.0,
    area: str = "footprint",
    polygon=None,
    tie_rule: str = "fractional",
    progress: Callable[[str, int, int], None] | None = None,
    skip_empty: bool = False,
) -> BacktestResult:
    """Rolling-origin back-test of several risk methods on the same grid and windows.

    Parameters
    ----------
    events : DataFrame
        ``x``, ``y`` (metres), ``time`` (tz-aware), optional ``time_precision`` / ``crs``.
    methods : mapping name -> estimator, optional
        Unfitted estimators (their ``grid`` is replaced by the common grid). Default: every
        method in :data:`METHODS` with default parameters (``sepp`` is left out for
        month-precision data, which it cannot use).
    start, end : date-like
        First cut-off and the end of the last window (windows never run past ``end``).
    window : float or "month"
        Window length in days, or calendar months.
    coverages : sequence of float
        Area shares for hit rate / PAI.
    cell_m : float
        Cell side in metres (ignored when ``grid`` is given).
    grid : Grid, optional
        Common grid; default covers all events with ``cell_m``.
    domain_buffer_m : float
        Study area = cells within this many metres of any event in ``events`` (its footprint,
        like a city boundary; it uses locations only, not when or how often). Every method is
        scored over the same study area.
    area : {"footprint", "bbox", "cells-with-events", "polygon"}
        The study area (denominator of coverage), see
        :func:`~guardian.analysis.risk.opencp.study_area`; stated in ``params["domain"]``.
    polygon : shapely geometry, optional
        The study area for ``area="polygon"`` (projected metres).
    tie_rule : {"fractional", "opencp"}
        How cells tied at the coverage threshold count, see
        :func:`~guardian.analysis.risk.evaluation.captured`.
    progress : callable(method, done, total), optional
        Called after each window (for progress bars).
    skip_empty : bool
        Do not fit, predict or record windows with no event at all (e.g. months missing from a
        police.uk bundle); they are never scored either way, this only saves the work.

    Returns
    -------
    BacktestResult
    """
    arrays = event_arrays(events)
    tz = arrays["tz"]
    windows = rolling_windows(start, end, window, tz)
    x, y, t = arrays["x"], arrays["y"], arrays["t"]
    if skip_empty:
        windows = [(c, e) for c, e in windows if np.any((t >= to_days(c)) & (t < to_days(e)))]
        if not windows:
            raise InputError("no back-test window has any event")
    if x.size == 0:
        raise InputError("no events with coordinates and times to back-test on")
    if grid is None:
        grid = Grid.covering(x, y, cell_m=cell_m, crs=arrays["crs"])
    domain = study_area(grid, x, y, area=area, buffer_m=domain_buffer_m, polygon=polygon)
    if not domain.any():
        raise InputError(f"the study area ({area!r}) has no cells on the grid")
    if methods is None:
        # the open_cp reproduction is a comparison, not one of Guardian's default methods
        names = [
            n
            for n in METHODS
            if n != "opencp-prospective" and not (n == "sepp" and arrays["precision"] == "month")
        ]
        methods = {n: make_estimator(n) for n in names}
    if not methods:
        raise InputError("no methods to back-test")
    cov = tuple(float(c) for c in np.atleast_1d(coverages))
    rows = []
    timings: dict[str, float] = {}
    for name, est in methods.items():
        if not isinstance(est, RiskEstimator):
            raise InputError(f"method {name!r} is not a guardian RiskEstimator: {est!r}")
        spent = 0.0
        for k, (c, e) in enumerate(windows):
            tic = _time.perf_counter()
            model = est.clone(grid=grid).fit(events, c)
            surface = model.predict(c, e)
            spent += _time.perf_counter() - tic
            sel = (t >= to_days(c)) & (t < to_days(e))
            _, _, inside = grid.cell_index(x[sel], y[sel])
            counts = grid.counts(x[sel], y[sel])
            acc = evaluate_surface(
                surface.values,
                counts,
                coverages=cov,
                mask=domain,
                n_outside=int((~inside).sum()),
                tie_rule=tie_rule,
            )
            for j, cv in enumerate(acc.coverages):
                rows.append(
                    {
                        "method": name,
                        "cutoff": c,
                        "end": e,
                        "coverage": cv,
                        "n_events": acc.n_events,
                        "hits": acc.hits[j],
                        "hit_rate": acc.hit_rate[j],
                        "pai": acc.pai[j],
                        "oracle_hit_rate": acc.oracle_hit_rate[j],
                        "oracle_pai": acc.oracle_pai[j],
                    }
                )
            if progress is not None:
                progress(name, k + 1, len(windows))
        timings[name] = spent
    periods = pd.DataFrame(rows)
    scored = periods[periods["n_events"] > 0]
    g = scored.groupby(["method", "coverage"], sort=False)
    summary = g.agg(
        windows=("hit_rate", "size"),
        mean_hit_rate=("hit_rate", "mean"),
        mean_pai=("pai", "mean"),
        hits=("hits", "sum"),
        events=("n_events", "sum"),
        mean_oracle_hit_rate=("oracle_hit_rate", "mean"),
        mean_oracle_pai=("oracle_pai", "mean"),
    ).reset_index()
    # 95% interval of the mean over windows (t distribution, windows as the unit): says how far
    # the mean could move with other weeks, which is what a comparison of methods needs.
    sd = g.agg(sd_hr=("hit_rate", "std"), sd_pai=("pai", "std")).reset_index(drop=True)
    tq = stats.t.ppf(0.975, np.maximum(summary["windows"] - 1, 1))
    half_hr = tq * sd["sd_hr"].fillna(0.0) / np.sqrt(summary["windows"])
    half_pai = tq * sd["sd_pai"].fillna(0.0) / np.sqrt(summary["windows"])
    summary["hit_rate_ci_low"] = summary["mean_hit_rate"] - half_hr
    summary["hit_rate_ci_high"] = summary["mean_hit_rate"] + half_hr
    summary["pai_ci_low"] = summary["mean_pai"] - half_pai
    summary["pai_ci_high"] = summary["mean_pai"] + half_pai
    summary["pooled_hit_rate"] = summary["hits"] / summary["events"]
    summary["pooled_pai"] = summary["pooled_hit_rate"] / summary["coverage"]
    summary = summary.drop(columns=["hits"])
    params = {
        "methods": {
            n: {k: v for k, v in m.get_params().items() if k != "grid"} for n, m in methods.items()
        },
        "window": window if window == "month" else float(window),
        "first_cutoff": windows[0][0].isoformat(),
        "last_cutoff": windows[-1][0].isoformat(),
        "coverages": list(cov),
        "cell_m": grid.cell_m,
        "area": area,
        "domain": describe_area(area, int(domain.sum()), grid.n_cells, domain_buffer_m),
        "tie_rule": tie_rule,
        "tie_rule_text": (
            "fractional inclusion of the tied block (expected value of a random tie-break)"
            if tie_rule == "fractional"
            else "open_cp top_slice: floor(N*coverage) cells, ties broken by row-major order"
        ),
        "time_precision": arrays["precision"],
    }
    return BacktestResult(periods, summary, grid, int(domain.sum()), params, timings, domain)
