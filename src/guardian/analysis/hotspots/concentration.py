"""The law of crime concentration: what share of harm the top 1%, 2%, 5% of places hold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from guardian.errors import InputError

DEFAULT_FRACTIONS: tuple[float, ...] = (0.01, 0.02, 0.05)


def top_share(values, fraction: float) -> float:
    """Share of the total held by the top ``fraction`` of the entries.

    ``k = fraction · n`` entries are taken from the top; a fractional last entry counts with
    its fraction (ties need no rule: tied entries have equal values).
    """
    v = np.sort(np.asarray(values, dtype=float).ravel())[::-1]
    total = v.sum()
    if v.size == 0 or total <= 0:
        return float("nan")
    if not (0 < fraction <= 1):
        raise InputError(f"fraction must be in (0, 1], got {fraction!r}")
    k = fraction * v.size
    whole = int(np.floor(k + 1e-9))
    s = v[:whole].sum()
    if whole < v.size and k - whole > 1e-9:
        s += (k - whole) * v[whole]
    return float(s / total)


def gini(values) -> float:
    """Gini coefficient of non-negative values (0 = equal, → 1 = all in one place).

    ``G = Σ_i (2i - n - 1) x_(i) / (n Σ x)`` with ``x_(i)`` ascending, ``i = 1..n``.
    """
    v = np.sort(np.asarray(values, dtype=float).ravel())
    if v.size == 0 or v.sum() <= 0:
        return float("nan")
    if (v < 0).any():
        raise InputError("gini needs non-negative values")
    n = v.size
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * v).sum() / (n * v.sum()))


@dataclass(frozen=True)
class Concentration:
    """Concentration of a per-cell quantity.

    ``share_of_area[f]``: share of the total in the top ``f`` of *all study-area cells*;
    ``share_of_occupied[f]``: share in the top ``f`` of *cells with at least one event*.
    ``gini_area`` / ``gini_occupied``: Gini over the same two bases.
    """

    fractions: tuple[float, ...]
    share_of_area: tuple[float, ...]
    share_of_occupied: tuple[float, ...]
    gini_area: float
    gini_occupied: float
    n_area_cells: int
    n_occupied_cells: int
    quantity: str = "harm"

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "top_cells": self.fractions,
                "share_of_area_basis": self.share_of_area,
                "share_of_occupied_basis": self.share_of_occupied,
            }
        )

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}

    def sentence(self) -> str:
        f = self.fractions
        parts = ", ".join(
            f"{100 * a:.1f}% of {self.quantity} in the top {100 * x:g}% of cells"
            for x, a in zip(f, self.share_of_area, strict=True)
        )
        return (
            f"{parts} (basis: all {self.n_area_cells:,} study-area cells; of the "
            f"{self.n_occupied_cells:,} cells with an event, the top {100 * f[0]:g}% hold "
            f"{100 * self.share_of_occupied[0]:.1f}%); Gini {self.gini_area:.2f}"
        )


def concentration(
    values, *, occupied=None, fractions=DEFAULT_FRACTIONS, quantity: str = "harm"
) -> Concentration:
    """Concentration curve and Gini of per-cell values over the study area.

    Parameters
    ----------
    values : array
        Per-cell totals for the study-area cells (zeros included).
    occupied : bool array, optional
        Cells with at least one event (default ``values > 0``; pass counts > 0 when harm
        weights can be zero).
    fractions : sequence of float
        Top shares of cells to report.
    """
    v = np.asarray(values, dtype=float).ravel()
    occ = v > 0 if occupied is None else np.asarray(occupied, dtype=bool).ravel()
    if occ.shape != v.shape:
        raise InputError(f"occupied has {occ.size} cells, values {v.size}")
    fr = tuple(float(f) for f in fractions)
    return Concentration(
        fractions=fr,
        share_of_area=tuple(top_share(v, f) for f in fr),
        share_of_occupied=tuple(top_share(v[occ], f) for f in fr),
        gini_area=gini(v),
        gini_occupied=gini(v[occ]),
        n_area_cells=int(v.size),
        n_occupied_cells=int(occ.sum()),
        quantity=quantity,
    )
