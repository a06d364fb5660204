"""open_cp's prospective hot-spot set-up, reproduced on Guardian's grid and evaluation.

open_cp (Leeds, ``open_cp/prohotspot.py``) is the best-known open implementation of
prospective hot-spotting. Its *classic* set-up differs from :class:`ProspectiveRisk` in four
ways that change the figures, so comparing the two without saying which is which misleads:

* **distance** between the event's cell and the scored cell is the ℓ∞ (Chebyshev) distance in
  cells — diagonal neighbours are 1 apart — not the Euclidean centre-to-centre distance;
* **bandwidths are strict**: weight 0 when ``d >= 8`` cells or ``t >= 8`` whole weeks;
* **the grid** has its origin at the minimum x/y of the data (not snapped) and
  ``rint((max - min) / cell)`` columns/rows over the rectangular bounding box, with no mask;
* **ties** are broken by array order: ``n = floor(N · coverage)`` cells are taken, and among the
  cells tied at the threshold open_cp drops the first ones in row-major order
  (``open_cp.evaluation.top_slice``), see :func:`~guardian.analysis.risk.evaluation.captured`.

open_cp's ``TimedPoints.events_before`` keeps events *at or before* the cut-off; with
date-only times stamped at midnight that puts the first day of the predicted week into the
training data. Guardian keeps only events strictly before the cut-off ("all earlier events"),
so its reproduction does not inherit that leak (see ``docs/risk.md``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from guardian.analysis.risk.base import RiskEstimator, check_positive
from guardian.analysis.risk.grid import Grid
from guardian.errors import InputError

AREAS: tuple[str, ...] = ("footprint", "bbox", "cells-with-events", "polygon")
"""Study-area (coverage denominator) definitions understood by :func:`study_area`."""


def opencp_grid(x, y, *, cell_m: float = 150.0, crs: str = "") -> Grid:
    """open_cp's grid over the rectangular bounding box of the points (metres).

    The origin is the minimum x/y of the points (not snapped to a multiple of the cell size) and
    the shape is ``rint((max - min) / cell_m)`` in each direction, as in
    ``ProspectiveHotSpot.predict``; points on the last partial column/row can fall outside it
    (they then count as misses).

    Parameters
    ----------
    x, y : array
        Event coordinates in projected metres.
    cell_m : float
        Cell side in metres.
    crs : str
        Informative CRS label.

    Returns
    -------
    Grid
    """
    check_positive("cell_m", cell_m)
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise InputError("no events with coordinates to build the open_cp grid from")
    x, y = x[ok], y[ok]
    nx = max(int(np.rint((x.max() - x.min()) / cell_m)), 1)
    ny = max(int(np.rint((y.max() - y.min()) / cell_m)), 1)
    return Grid(float(x.min()), float(y.min()), float(cell_m), nx, ny, crs)


def study_area(
    grid: Grid, x, y, *, area: str = "footprint", buffer_m: float = 300.0, polygon=None
) -> np.ndarray:
    """The study-area cells (the denominator of coverage) under one of :data:`AREAS`.

    Parameters
    ----------
    grid : Grid
    x, y : array
        Coordinates (metres) of the events that define the area (all periods together, so the
        area is the same for every window).
    area : {"footprint", "bbox", "cells-with-events", "polygon"}
        ``footprint``: cells within ``buffer_m`` of any event (Guardian's default);
        ``bbox``: every cell of the grid (open_cp's "no mask");
        ``cells-with-events``: cells holding at least one event;
        ``polygon``: cells whose centre lies inside ``polygon``.
    buffer_m : float
        Footprint buffer in metres.
    polygon : shapely geometry, optional
        Required for ``area="polygon"``; in the grid's projected metres.

    Returns
    -------
    bool array (ny, nx)
    """
    if area not in AREAS:
        raise InputError(f"area was {area!r} but is expected to be one of {list(AREAS)}")
    if area == "bbox":
        return np.ones(grid.shape, bool)
    if area == "cells-with-events":
        return grid.counts(x, y) > 0
    if area == "footprint":
        return grid.footprint(x, y, buffer_m=buffer_m)
    if polygon is None:
        raise InputError("area='polygon' needs polygon= (a shapely geometry in projected metres)")
    import shapely

    cx, cy = grid.centres()
    return np.asarray(shapely.contains_xy(polygon, cx, cy), bool)


def describe_area(area: str, n_cells: int, n_grid: int, buffer_m: float = 300.0) -> str:
    """One line naming the study area, for every printed or saved output."""
    what = {
        "footprint": f"cells within {buffer_m:g} m of any event (footprint)",
        "bbox": "every cell of the rectangular bounding box (no mask, as open_cp)",
        "cells-with-events": "cells with at least one event in the data",
        "polygon": "cells whose centre lies inside the given polygon",
    }[area]
    return f"{area}: {what}; {n_cells:,} of {n_grid:,} grid cells"


def chebyshev_kernel(space_bandwidth_cells: float) -> np.ndarray:
    """open_cp's classic spatial weight ``1 / (1 + d)`` for ``d < space_bandwidth_cells``.

    ``d = max(|dx|, |dy|)`` in cells (``DistanceDiagonalsSame``), strict inequality as in
    ``ClassicWeight``. Returns a square array centred on offset (0, 0).
    """
    r = max(int(math.ceil(space_bandwidth_cells)) - 1, 0)
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    d = np.maximum(np.abs(dx), np.abs(dy))
    return np.where(d < space_bandwidth_cells, 1.0 / (1.0 + d), 0.0)


class OpenCPProspectiveRisk(RiskEstimator):
    """open_cp's classic prospective hot spot (``ProspectiveHotSpot`` + ``ClassicWeight``).

    Each event before the cut-off adds ``1 / ((1 + d)(1 + t))`` to every cell with
    ``d < space_bandwidth_cells`` and ``t < time_bandwidth_weeks``, where ``d`` is the ℓ∞
    distance in cells between the event's cell and the cell and ``t = floor(age / 1 week)``
    at the start of the window.

    Parameters
    ----------
    space_bandwidth_cells : float, default 8
        Space bandwidth in cells (open_cp: ``400 / 50``), strict.
    time_bandwidth_weeks : float, default 8
        Time bandwidth in whole weeks, strict.
    grid, cell_m
        See :class:`~guardian.analysis.risk.base.RiskEstimator`; pass :func:`opencp_grid` for
        open_cp's grid.

    Notes
    -----
    Bowers, Johnson and Pease (2004); open_cp ``prohotspot.py`` (QuantCrimAtLeeds/PredictCode).
    The weight factorises into space × time, so the surface is a convolution of per-cell time
    weights with :func:`chebyshev_kernel` — identical to open_cp's per-cell loop (tested).
    """

    method = "opencp-prospective"

    def __init__(
        self,
        *,
        space_bandwidth_cells: float = 8.0,
        time_bandwidth_weeks: float = 8.0,
        grid=None,
        cell_m: float = 150.0,
    ) -> None:
        super().__init__(grid=grid, cell_m=cell_m)
        self.space_bandwidth_cells = space_bandwidth_cells
        self.time_bandwidth_weeks = time_bandwidth_weeks

    def _validate(self) -> None:
        super()._validate()
        check_positive("space_bandwidth_cells", self.space_bandwidth_cells)
        check_positive("time_bandwidth_weeks", self.time_bandwidth_weeks)

    def _fit(self, x, y, t, cutoff_d) -> None:
        self._x, self._y, self._t = x, y, t
        self.kernel_ = chebyshev_kernel(float(self.space_bandwidth_cells))

    def _predict(self, start_d: float, end_d: float) -> np.ndarray:
        # open_cp: floor((predict_time - timestamp) / 1 week), weight 0 when >= bandwidth
        weeks = np.floor((start_d - self._t) / 7.0 + 1e-12)
        sel = (weeks >= 0) & (weeks < float(self.time_bandwidth_weeks))
        tw = self.grid_.counts(self._x[sel], self._y[sel], weights=1.0 / (1.0 + weeks[sel]))
        return ndimage.convolve(tw, self.kernel_, mode="constant", cval=0.0)
