"""Accuracy of a risk surface: hit rate and Predictive Accuracy Index at fixed area coverage.

Tie rule (fractional inclusion)
-------------------------------
Cells are ranked by score, highest first. To cover a share ``c`` of the study area (``N``
cells) we select ``k = c · N`` cells — ``k`` need not be whole. Cells scoring strictly above the
score at position ``k`` are selected whole; the block of ``t`` cells tied at that score is
included with fraction ``(k - m) / t`` each, where ``m`` cells were selected above it. Each tied
cell therefore contributes that fraction of its events. This is exactly the *expected* hit rate
over a uniformly random order of the tied cells, it needs no seed, it makes the covered area
exactly ``c`` and it gives methods no credit for arbitrary tie-breaking (the naive "last week's
counts" surface is mostly ties at 0 and 1).

hit rate = events in selected cells / all events in the window;
PAI = hit rate / area share (Chainey, Tompson and Uhlig 2008).
Events outside the study area (or outside the grid) count as misses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from guardian.errors import InputError

DEFAULT_COVERAGES: tuple[float, ...] = (0.01, 0.02, 0.05, 0.10)


def _check_coverages(coverages) -> np.ndarray:
    cov = np.atleast_1d(np.asarray(coverages, dtype=float))
    if cov.size == 0 or np.any(~np.isfinite(cov)) or np.any(cov <= 0) or np.any(cov > 1):
        raise InputError(
            f"coverages must be fractions in (0, 1], got {list(np.atleast_1d(coverages))}"
        )
    return cov


TIE_RULES: tuple[str, ...] = ("fractional", "opencp")
"""``fractional``: Guardian's expected value over random tie-breaks; ``opencp``: open_cp's
``top_slice`` (``floor(N · coverage)`` whole cells, ties broken by row-major order)."""


def _captured_opencp(s: np.ndarray, a: np.ndarray, cov: np.ndarray) -> np.ndarray:
    # open_cp.evaluation._top_slice_one_dim: take every cell >= the n-th largest score, then
    # drop the *first* (row-major) cells tied at that score until exactly n remain.
    n_all = s.size
    order = np.sort(s)
    out = np.empty(cov.size)
    for idx, c in enumerate(cov):
        n = min(max(int(np.floor(n_all * c)), 0), n_all)
        if n == 0:
            out[idx] = 0.0
            continue
        if n == n_all:
            out[idx] = a.sum()
            continue
        thr = order[-n]
        above = s > thr
        tied = np.flatnonzero(s == thr)
        keep = n - int(above.sum())
        chosen = tied[tied.size - keep :] if keep > 0 else tied[:0]
        out[idx] = a[above].sum() + a[chosen].sum()
    return out


def captured(scores, counts, coverages, *, mask=None, tie_rule: str = "fractional") -> np.ndarray:
    """Events captured in the top-scoring share of cells, with fractional inclusion of ties.

    Parameters
    ----------
    scores : array
        Score per cell (any shape); higher = riskier.
    counts : array
        Actual events per cell, same shape.
    coverages : float or sequence of float
        Shares of the study area in (0, 1].
    mask : bool array, optional
        Study-area cells (default: every cell).
    tie_rule : {"fractional", "opencp"}
        ``fractional`` (default, see module notes) or open_cp's ``top_slice`` order rule.

    Returns
    -------
    ndarray
        Captured events (may be fractional because of ties), one per coverage.
    """
    if tie_rule not in TIE_RULES:
        raise InputError(
            f"tie_rule was {tie_rule!r} but is expected to be one of {list(TIE_RULES)}"
        )
    s = np.asarray(scores, dtype=float)
    a = np.asarray(counts, dtype=float)
    if s.shape != a.shape:
        raise InputError(f"scores shape {s.shape} differs from counts shape {a.shape}")
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        if m.shape != s.shape:
            raise InputError(f"mask shape {m.shape} differs from scores shape {s.shape}")
        s, a = s[m], a[m]
    s, a = s.ravel(), a.ravel()
    if np.isnan(s).any():
        raise InputError("scores contain NaN; a surface must score every cell")
    cov = _check_coverages(coverages)
    n = s.size
    if n == 0:
        return np.zeros(cov.size)
    if tie_rule == "opencp":
        return _captured_opencp(s, a, cov)
    # group cells by distinct score, highest first
    uniq, inv = np.unique(-s, return_inverse=True)
    size = np.bincount(inv, minlength=uniq.size).astype(float)
    events = np.bincount(inv, weights=a, minlength=uniq.size)
    cum_size = np.cumsum(size)
    cum_events = np.cumsum(events)
    out = np.empty(cov.size)
    for idx, c in enumerate(cov):
        k = c * n
        g = int(np.searchsorted(cum_size, k - 1e-9 * n, side="left"))
        g = min(g, uniq.size - 1)
        above_cells = cum_size[g - 1] if g > 0 else 0.0
        above_events = cum_events[g - 1] if g > 0 else 0.0
        frac = min(max((k - above_cells) / size[g], 0.0), 1.0)
        out[idx] = above_events + frac * events[g]
    return out


@dataclass(frozen=True)
class Accuracy:
    """Hit rate and PAI of one surface against one window's events, per coverage."""

    coverages: tuple[float, ...]
    hits: tuple[float, ...]
    n_events: int
    hit_rate: tuple[float, ...]
    pai: tuple[float, ...]
    oracle_hit_rate: tuple[float, ...]
    oracle_pai: tuple[float, ...]
    n_cells: int

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "coverage": self.coverages,
                "hits": self.hits,
                "n_events": self.n_events,
                "hit_rate": self.hit_rate,
                "pai": self.pai,
                "oracle_hit_rate": self.oracle_hit_rate,
                "oracle_pai": self.oracle_pai,
            }
        )

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


def evaluate_surface(
    values,
    actual_counts,
    *,
    coverages=DEFAULT_COVERAGES,
    mask=None,
    n_outside: int = 0,
    tie_rule: str = "fractional",
) -> Accuracy:
    """Hit rate and PAI of a score surface, and the oracle maximum, at each coverage.

    Parameters
    ----------
    values : array (ny, nx)
        Predicted scores.
    actual_counts : array (ny, nx)
        Events per cell in the prediction window.
    coverages : sequence of float
        Area shares in (0, 1].
    mask : bool array (ny, nx), optional
        Study area; events in cells outside it are misses.
    n_outside : int
        Events in the window that fell outside the grid (misses).
    tie_rule : {"fractional", "opencp"}
        How the block of cells tied at the coverage threshold is counted, see :func:`captured`.

    Returns
    -------
    Accuracy
        ``oracle_*`` rank cells by the actual counts: the best any method could do at that
        coverage on the same events.
    """
    cov = _check_coverages(coverages)
    counts = np.asarray(actual_counts, dtype=float)
    total = float(counts.sum()) + int(n_outside)
    m = np.ones(counts.shape, bool) if mask is None else np.asarray(mask, bool)
    hits = captured(values, counts, cov, mask=m, tie_rule=tie_rule)
    best = captured(counts, counts, cov, mask=m, tie_rule=tie_rule)
    with np.errstate(invalid="ignore", divide="ignore"):
        hr = hits / total if total > 0 else np.full(cov.size, np.nan)
        ohr = best / total if total > 0 else np.full(cov.size, np.nan)
    return Accuracy(
        coverages=tuple(float(c) for c in cov),
        hits=tuple(float(h) for h in hits),
        n_events=int(round(total)),
        hit_rate=tuple(float(h) for h in hr),
        pai=tuple(float(h / c) for h, c in zip(hr, cov, strict=True)),
        oracle_hit_rate=tuple(float(h) for h in ohr),
        oracle_pai=tuple(float(h / c) for h, c in zip(ohr, cov, strict=True)),
        n_cells=int(m.sum()),
    )


def hit_rate(scores, counts, coverage: float, *, mask=None, n_events: float | None = None) -> float:
    """Share of events captured by the top ``coverage`` share of cells (ties: fractional)."""
    total = float(np.asarray(counts, float).sum()) if n_events is None else float(n_events)
    if total <= 0:
        return float("nan")
    return float(captured(scores, counts, [coverage], mask=mask)[0] / total)


def pai(scores, counts, coverage: float, *, mask=None, n_events: float | None = None) -> float:
    """Predictive Accuracy Index: hit rate / area share (area share is exactly ``coverage``)."""
    return hit_rate(scores, counts, coverage, mask=mask, n_events=n_events) / float(coverage)
