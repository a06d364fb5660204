"""Stability of harm spots: overlap between periods, and emerging / persistent / new /
diminishing labels from a Mann-Kendall trend on Gi* z-scores (in the manner of Esri's
emerging hot spot analysis)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from guardian.errors import InputError

LABELS = ("new", "emerging", "diminishing", "persistent", "historical", "sporadic", "")


@dataclass(frozen=True)
class MannKendall:
    """Mann-Kendall trend test per series (vectorised over rows).

    ``s``: the S statistic; ``var_s``: its variance with the tie correction; ``z``: continuity-
    corrected z; ``p``: two-sided p-value; ``trend``: +1 increasing / -1 decreasing / 0 none at
    ``alpha``.
    """

    s: np.ndarray
    var_s: np.ndarray
    z: np.ndarray
    p: np.ndarray
    trend: np.ndarray
    alpha: float


def mann_kendall(series, *, alpha: float = 0.05) -> MannKendall:
    """Mann-Kendall test on each row of ``series`` (shape ``(m, T)`` or ``(T,)``).

    ``S = Σ_{i<j} sign(x_j - x_i)``;
    ``Var S = [T(T-1)(2T+5) - Σ_g t_g(t_g-1)(2t_g+5)] / 18`` (``t_g`` = size of tie group g);
    ``z = (S - sign S) / sqrt(Var S)``; ``p = 2 Φ(-|z|)``. Same as ``pymannkendall.original_test``.

    Notes
    -----
    Mann (1945); Kendall (1975). Needs T >= 3 (and finite values).
    """
    x = np.atleast_2d(np.asarray(series, dtype=float))
    m, t = x.shape
    if t < 3:
        raise InputError(f"Mann-Kendall needs at least 3 periods, got {t}")
    if not np.all(np.isfinite(x)):
        raise InputError("Mann-Kendall series must be finite")
    s = np.zeros(m)
    for i in range(t - 1):
        s += np.sign(x[:, i + 1 :] - x[:, i : i + 1]).sum(axis=1)
    xs = np.sort(x, axis=1)
    run = np.ones(m)
    ties = np.zeros(m)
    for k in range(1, t):
        same = xs[:, k] == xs[:, k - 1]
        ties += np.where(same, 0.0, run * (run - 1) * (2 * run + 5))
        run = np.where(same, run + 1, 1.0)
    ties += run * (run - 1) * (2 * run + 5)
    var = (t * (t - 1) * (2 * t + 5) - ties) / 18.0
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(var > 0, (s - np.sign(s)) / np.sqrt(np.where(var > 0, var, 1)), 0.0)
    p = 2.0 * stats.norm.sf(np.abs(z))
    trend = np.where(p <= alpha, np.sign(z), 0).astype(int)
    return MannKendall(s=s, var_s=var, z=z, p=p, trend=trend, alpha=float(alpha))


def spot_overlap(previous, current) -> dict:
    """How many of this period's spots were spots last period.

    ``previous`` and ``current`` are iterables of cell keys (e.g. ``(gx, gy)`` global cell
    indices, comparable across periods because grid origins are snapped).
    Returns ``n_previous``, ``n_current``, ``overlap`` (|A ∩ B|), ``share_repeated``
    (|A ∩ B| / |current|) and ``jaccard`` (|A ∩ B| / |A ∪ B|).
    """
    a, b = set(map(tuple, previous)), set(map(tuple, current))
    inter, union = len(a & b), len(a | b)
    return {
        "n_previous": len(a),
        "n_current": len(b),
        "overlap": inter,
        "share_repeated": inter / len(b) if b else float("nan"),
        "jaccard": inter / union if union else float("nan"),
    }


def emerging_labels(
    hot: np.ndarray, z: np.ndarray, *, alpha_trend: float = 0.05, persistent_share: float = 0.9
) -> tuple[np.ndarray, MannKendall]:
    """Label each location from its hot-spot history and the trend of its Gi* z-scores.

    Parameters
    ----------
    hot : bool array (m, T)
        Significant hot spot (FDR) in each period, oldest first.
    z : float array (m, T)
        Gi* z-scores.
    alpha_trend : float
        Significance of the Mann-Kendall trend.
    persistent_share : float
        Share of periods a location must be hot to be persistent (Esri uses 90%).

    Returns
    -------
    labels : array of str (m,)
        First that applies:

        * ``new`` — hot in the final period and never before;
        * ``emerging`` — hot in the final period and z trending up (MK, ``alpha_trend``);
        * ``diminishing`` — hot in the final period and z trending down;
        * ``persistent`` — hot in at least ``persistent_share`` of periods, no trend;
        * ``historical`` — hot in at least ``persistent_share`` of the earlier periods but
          not in the final one;
        * ``sporadic`` — hot in some periods, none of the above;
        * ``""`` — never hot.
    mk : MannKendall
    """
    h = np.atleast_2d(np.asarray(hot, dtype=bool))
    zz = np.atleast_2d(np.asarray(z, dtype=float))
    if h.shape != zz.shape:
        raise InputError(f"hot shape {h.shape} differs from z shape {zz.shape}")
    zz = np.where(np.isfinite(zz), zz, 0.0)
    mk = mann_kendall(zz, alpha=alpha_trend)
    t = h.shape[1]
    final = h[:, -1]
    earlier = h[:, :-1]
    n_hot = h.sum(axis=1)
    labels = np.full(h.shape[0], "", dtype=object)
    ever = n_hot > 0
    labels[ever] = "sporadic"
    labels[ever & ~final & (earlier.sum(axis=1) >= persistent_share * (t - 1))] = "historical"
    labels[(n_hot >= persistent_share * t) & (mk.trend == 0)] = "persistent"
    labels[final & (mk.trend < 0)] = "diminishing"
    labels[final & (mk.trend > 0)] = "emerging"
    labels[final & ~earlier.any(axis=1)] = "new"
    return labels.astype(str), mk
