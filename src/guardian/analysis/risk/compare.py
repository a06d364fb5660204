"""Guardian's risk maps side by side with open_cp's prospective hot spot on the same weeks.

:func:`opencp_comparison` runs, on one grid, one study area and one set of weekly cut-offs:

* the open_cp-equivalent configuration (:class:`OpenCPProspectiveRisk`, 8 cells, 8 weeks);
* a fixed list of Guardian candidates (bandwidths, long-term counts, KDE, blends);
* ``selected``: per test week, the candidate with the best mean hit rate over the weeks that
  had already ended (:func:`rolling_origin_selection`), so tuning never sees the test weeks.

Pure: takes an event frame, returns frames and dicts (no files).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from guardian.analysis.risk.backtest import rolling_origin_backtest, window_step
from guardian.analysis.risk.base import RiskEstimator, as_timestamp, event_arrays
from guardian.analysis.risk.grid import Grid
from guardian.analysis.risk.kde import KDERisk
from guardian.analysis.risk.naive import NaiveRisk
from guardian.analysis.risk.opencp import OpenCPProspectiveRisk, opencp_grid
from guardian.analysis.risk.prospective import ProspectiveRisk
from guardian.analysis.risk.selection import (
    BlendRisk,
    paired_difference,
    rolling_origin_selection,
    summarise_periods,
)

OPENCP = "opencp-prospective"


def default_candidates() -> dict[str, RiskEstimator]:
    """The fixed candidate list Guardian selects from, week by week.

    The selection never sees a test week; the list itself was trimmed (for run time) after an
    exploratory run whose test weeks had been seen, as ``docs/risk.md`` states.
    """
    c: dict[str, RiskEstimator] = {}
    for s in (3, 5):
        for w in (8, 16):
            c[f"opencp-{s}c-{w}w"] = OpenCPProspectiveRisk(
                space_bandwidth_cells=s, time_bandwidth_weeks=w
            )
    c["opencp-8c-16w"] = OpenCPProspectiveRisk(time_bandwidth_weeks=16)
    for b in (300, 600, 900):
        for w in (8, 26):
            c[f"prospective-{b}m-{w}w"] = ProspectiveRisk(bandwidth_m=b, bandwidth_weeks=w)
    c["naive-365d"] = NaiveRisk(lookback_days=365)
    c["kde-300m"] = KDERisk(bandwidth_m=300)
    for wt in (0.25, 0.5):
        # recent near-repeat risk plus where burglaries have long been
        c[f"blend-prospective600m+naive365d-{wt:g}"] = BlendRisk(
            components=[ProspectiveRisk(bandwidth_m=600), NaiveRisk(lookback_days=365)],
            weights=[1 - wt, wt],
        )
    return c


@dataclass(frozen=True)
class Comparison:
    """Result of :func:`opencp_comparison`.

    Attributes
    ----------
    summary : DataFrame
        Test weeks only: per (method, coverage) mean hit rate / PAI with 95% t-intervals over
        weeks and the oracle; methods are the open_cp configuration, every candidate and
        ``selected``.
    periods : DataFrame
        Per (method, cut-off, coverage) scores, validation and test weeks.
    choices : DataFrame
        The candidate ``selected`` used in each test week, and its validation mean.
    versus : dict
        Paired comparison of ``selected`` with the open_cp configuration at the chosen coverage.
    params : dict
        Grid, study area, tie rule, weeks, timings.
    """

    summary: pd.DataFrame
    periods: pd.DataFrame
    choices: pd.DataFrame
    versus: dict
    params: dict = field(default_factory=dict)


def opencp_comparison(
    events: pd.DataFrame,
    *,
    start="2016-03-01",
    n_weeks: int = 40,
    validation_start="2016-01-05",
    cell_m: float = 150.0,
    area: str = "bbox",
    tie_rule: str = "fractional",
    grid: Grid | None = None,
    candidates: dict[str, RiskEstimator] | None = None,
    coverage: float = 0.05,
    polygon=None,
    window: float | str = 7,
    min_windows: int = 4,
) -> Comparison:
    """open_cp's prospective hot spot vs Guardian's tuned best on the same weekly windows.

    Parameters
    ----------
    events : DataFrame
        Canonical events: ``x``, ``y`` (metres), ``time`` (tz-aware).
    start : date-like
        First test cut-off; ``n_weeks`` weekly windows follow.
    n_weeks : int
        Test windows (open_cp set-up: 40).
    validation_start : date-like
        First cut-off of the weeks used only for choosing (they end by ``start``).
    cell_m : float
        Cell side in metres.
    area : str
        Study area, see :func:`~guardian.analysis.risk.opencp.study_area`.
    tie_rule : {"fractional", "opencp"}
    grid : Grid, optional
        Default :func:`~guardian.analysis.risk.opencp.opencp_grid` (bounding box, origin at min).
    candidates : dict, optional
        Default :func:`default_candidates`.
    coverage : float
        The coverage the choice and the head-to-head are about.
    polygon : shapely geometry, optional
        For ``area="polygon"``.
    window : float or "month"
        Window length: days (open_cp set-up: 7) or ``"month"`` (calendar months, for
        month-precision police.uk data); ``n_weeks`` then counts test months. Windows without
        any event (e.g. months missing from a bundle) are not fitted and not scored.
    min_windows : int
        Validation windows (with events) needed before the first test window.

    Returns
    -------
    Comparison
    """
    arrays = event_arrays(events)
    if grid is None:
        grid = opencp_grid(arrays["x"], arrays["y"], cell_m=cell_m, crs=arrays["crs"])
    cands = default_candidates() if candidates is None else dict(candidates)
    methods = {OPENCP: OpenCPProspectiveRisk(), **cands}
    first = as_timestamp(start, arrays["tz"])
    step = window_step(window)
    end = first + step * int(n_weeks)
    res = rolling_origin_backtest(
        events,
        methods=methods,
        start=validation_start,
        end=end,
        window=window,
        skip_empty=True,
        grid=grid,
        area=area,
        tie_rule=tie_rule,
        polygon=polygon,
    )
    cutoffs = sorted(res.periods["cutoff"].unique())
    test = [c for c in cutoffs if c >= first]
    sel, choices = rolling_origin_selection(
        res.periods,
        candidates=list(cands),
        test_cutoffs=test,
        coverage=coverage,
        min_windows=min_windows,
    )
    test_rows = res.periods[res.periods["cutoff"].isin(test)]
    both = pd.concat([test_rows, sel], ignore_index=True)
    summary = summarise_periods(both)
    versus = paired_difference(both, "selected", OPENCP, coverage=coverage)
    params = dict(res.params)
    params.update(
        {
            "grid": grid.to_dict(),
            "n_domain_cells": res.n_domain_cells,
            "test_weeks": len(test),
            "window": window if window == "month" else float(window),
            "first_test_cutoff": test[0].isoformat(),
            "last_test_cutoff": test[-1].isoformat(),
            "validation_weeks_before_first_test": int(np.sum(np.asarray(cutoffs) < first)),
            "selection": f"best mean hit rate at {coverage:g} over weeks ended by each cut-off",
            "timings_s": res.timings,
        }
    )
    return Comparison(summary, both, choices, versus, params)
