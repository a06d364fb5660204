"""Naive baseline: last period's counts.

The prediction for ``[start, end)`` is the count of events per cell in the equally long period
just before the cut-off, ``[cutoff - (end - start), cutoff)``. This is what "last week's hot
spots" means in practice and the baseline every other method must beat.
"""

from __future__ import annotations

import numpy as np

from guardian.analysis.risk.base import RiskEstimator, check_positive


class NaiveRisk(RiskEstimator):
    """Last period's counts as next period's risk.

    Parameters
    ----------
    lookback_days : float or None, default None
        Count events in the last ``lookback_days`` before the cut-off; ``None`` (the baseline)
        uses the length of the prediction window ("last week's counts" for a weekly window).
    grid : Grid or None
        Grid to predict on (see :class:`~guardian.analysis.risk.base.RiskEstimator`).
    cell_m : float
        Cell side in metres when ``grid`` is None.

    Attributes
    ----------
    cutoff_ : Timestamp
        Training cut-off.
    n_events_ : int
        Events kept (before the cut-off).
    n_after_cutoff_ : int
        Events at or after the cut-off that were dropped.

    Notes
    -----
    The look-back equals the prediction window, so a weekly back-test compares with last week's
    counts and a monthly one with last month's. Most cells score 0, so ties are common: the
    evaluation's tie rule (fractional inclusion of the tied block) matters most for this method.
    """

    method = "naive"

    def __init__(
        self, *, lookback_days: float | None = None, grid=None, cell_m: float = 150.0
    ) -> None:
        super().__init__(grid=grid, cell_m=cell_m)
        self.lookback_days = lookback_days

    def _validate(self) -> None:
        super()._validate()
        check_positive("lookback_days", self.lookback_days, allow_none=True)

    def _fit(self, x, y, t, cutoff_d) -> None:
        self._x, self._y, self._t = x, y, t
        self._cutoff_d = cutoff_d

    def _predict(self, start_d: float, end_d: float) -> np.ndarray:
        length = end_d - start_d if self.lookback_days is None else float(self.lookback_days)
        sel = self._t >= self._cutoff_d - length
        return self.grid_.counts(self._x[sel], self._y[sel])
