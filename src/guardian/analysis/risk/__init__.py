"""Prospective risk maps and their honest back-tests.

Every method is an estimator with ``fit(events, cutoff)`` (only events before the cut-off are
used) and ``predict(start, end) -> GridSurface``; one evaluation (hit rate, PAI at fixed area
coverage, with the oracle maximum) and one rolling-origin back-test work for all of them.
Drawing a map (with its back-test figures) is a report's job: :mod:`guardian.reports.maps`.
"""

from guardian.analysis.risk.backtest import (
    METHODS,
    BacktestResult,
    make_estimator,
    rolling_origin_backtest,
    rolling_windows,
)
from guardian.analysis.risk.base import RiskEstimator
from guardian.analysis.risk.evaluation import (
    DEFAULT_COVERAGES,
    Accuracy,
    captured,
    evaluate_surface,
    hit_rate,
    pai,
)
from guardian.analysis.risk.grid import Grid, GridSurface
from guardian.analysis.risk.kde import KDERisk
from guardian.analysis.risk.naive import NaiveRisk
from guardian.analysis.risk.prospective import ProspectiveRisk
from guardian.analysis.risk.sepp import SEPPRisk

__all__ = [
    "DEFAULT_COVERAGES",
    "METHODS",
    "Accuracy",
    "BacktestResult",
    "Grid",
    "GridSurface",
    "KDERisk",
    "NaiveRisk",
    "ProspectiveRisk",
    "RiskEstimator",
    "SEPPRisk",
    "captured",
    "evaluate_surface",
    "hit_rate",
    "make_estimator",
    "pai",
    "rolling_origin_backtest",
    "rolling_windows",
]
