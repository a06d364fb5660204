"""Prospective hot-spotting (Bowers, Johnson and Pease 2004)."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from guardian.analysis.risk.base import RiskEstimator, check_positive


def prospective_kernel(bandwidth_cells: float) -> np.ndarray:
    """Spatial weights ``1 / (1 + d)`` for cell offsets with ``d <= bandwidth_cells``.

    ``d`` is the Euclidean distance between cell centres in cells (1 for an edge neighbour,
    √2 for a diagonal one). Returns a square array centred on offset (0, 0).
    """
    r = int(math.floor(bandwidth_cells + 1e-9))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    d = np.hypot(dx, dy)
    return np.where(d <= bandwidth_cells + 1e-9, 1.0 / (1.0 + d), 0.0)


class ProspectiveRisk(RiskEstimator):
    """Prospective hot-spotting: recent, nearby events raise risk, decaying in space and time.

    Each event contributes ``1 / ((1 + d)(1 + t))`` to every cell within the space bandwidth,
    where ``d`` is the distance in cells between the event's cell and the cell (centre to
    centre, Euclidean) and ``t`` is the whole number of weeks between the event and the start
    of the prediction window (``t = floor(age_days / 7)``, so last week's events have t = 0).
    Events with ``d * cell_m > bandwidth_m`` or ``age_days >= 7 * bandwidth_weeks`` contribute
    nothing.

    Parameters
    ----------
    bandwidth_m : float, default 400
        Space bandwidth in metres (converted to cells by dividing by the cell size).
    bandwidth_weeks : float, default 8
        Time bandwidth in weeks (8 weeks ≈ 2 months).
    grid, cell_m
        See :class:`~guardian.analysis.risk.base.RiskEstimator`.

    Notes
    -----
    Bowers, K. J., Johnson, S. D. and Pease, K. (2004) Prospective hot-spotting: the future of
    crime mapping? British Journal of Criminology 44(5), 641–658. The weights factorise into
    space × time, so the surface is a convolution of per-cell time weights with the spatial
    kernel (exact, computed with ``scipy.ndimage.convolve``).
    """

    method = "prospective"

    def __init__(
        self,
        *,
        bandwidth_m: float = 400.0,
        bandwidth_weeks: float = 8.0,
        grid=None,
        cell_m: float = 150.0,
    ) -> None:
        super().__init__(grid=grid, cell_m=cell_m)
        self.bandwidth_m = bandwidth_m
        self.bandwidth_weeks = bandwidth_weeks

    def _validate(self) -> None:
        super()._validate()
        check_positive("bandwidth_m", self.bandwidth_m)
        check_positive("bandwidth_weeks", self.bandwidth_weeks)

    def _fit(self, x, y, t, cutoff_d) -> None:
        horizon = 7.0 * float(self.bandwidth_weeks)
        sel = t >= cutoff_d - horizon - 1e-9
        self._x, self._y, self._t = x[sel], y[sel], t[sel]
        self.kernel_ = prospective_kernel(float(self.bandwidth_m) / self.grid_.cell_m)

    def _predict(self, start_d: float, end_d: float) -> np.ndarray:
        age = start_d - self._t
        horizon = 7.0 * float(self.bandwidth_weeks)
        sel = (age >= 0) & (age < horizon)
        weeks = np.floor(age[sel] / 7.0 + 1e-12)
        tw = self.grid_.counts(self._x[sel], self._y[sel], weights=1.0 / (1.0 + weeks))
        return ndimage.convolve(tw, self.kernel_, mode="constant", cval=0.0)
