"""Regular square grids in projected metres and the one prediction type every risk method returns.

A :class:`Grid` has its origin snapped to a multiple of the cell size, so two grids built from
different periods (or different methods) with the same cell size line up cell for cell and can
be compared or differenced directly.

Cells are indexed ``(row, col)`` with ``row`` counting up from the southern edge (``y``) and
``col`` from the western edge (``x``); value arrays have shape ``(ny, nx)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import ndimage

from guardian.errors import InputError


def _check_xy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise InputError(f"x and y must have the same length, got {x.size} and {y.size}")
    return x, y


@dataclass(frozen=True)
class Grid:
    """A regular grid of square cells in projected metres.

    Parameters
    ----------
    x0, y0 : float
        South-west corner of cell ``(0, 0)`` in metres; a multiple of ``cell_m``.
    cell_m : float
        Cell side in metres.
    nx, ny : int
        Number of columns (west to east) and rows (south to north).
    crs : str
        CRS of the coordinates (e.g. ``"EPSG:27700"``); informative, never used for maths.
    """

    x0: float
    y0: float
    cell_m: float
    nx: int
    ny: int
    crs: str = ""

    def __post_init__(self) -> None:
        if not (self.cell_m > 0 and math.isfinite(self.cell_m)):
            raise InputError(f"cell_m must be a positive number of metres, got {self.cell_m!r}")
        if self.nx < 1 or self.ny < 1:
            raise InputError(f"grid shape must be at least 1 x 1, got ny={self.ny}, nx={self.nx}")

    @classmethod
    def covering(cls, x, y, *, cell_m: float = 150.0, pad_cells: int = 0, crs: str = "") -> Grid:
        """The smallest snapped grid covering the points ``(x, y)`` (metres), plus a margin.

        The origin is ``floor(min / cell_m) * cell_m`` so grids built from different periods
        with the same ``cell_m`` are aligned. ``pad_cells`` adds that many cells on every side
        (useful for kernels that spill past the outermost events).
        """
        if not (isinstance(cell_m, int | float) and cell_m > 0 and math.isfinite(cell_m)):
            raise InputError(f"cell_m must be a positive number of metres, got {cell_m!r}")
        x, y = _check_xy(x, y)
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.any():
            raise InputError("no events with coordinates to build a grid from; check x/y")
        x, y = x[ok], y[ok]
        pad = int(pad_cells)
        x0 = (math.floor(x.min() / cell_m) - pad) * cell_m
        y0 = (math.floor(y.min() / cell_m) - pad) * cell_m
        nx = int(math.floor((x.max() - x0) / cell_m)) + 1 + pad
        ny = int(math.floor((y.max() - y0) / cell_m)) + 1 + pad
        return cls(float(x0), float(y0), float(cell_m), nx, ny, crs)

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``."""
        return (self.ny, self.nx)

    @property
    def n_cells(self) -> int:
        return self.nx * self.ny

    @property
    def cell_area_m2(self) -> float:
        return self.cell_m * self.cell_m

    def cell_index(self, x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row, column and an inside-the-grid flag for each point (metres).

        Points outside the grid or without coordinates get ``inside=False`` (row/col are then
        meaningless and set to 0).
        """
        x, y = _check_xy(x, y)
        with np.errstate(invalid="ignore"):
            col = np.floor((x - self.x0) / self.cell_m)
            row = np.floor((y - self.y0) / self.cell_m)
        inside = (
            np.isfinite(col)
            & np.isfinite(row)
            & (col >= 0)
            & (col < self.nx)
            & (row >= 0)
            & (row < self.ny)
        )
        col = np.where(inside, col, 0).astype(np.int64)
        row = np.where(inside, row, 0).astype(np.int64)
        return row, col, inside

    def counts(self, x, y, weights=None) -> np.ndarray:
        """Sum of ``weights`` (default 1 per point) per cell, shape ``(ny, nx)``.

        Points outside the grid are ignored; use :meth:`cell_index` to count them.
        """
        row, col, inside = self.cell_index(x, y)
        w = np.ones(row.size) if weights is None else np.asarray(weights, dtype=float).ravel()
        if w.size != row.size:
            raise InputError(f"weights has {w.size} values for {row.size} points")
        flat = row[inside] * self.nx + col[inside]
        out = np.bincount(flat, weights=w[inside], minlength=self.n_cells)
        return out.reshape(self.shape)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates (metres): two arrays of shape ``(ny, nx)``."""
        xs = self.x0 + (np.arange(self.nx) + 0.5) * self.cell_m
        ys = self.y0 + (np.arange(self.ny) + 0.5) * self.cell_m
        return np.meshgrid(xs, ys)

    def x_edges(self) -> np.ndarray:
        return self.x0 + np.arange(self.nx + 1) * self.cell_m

    def y_edges(self) -> np.ndarray:
        return self.y0 + np.arange(self.ny + 1) * self.cell_m

    def footprint(self, x, y, *, buffer_m: float = 0.0) -> np.ndarray:
        """Boolean mask of cells holding a point or lying within ``buffer_m`` metres of one.

        The buffer is applied as a disc of radius ``buffer_m // cell_m`` cells (cell-centre
        distance), so ``buffer_m=0`` gives just the occupied cells.
        """
        occupied = self.counts(x, y) > 0
        r = int(buffer_m // self.cell_m)
        if r <= 0:
            return occupied
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
        disc = (xx * xx + yy * yy) <= r * r
        return ndimage.binary_dilation(occupied, structure=disc)

    def to_dict(self) -> dict:
        return {
            "x0": self.x0,
            "y0": self.y0,
            "cell_m": self.cell_m,
            "nx": self.nx,
            "ny": self.ny,
            "crs": self.crs,
        }


@dataclass(frozen=True)
class GridSurface:
    """A risk (or count) surface on a :class:`Grid` for a time window.

    Every risk method returns this type, so every accuracy measure works on every method.

    Attributes
    ----------
    grid : Grid
        Origin (metres), cell size (metres) and shape.
    values : ndarray, shape (ny, nx)
        Score per cell; larger means riskier. For methods that predict expected counts
        (naive, SEPP) it is an expected number of events in the window.
    method : str
        Name of the method that produced it.
    start, end : pandas.Timestamp
        The window ``[start, end)`` the surface predicts.
    params : dict
        The estimator's parameters (and seed, when random), for reports.
    """

    grid: Grid
    values: np.ndarray
    method: str
    start: pd.Timestamp
    end: pd.Timestamp
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        v = np.asarray(self.values, dtype=float)
        if v.shape != self.grid.shape:
            raise InputError(
                f"values have shape {v.shape} but the grid is {self.grid.shape} (ny, nx)"
            )
        object.__setattr__(self, "values", v)

    @property
    def origin(self) -> tuple[float, float]:
        return (self.grid.x0, self.grid.y0)

    @property
    def cell_m(self) -> float:
        return self.grid.cell_m

    @property
    def shape(self) -> tuple[int, int]:
        return self.grid.shape

    def to_frame(self) -> pd.DataFrame:
        """One row per cell: row, col, x/y of the centre (metres), value."""
        cx, cy = self.grid.centres()
        rows, cols = np.indices(self.grid.shape)
        return pd.DataFrame(
            {
                "row": rows.ravel(),
                "col": cols.ravel(),
                "x": cx.ravel(),
                "y": cy.ravel(),
                "value": self.values.ravel(),
            }
        )

    def to_dict(self) -> dict:
        return {
            "grid": self.grid.to_dict(),
            "method": self.method,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "params": dict(self.params),
            "values": self.values.tolist(),
        }
