"""Retrospective kernel density: a fixed-bandwidth Gaussian KDE of recent events on the grid."""

from __future__ import annotations

import numpy as np

from guardian.analysis.risk.base import (
    RiskEstimator,
    check_positive,
    separable_sum,
    unique_points,
)


class KDERisk(RiskEstimator):
    """Retrospective Gaussian kernel density estimate.

    Every event in the last ``lookback_days`` before the cut-off counts equally; its isotropic
    Gaussian kernel (standard deviation ``bandwidth_m`` metres) is integrated exactly over each
    cell. The surface is scaled to expected events per cell in the prediction window, assuming
    the look-back rate continues: ``mass_cell * n / lookback_days * window_days``.

    Parameters
    ----------
    bandwidth_m : float, default 300
        Kernel standard deviation in metres.
    lookback_days : float, default 365
        Only events in ``[cutoff - lookback_days, cutoff)`` are used.
    grid, cell_m
        See :class:`~guardian.analysis.risk.base.RiskEstimator`.

    Notes
    -----
    Exact, no truncation: the Gaussian is separable, so the sum over events of the cell masses
    is one matrix product per chunk of events (see
    :func:`~guardian.analysis.risk.base.separable_sum`). Chainey, Tompson and Uhlig (2008)
    compare this "retrospective" hot-spot map with other mapping methods.
    """

    method = "kde"

    def __init__(
        self,
        *,
        bandwidth_m: float = 300.0,
        lookback_days: float = 365.0,
        grid=None,
        cell_m: float = 150.0,
    ) -> None:
        super().__init__(grid=grid, cell_m=cell_m)
        self.bandwidth_m = bandwidth_m
        self.lookback_days = lookback_days

    def _validate(self) -> None:
        super()._validate()
        check_positive("bandwidth_m", self.bandwidth_m)
        check_positive("lookback_days", self.lookback_days)

    def _fit(self, x, y, t, cutoff_d) -> None:
        sel = t >= cutoff_d - self.lookback_days
        ux, uy, w = unique_points(x[sel], y[sel])
        self.n_used_ = int(sel.sum())
        self.mass_ = separable_sum(self.grid_, ux, uy, w, float(self.bandwidth_m))

    def _predict(self, start_d: float, end_d: float) -> np.ndarray:
        return self.mass_ * ((end_d - start_d) / float(self.lookback_days))

    def _fitted_summary(self) -> dict:
        return {**super()._fitted_summary(), "n_used": self.n_used_}
