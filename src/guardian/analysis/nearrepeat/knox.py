"""The Knox test for near-repeat victimisation, exact and in memory proportional to close pairs.

The Knox (1964) test counts pairs of events that are close in space *and* in time and compares
those counts with what is expected if times were unrelated to places. Expectations come from a
Monte Carlo permutation of the event times over the fixed event locations (Johnson et al. 2007;
the Near Repeat Calculator, Ratcliffe 2009; the R package NearRepeat, Steenbeek).

How it stays fast
-----------------
* Only pairs closer than the largest finite space break are enumerated (``cKDTree``), so memory
  grows with the number of *close* pairs, never with n².
* The open-ended "more than" space band comes from totals by subtraction. The number of pairs
  in each time band over **all** n(n-1)/2 pairs does not depend on locations, so it is the same
  for the observed data and for every permutation; it is computed once from the sorted times with
  ``searchsorted`` (O(n log n)).
* Each permutation only re-computes the time differences of the close pairs (two gathers and a
  subtraction per pair) and bins them with ``np.bincount``; pairs are processed in cache-sized
  blocks, permutations in chunks, blocks spread over threads.

Band edges
----------
Distances are rounded to the nearest micrometre and times to the nearest microsecond
(``t × 86 400 000 000``) before they are compared with the breaks, which are rounded the same
way; all comparisons are then exact integer comparisons. So a pair that is 100 m apart is on the
break 100 even when floating point gives 99.99999999998 m (coordinates given to the centimetre),
and two events exactly 7 days apart are exactly 7 days apart.

With breaks ``b0 < b1 < ... < bm``:

* ``closed="left"`` (default): bands ``[b0, b1), [b1, b2), ..., [b(m-1), bm)`` and the open band
  ``[bm, inf)``. A value equal to a break belongs to the band that *starts* at that break.
* ``closed="right"``: bands ``[b0, b1], (b1, b2], ..., (b(m-1), bm]`` and ``(bm, inf)``. A value
  equal to a break belongs to the band that *ends* at that break. The first band also includes
  its lower edge (like R's ``cut(include.lowest=TRUE)``) so that same-place or same-day pairs
  are not silently dropped when ``b0 = 0``.
* Pairs below ``b0`` (possible only when ``b0 > 0``) belong to no band and are not reported.
* ``same_location=True`` adds a first space band holding the pairs at distance exactly 0
  (after rounding to the micrometre); the first finite band then excludes 0.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from guardian.errors import InputError

__all__ = ["KnoxResult", "knox_test", "derive_cocoon_parameters", "band_labels"]

_UM_PER_M = 1_000_000  # distances are compared in integer micrometres
_US_PER_DAY = 86_400_000_000  # times are compared in integer microseconds
_MAX_ABS_DAYS = 5.0e7  # keeps differences of t × 86.4e9 inside int64
_METRICS = {"euclidean": 2, "manhattan": 1}
_CLOSURES = ("left", "right")

# Kernel tuning (internal; results never depend on these, only speed does).
_BLOCK_PAIRS = 131_072  # close pairs per block (streamed; the gathered time rows stay in cache)
_PERM_CHUNK = 32  # permutations generated and processed together
_TIME_DTYPE = None  # None: the smallest integer type that fits the time differences
_HIST_MAX_BINS = 8_192  # signed-difference histogram used when 2R+1 <= this
_LUT_MAX_BINS = 1 << 22  # else a lookup table over clipped differences when this small


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnoxResult:
    """Result of :func:`knox_test`.

    All tables have shape ``(n_space_bands, n_time_bands)``: rows are space bands (the
    same-location band first when requested, then the finite bands, then the open-ended
    "more than the last break" band), columns are time bands (finite, then open-ended).

    Attributes
    ----------
    n_events : int
        Number of events tested.
    permutations : int
        Number of Monte Carlo permutations of the times.
    seed : int
        Seed of the ``numpy.random.default_rng`` that drew the permutations; passing it back as
        ``random_state`` reproduces the result exactly.
    space_bands, time_bands : tuple of float
        The break points as given (metres, days).
    closed : {"left", "right"}
        Closure rule of the bands.
    same_location : bool
        Whether the first space band is "distance exactly 0".
    metric : {"euclidean", "manhattan"}
        Distance metric.
    alpha, min_ratio : float
        Thresholds used to list :attr:`significant` cells.
    space_labels, time_labels : tuple of str
        Interval labels of the rows (metres) and columns (days).
    observed : ndarray of int64
        Observed pair counts.
    expected_mean, expected_median : ndarray of float
        Mean and median of the permutation counts.
    expected_sd : ndarray of float
        Standard deviation (ddof=1) of the permutation counts (NaN when ``permutations == 1``).
    knox_ratio, knox_ratio_median : ndarray of float
        ``observed / expected_mean`` and ``observed / expected_median``; NaN where the
        expectation is 0.
    p_value : ndarray of float
        ``(k + 1) / (permutations + 1)`` where ``k`` counts permutations with a count
        greater than or equal to the observed count (one-sided, over-representation).
    z_score : ndarray of float
        ``(observed - expected_mean) / expected_sd``; NaN where the sd is 0 or undefined.
    """

    n_events: int
    permutations: int
    seed: int
    space_bands: tuple[float, ...]
    time_bands: tuple[float, ...]
    closed: str
    same_location: bool
    metric: str
    alpha: float
    min_ratio: float
    space_labels: tuple[str, ...]
    time_labels: tuple[str, ...]
    observed: np.ndarray
    expected_mean: np.ndarray
    expected_median: np.ndarray
    expected_sd: np.ndarray
    knox_ratio: np.ndarray
    knox_ratio_median: np.ndarray
    p_value: np.ndarray
    z_score: np.ndarray
    n_close_pairs: int = 0
    warnings: tuple[str, ...] = field(default=())

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_space_bands, n_time_bands)``."""
        return tuple(self.observed.shape)  # type: ignore[return-value]

    def is_significant(self) -> np.ndarray:
        """Boolean table: ``p_value <= alpha`` and ``knox_ratio >= min_ratio``."""
        ratio = np.nan_to_num(self.knox_ratio, nan=-np.inf)
        return (self.p_value <= self.alpha) & (ratio >= self.min_ratio)

    @property
    def significant(self) -> list[dict[str, Any]]:
        """Cells with ``p_value <= alpha`` and ``knox_ratio >= min_ratio``, row by row."""
        out = []
        for i, j in zip(*np.nonzero(self.is_significant()), strict=True):
            out.append(
                {
                    "space_band": self.space_labels[i],
                    "time_band": self.time_labels[j],
                    "space_index": int(i),
                    "time_index": int(j),
                    "observed": int(self.observed[i, j]),
                    "expected_mean": float(self.expected_mean[i, j]),
                    "knox_ratio": float(self.knox_ratio[i, j]),
                    "p_value": float(self.p_value[i, j]),
                }
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (NaN and infinities become ``None``)."""
        return {
            "n_events": self.n_events,
            "permutations": self.permutations,
            "seed": self.seed,
            "space_bands": [float(b) for b in self.space_bands],
            "time_bands": [float(b) for b in self.time_bands],
            "closed": self.closed,
            "same_location": self.same_location,
            "metric": self.metric,
            "alpha": self.alpha,
            "min_ratio": self.min_ratio,
            "space_labels": list(self.space_labels),
            "time_labels": list(self.time_labels),
            "n_close_pairs": self.n_close_pairs,
            "observed": self.observed.astype(int).tolist(),
            "expected_mean": _json_table(self.expected_mean),
            "expected_median": _json_table(self.expected_median),
            "knox_ratio": _json_table(self.knox_ratio),
            "knox_ratio_median": _json_table(self.knox_ratio_median),
            "p_value": _json_table(self.p_value),
            "z_score": _json_table(self.z_score),
            "significant": self.significant,
            "warnings": list(self.warnings),
        }

    def to_frame(self) -> pd.DataFrame:
        """Long table: one row per (space band, time band) cell."""
        ns, nt = self.shape
        ii, jj = np.meshgrid(np.arange(ns), np.arange(nt), indexing="ij")
        ii, jj = ii.ravel(), jj.ravel()
        sig = self.is_significant().ravel()
        return pd.DataFrame(
            {
                "space_index": ii,
                "time_index": jj,
                "space_band": [self.space_labels[i] for i in ii],
                "time_band": [self.time_labels[j] for j in jj],
                "observed": self.observed.ravel(),
                "expected_mean": self.expected_mean.ravel(),
                "expected_median": self.expected_median.ravel(),
                "knox_ratio": self.knox_ratio.ravel(),
                "knox_ratio_median": self.knox_ratio_median.ravel(),
                "p_value": self.p_value.ravel(),
                "z_score": self.z_score.ravel(),
                "significant": sig,
            }
        )


def _json_table(a: np.ndarray) -> list[list[float | None]]:
    return [[float(v) if np.isfinite(v) else None for v in row] for row in a]


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _as_1d(name: str, values: Any) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"`{name}` must be numeric; could not convert it ({exc}).") from exc
    if a.ndim != 1:
        raise InputError(f"`{name}` must be one-dimensional; got shape {a.shape}.")
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        raise InputError(
            f"`{name}` has {bad.size} missing or non-finite value(s), first at position "
            f"{int(bad[0])} ({a[bad[0]]!r}); drop or fix those events before the Knox test."
        )
    return a


def _check_bands(name: str, bands: Any, unit: str) -> np.ndarray:
    if bands is None or isinstance(bands, str):
        raise InputError(f"`{name}` must be a sequence of break points in {unit}, got {bands!r}.")
    b = _as_1d(name, bands)
    if b.size < 2:
        raise InputError(
            f"`{name}` needs at least two break points (e.g. [0, 100]) to make one finite band; "
            f"got {list(b)}."
        )
    if (b < 0).any():
        raise InputError(f"`{name}` must be non-negative {unit}; got {list(b)}.")
    if (np.diff(b) <= 0).any():
        raise InputError(f"`{name}` must be strictly increasing; got {list(b)}.")
    return b


def _looks_like_degrees(x: np.ndarray, y: np.ndarray) -> bool:
    return bool((np.abs(x) <= 180).all() and (np.abs(y) <= 90).all())


def _resolve_seed(random_state: Any) -> int:
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**32))
    if isinstance(random_state, (bool, np.bool_)):
        raise InputError(
            f"`random_state` must be None, an int or a numpy Generator; got {random_state!r}."
        )
    if isinstance(random_state, (int, np.integer)):
        if random_state < 0:
            raise InputError(f"`random_state` must be a non-negative int; got {random_state}.")
        return int(random_state)
    raise InputError(
        f"`random_state` must be None, a non-negative int or a numpy.random.Generator; "
        f"got {type(random_state).__name__} {random_state!r}."
    )


# --------------------------------------------------------------------------------------------
# Bands in integer units
# --------------------------------------------------------------------------------------------


def _integer_edges(breaks_int: np.ndarray, closed: str) -> np.ndarray:
    """Left-closed integer edges equivalent to the closure rule on integer values.

    For integers, ``(a, b]`` is ``[a + 1, b + 1)``; the first right-closed band ``[b0, b1]`` is
    ``[b0, b1 + 1)``. The band index of an integer value v is then
    ``searchsorted(edges, v, "right") - 1``: -1 below the first break, m for the open band.
    """
    e = breaks_int.astype(np.int64).copy()
    if closed == "right":
        e[1:] += 1
    return e


def _classify(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Band index of integer values: -1 below, 0..m-1 finite, m open-ended."""
    return np.searchsorted(edges, values, side="right") - 1


def band_labels(
    breaks: Sequence[float], *, closed: str = "left", same_location: bool = False
) -> list[str]:
    """Interval labels of the bands made by ``breaks`` (open-ended last band included).

    Parameters
    ----------
    breaks : sequence of float
        Strictly increasing break points.
    closed : {"left", "right"}
        Closure rule (see the module notes).
    same_location : bool
        Prepend the "0 (same location)" band and exclude 0 from the first finite band.

    Examples
    --------
    >>> band_labels([0, 100, 200])
    ['[0, 100)', '[100, 200)', '[200, inf)']
    >>> band_labels([0, 7, 14], closed="right")
    ['[0, 7]', '(7, 14]', '(14, inf)']
    """
    f = [_fmt(b) for b in breaks]
    labels = []
    for k in range(len(f) - 1):
        lo, hi = f[k], f[k + 1]
        if closed == "left":
            left = "(" if (k == 0 and same_location and float(breaks[0]) == 0.0) else "["
            labels.append(f"{left}{lo}, {hi})")
        else:
            left = "[" if k == 0 and not (same_location and float(breaks[0]) == 0.0) else "("
            labels.append(f"{left}{lo}, {hi}]")
    labels.append(f"[{f[-1]}, inf)" if closed == "left" else f"({f[-1]}, inf)")
    if same_location:
        labels.insert(0, "0 (same location)")
    return labels


def _fmt(b: float) -> str:
    b = float(b)
    return str(int(b)) if b.is_integer() else f"{b:g}"


# --------------------------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------------------------


def knox_test(
    x: Any,
    y: Any,
    t: Any,
    *,
    space_bands: Sequence[float],
    time_bands: Sequence[float],
    closed: str = "left",
    same_location: bool = False,
    metric: str = "euclidean",
    permutations: int = 999,
    alpha: float = 0.05,
    min_ratio: float = 1.2,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> KnoxResult:
    """Knox test of space-time interaction with Monte Carlo permutation of times.

    Parameters
    ----------
    x, y : array_like of float, shape (n,)
        Projected coordinates in metres (never longitude/latitude degrees).
    t : array_like of float, shape (n,)
        Event times in days (any origin), fractional when times of day are known.
    space_bands : sequence of float
        Strictly increasing, non-negative space break points in metres, e.g.
        ``[0, 100, 200, 300]``. An open-ended band "more than the last break" is always added.
    time_bands : sequence of float
        Strictly increasing, non-negative time break points in days, e.g. ``[0, 7, 14, 21]``;
        an open-ended last band is always added.
    closed : {"left", "right"}, default "left"
        ``"left"``: bands ``[a, b)``; ``"right"``: bands ``(a, b]`` (the first band also
        includes its lower edge). See the module notes on how values on a break are handled.
    same_location : bool, default False
        Add a first space band "distance exactly 0" (to the micrometre); the first finite
        band then excludes 0.
    metric : {"euclidean", "manhattan"}, default "euclidean"
        Distance between two events.
    permutations : int, default 999
        Number of Monte Carlo permutations (>= 1).
    alpha : float, default 0.05
        Significance level used to list :attr:`KnoxResult.significant` cells.
    min_ratio : float, default 1.2
        Minimum Knox ratio for a cell to be listed as significant.
    random_state : None, int or numpy.random.Generator
        Seed of the permutations. ``None`` draws a fresh seed; a Generator is asked for one
        integer. The seed actually used is written into the result, so
        ``knox_test(..., random_state=result.seed)`` reproduces it exactly. Permutation ``i``
        is the ``i``-th call of ``np.random.default_rng(seed).permutation(n)``, and event
        ``e`` receives the time of event ``perm[e]``.
    n_jobs : int, optional
        Threads for the permutation loop (default: the CPUs available). Results do not
        depend on it.
    progress : callable, optional
        Called as ``progress(done, permutations)`` after each chunk of permutations.

    Returns
    -------
    KnoxResult
        Observed and expected counts, Knox ratios, p-values and z-scores per (space band,
        time band), with the seed used.

    Raises
    ------
    InputError
        Unequal lengths, fewer than 2 events, non-finite values, coordinates that look like
        degrees, bad bands, unknown ``closed`` / ``metric``, ``permutations < 1``, ``alpha``
        outside (0, 1), bad ``random_state``.

    Notes
    -----
    Knox, E.G. (1964) "The detection of space-time interactions", *Applied Statistics* 13,
    25-29. Johnson, S.D. et al. (2007) "Space-time patterns of risk: a cross national
    assessment of residential burglary victimization", *J. Quant. Criminol.* 23, 201-219.
    p-values follow North, Curtis & Sham (2002): ``(k + 1) / (permutations + 1)``.

    Memory is proportional to the number of pairs closer than the last space break (plus
    O(n)); the counts of the open-ended space band come from the per-time-band totals over
    all pairs, which do not change under permutation of times and are computed from the
    sorted times.

    Examples
    --------
    >>> r = knox_test(x, y, days, space_bands=[0, 100, 200], time_bands=[0, 7, 14],
    ...               permutations=99, random_state=1)  # doctest: +SKIP
    >>> r.knox_ratio[0, 0]  # doctest: +SKIP
    """
    # ---- validation (before any maths) ----
    x = _as_1d("x", x)
    y = _as_1d("y", y)
    t = _as_1d("t", t)
    if not (x.size == y.size == t.size):
        raise InputError(
            f"`x`, `y` and `t` must have the same length; got {x.size}, {y.size} and {t.size}."
        )
    n = x.size
    if n < 2:
        raise InputError(f"The Knox test needs at least 2 events; got {n}.")
    if _looks_like_degrees(x, y):
        raise InputError(
            "`x`/`y` look like longitude/latitude degrees (all |x| <= 180 and |y| <= 90); the "
            "Knox test needs projected coordinates in metres. Project them first, e.g. to "
            "British National Grid: pyproj.Transformer.from_crs('EPSG:4326', 'EPSG:27700', "
            "always_xy=True).transform(lon, lat)."
        )
    if (np.abs(t) > _MAX_ABS_DAYS).any():
        raise InputError(
            f"`t` must be in days (|t| <= {_MAX_ABS_DAYS:g}); got values up to "
            f"{float(np.abs(t).max()):g}. Convert timestamps to days, e.g. days since the first event."
        )
    sb = _check_bands("space_bands", space_bands, "metres")
    tb = _check_bands("time_bands", time_bands, "days")
    if closed not in _CLOSURES:
        raise InputError(f"`closed` was {closed!r} but is expected to be in {list(_CLOSURES)}.")
    if metric not in _METRICS:
        raise InputError(f"`metric` was {metric!r} but is expected to be in {list(_METRICS)}.")
    if (
        isinstance(permutations, (bool, np.bool_))
        or not isinstance(permutations, (int, np.integer))
        or permutations < 1
    ):
        raise InputError(f"`permutations` must be an int >= 1 (e.g. 999); got {permutations!r}.")
    permutations = int(permutations)
    if not (isinstance(alpha, (int, float)) and 0 < float(alpha) < 1):
        raise InputError(f"`alpha` must be between 0 and 1 (e.g. 0.05); got {alpha!r}.")
    if n_jobs is not None and (not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1):
        raise InputError(f"`n_jobs` must be None or an int >= 1; got {n_jobs!r}.")
    seed = _resolve_seed(random_state)
    warns: list[str] = []

    # ---- integer bands ----
    s_int = np.rint(sb * _UM_PER_M).astype(np.int64)
    t_int = np.rint(tb * _US_PER_DAY).astype(np.int64)
    s_edges = _integer_edges(s_int, closed)
    t_edges = _integer_edges(t_int, closed)
    m = sb.size - 1  # finite space bands
    q = tb.size - 1  # finite time bands

    # Space rows used internally: 0 = below first break, 1 = same location, 2.. finite,
    # 2+m = open-ended. Columns: 0 = below first time break, 1..q finite, q+1 open-ended.
    n_rows = m + 3
    n_cols = q + 2
    same_row, open_row = 1, m + 2

    # ---- close pairs (once) ----
    # Reorder events along the k-d tree's leaf order so that close pairs have nearby indices
    # (cache-friendly gathers); `order[k]` is the original index of the k-th reordered event.
    xy = np.column_stack([x, y])
    order = cKDTree(xy, leafsize=16).indices.astype(np.intp)
    xy_r = xy[order]
    tree = cKDTree(xy_r, leafsize=16)
    radius = float(sb[-1]) * (1 + 1e-9) + 1e-6  # a hair wider; exact filter below
    pairs = tree.query_pairs(radius, p=_METRICS[metric], output_type="ndarray")
    del tree
    pi = np.ascontiguousarray(pairs[:, 0], dtype=np.intp)
    pj = np.ascontiguousarray(pairs[:, 1], dtype=np.intp)
    del pairs
    d_int = _pair_distances_um(xy_r, pi, pj, metric)
    # internal rows: 0 below the first break, 1 same location, 2..m+1 finite, m+2 open-ended
    rows = (_classify(d_int, s_edges) + 2).astype(np.int16)
    rows[rows == 1] = 0
    if same_location:
        rows[d_int == 0] = same_row
    del d_int
    keep = rows < open_row
    if not keep.all():
        pi, pj, rows = pi[keep], pj[keep], rows[keep]
    del keep
    # group by row (a stable radix sort on int16); within a row the k-d tree's traversal order
    # keeps pairs of nearby events together, which keeps the gathers cache-friendly
    srt = np.argsort(rows, kind="stable")
    pi, pj, rows = pi[srt], pj[srt], rows[srt]
    del srt
    row_bounds = np.searchsorted(rows, np.arange(n_rows + 1), side="left")
    n_close = int(pi.size)
    del rows

    # ---- times in integer microseconds ----
    t_us = np.rint(t * _US_PER_DAY).astype(np.int64)
    t_us -= t_us.min()
    t_us_r = t_us[order]

    # ---- observed table (direct classification of the close pairs) ----
    obs_close = np.zeros((n_rows, n_cols), dtype=np.int64)
    for r in range(n_rows - 1):
        a, b = row_bounds[r], row_bounds[r + 1]
        if a == b:
            continue
        dt = np.abs(t_us_r[pi[a:b]] - t_us_r[pj[a:b]])
        obs_close[r] = np.bincount(_classify(dt, t_edges) + 1, minlength=n_cols)

    # ---- permutation-invariant totals ----
    n_pairs_all = n * (n - 1) // 2
    col_totals = _time_band_totals(np.sort(t_us), t_edges, n_pairs_all)  # (n_cols,)

    observed_full = _complete_table(obs_close[None], col_totals, n_pairs_all, open_row)[0]

    # ---- permutations ----
    perm_close = _permutation_counts(
        t_us=t_us,
        order=order,
        pi=pi,
        pj=pj,
        row_bounds=row_bounds,
        t_edges=t_edges,
        n_rows=n_rows,
        n_cols=n_cols,
        permutations=permutations,
        seed=seed,
        n_jobs=n_jobs,
        progress=progress,
    )
    perm_full = _complete_table(perm_close, col_totals, n_pairs_all, open_row)

    # ---- drop the internal "below" row/column and the unused same-location row ----
    row_sel = ([same_row] if same_location else []) + list(range(2, open_row + 1))
    col_sel = list(range(1, n_cols))
    observed = observed_full[np.ix_(row_sel, col_sel)]
    sims = perm_full[:, row_sel][:, :, col_sel].astype(np.float64)
    if s_int[0] > 0 and (obs_close[0].sum() > 0):
        warns.append(
            f"{int(obs_close[0].sum())} pair(s) closer than the first space break "
            f"({_fmt(sb[0])} m) are in no band and not reported."
        )
    if t_int[0] > 0 and observed_full[:, 0].sum() > 0:
        warns.append(
            f"{int(observed_full[:, 0].sum())} pair(s) closer in time than the first time break "
            f"({_fmt(tb[0])} days) are in no band and not reported."
        )

    exp_mean = sims.mean(axis=0)
    exp_median = np.median(sims, axis=0)
    exp_sd = sims.std(axis=0, ddof=1) if permutations > 1 else np.full(observed.shape, np.nan)
    k = (sims >= observed[None]).sum(axis=0)
    p_value = (k + 1) / (permutations + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(exp_mean > 0, observed / exp_mean, np.nan)
        ratio_med = np.where(exp_median > 0, observed / exp_median, np.nan)
        z = np.where(exp_sd > 0, (observed - exp_mean) / exp_sd, np.nan)

    for a in (observed, exp_mean, exp_median, exp_sd, ratio, ratio_med, p_value, z):
        a.flags.writeable = False  # the result is a record: frozen, arrays included
    return KnoxResult(
        n_events=int(n),
        permutations=permutations,
        seed=seed,
        space_bands=tuple(float(v) for v in sb),
        time_bands=tuple(float(v) for v in tb),
        closed=closed,
        same_location=bool(same_location),
        metric=metric,
        alpha=float(alpha),
        min_ratio=float(min_ratio),
        space_labels=tuple(band_labels(sb, closed=closed, same_location=same_location)),
        time_labels=tuple(band_labels(tb, closed=closed)),
        observed=observed,
        expected_mean=exp_mean,
        expected_median=exp_median,
        expected_sd=exp_sd,
        knox_ratio=ratio,
        knox_ratio_median=ratio_med,
        p_value=p_value,
        z_score=z,
        n_close_pairs=n_close,
        warnings=tuple(warns),
    )


def _pair_distances_um(xy: np.ndarray, pi: np.ndarray, pj: np.ndarray, metric: str) -> np.ndarray:
    """Distances of the pairs in integer micrometres (chunked to bound temporaries)."""
    out = np.empty(pi.size, dtype=np.int64)
    step = 1 << 20
    for a in range(0, pi.size, step):
        i, j = pi[a : a + step], pj[a : a + step]
        dx = xy[i, 0] - xy[j, 0]
        dy = xy[i, 1] - xy[j, 1]
        if metric == "euclidean":
            d = np.hypot(dx, dy)
        else:
            d = np.abs(dx) + np.abs(dy)
        out[a : a + step] = np.rint(d * _UM_PER_M)
    return out


def _time_band_totals(ts: np.ndarray, t_edges: np.ndarray, n_pairs_all: int) -> np.ndarray:
    """Pairs over all n(n-1)/2 in each internal time column (below, finite..., open).

    ``ts`` are sorted integer times. The number of pairs with difference < e is
    ``sum_i max(searchsorted(ts, ts[i] + e, 'left') - i - 1, 0)``.
    """
    idx = np.arange(ts.size, dtype=np.int64)

    def below(e: int) -> int:
        hi = np.searchsorted(ts, ts + e, side="left")
        return int(np.maximum(hi - idx - 1, 0).sum())

    cum = np.array([below(int(e)) for e in t_edges] + [n_pairs_all], dtype=np.int64)
    return np.diff(np.concatenate([[0], cum]))


def _complete_table(
    close: np.ndarray, col_totals: np.ndarray, n_pairs_all: int, open_row: int
) -> np.ndarray:
    """Fill the open-ended space row by subtraction: column total minus the close rows."""
    full = close.copy()
    full[:, open_row, :] = col_totals[None, :] - close[:, :open_row, :].sum(axis=1)
    return full


# --------------------------------------------------------------------------------------------
# Permutation kernel
# --------------------------------------------------------------------------------------------


def _select_mode(n_bins: int, lut_bins: int) -> str:
    """Kernel for binning the signed time differences of a block of pairs.

    ``"hist"``: ``bincount`` over all 2R+1 signed differences (coarse times, e.g. whole days
    over a few years), folded into bands afterwards; ``"lut"``: differences clipped to the last
    time break and mapped through a lookup table; ``"search"``: ``searchsorted`` on the breaks
    (times with no common resolution). All three give identical counts.
    """
    if n_bins <= _HIST_MAX_BINS:
        return "hist"
    if lut_bins <= _LUT_MAX_BINS:
        return "lut"
    return "search"


def _permutation_counts(
    *,
    t_us: np.ndarray,
    order: np.ndarray,
    pi: np.ndarray,
    pj: np.ndarray,
    row_bounds: np.ndarray,
    t_edges: np.ndarray,
    n_rows: int,
    n_cols: int,
    permutations: int,
    seed: int,
    n_jobs: int | None,
    progress: Callable[[int, int], None] | None,
) -> np.ndarray:
    """Counts of the close rows (all but the open row) for every permutation.

    Returns an int64 array of shape ``(permutations, n_rows, n_cols)``; the open row is zero
    and is filled by :func:`_complete_table`.
    """
    n = t_us.size
    # Express times in the coarsest common unit g (one day for date-only data), so that the
    # signed differences of a block fit a small histogram or lookup table.
    g = int(np.gcd.reduce(t_us)) or 1
    units = t_us // g
    span = int(units.max())  # R: differences lie in [-R, R]
    n_bins = 2 * span + 1
    # integer edges in units of g: w*g >= e  <=>  w >= ceil(e/g)
    edges_u = -((-t_edges) // g)
    cap = int(edges_u[-1])  # |w| >= cap is the open column
    mode = _select_mode(n_bins, 2 * cap + 1)
    lut = onehot = None
    if mode == "hist":
        w = np.abs(np.arange(-span, span + 1, dtype=np.int64))
        col_of_bin = _classify(w, edges_u) + 1  # (n_bins,)
        onehot = np.zeros((n_bins, n_cols), dtype=np.float64)
        onehot[np.arange(n_bins), col_of_bin] = 1.0
        offset = span
    elif mode == "lut":
        w = np.abs(np.arange(-cap, cap + 1, dtype=np.int64))
        lut = (_classify(w, edges_u) + 1).astype(np.intp)
        offset = cap
    else:
        offset = 0

    # The smallest integer type that holds offset + span: the per-permutation time rows are
    # gathered at random, so the smaller they are the more of them stay in cache.
    top = offset + span
    tdtype = _TIME_DTYPE or (np.int16 if top < 2**15 else np.int32 if top < 2**31 else np.int64)
    units = units.astype(tdtype)
    blocks: list[tuple[int, int, int]] = []
    for r in range(n_rows - 1):
        a, b = int(row_bounds[r]), int(row_bounds[r + 1])
        for s in range(a, b, _BLOCK_PAIRS):
            blocks.append((r, s, min(s + _BLOCK_PAIRS, b)))
    if n_jobs is None:
        try:
            n_jobs = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - non-Linux
            n_jobs = os.cpu_count() or 1
    n_jobs = max(1, min(int(n_jobs), len(blocks) or 1))
    # Balance threads by pair count (blocks are near-equal except row tails).
    groups: list[list[tuple[int, int, int]]] = [[] for _ in range(n_jobs)]
    loads = [0] * n_jobs
    for blk in sorted(blocks, key=lambda bl: bl[1] - bl[2]):
        k = loads.index(min(loads))
        groups[k].append(blk)
        loads[k] += blk[2] - blk[1]
    groups = [grp for grp in groups if grp]

    def work(group: list[tuple[int, int, int]], up: np.ndarray, upo: np.ndarray) -> np.ndarray:
        pc = up.shape[0]
        width = n_bins if mode == "hist" else n_cols
        acc = np.zeros((pc, n_rows, width), dtype=np.int64)
        buf_a = np.empty(_BLOCK_PAIRS, dtype=tdtype)
        buf_b = np.empty(_BLOCK_PAIRS, dtype=tdtype)
        buf_c = np.empty(_BLOCK_PAIRS, dtype=np.intp) if mode == "lut" else buf_b
        for r, s, e in group:
            ib, jb = pi[s:e], pj[s:e]
            a_, b_ = buf_a[: e - s], buf_b[: e - s]
            for kk in range(pc):
                # (time of i) + offset - (time of j): a non-negative bin index
                np.take(upo[kk], ib, out=a_, mode="wrap")
                np.take(up[kk], jb, out=b_, mode="wrap")
                np.subtract(a_, b_, out=a_)
                if mode == "hist":
                    acc[kk, r] += np.bincount(a_, minlength=n_bins)
                elif mode == "lut":
                    np.clip(a_, 0, 2 * offset, out=a_)
                    c_ = buf_c[: e - s]
                    np.take(lut, a_, out=c_, mode="wrap")
                    acc[kk, r] += np.bincount(c_, minlength=n_cols)
                else:
                    np.abs(a_, out=a_)
                    acc[kk, r] += np.bincount(_classify(a_, edges_u) + 1, minlength=n_cols)
        return acc

    rng = np.random.default_rng(seed)

    def draw(pc: int) -> tuple[np.ndarray, np.ndarray]:
        # Permutations are drawn in sequence from one generator, so the result depends on
        # the seed only. Event e (original order) receives the time of event perm[e]; events
        # are stored in k-d tree order, hence the final gather by `order`.
        up = np.empty((pc, n), dtype=tdtype)
        for kk in range(pc):
            up[kk] = units[rng.permutation(n)][order]
        return up, (up + tdtype(offset) if offset else up)

    sizes = [min(_PERM_CHUNK, permutations - s) for s in range(0, permutations, _PERM_CHUNK)]
    out = np.zeros((permutations, n_rows, n_cols), dtype=np.int64)
    done = 0
    # One thread draws the next chunk of permutations while the others count the current one.
    with ThreadPoolExecutor(max_workers=1) as drawer, ThreadPoolExecutor(n_jobs) as pool:
        pending = drawer.submit(draw, sizes[0])
        for ci, pc in enumerate(sizes):
            up, upo = pending.result()
            if ci + 1 < len(sizes):
                pending = drawer.submit(draw, sizes[ci + 1])
            futures = [pool.submit(work, grp, up, upo) for grp in groups]
            for fut in futures:
                acc = fut.result()
                if mode == "hist":
                    out[done : done + pc] += np.rint(acc @ onehot).astype(np.int64)
                else:
                    out[done : done + pc] += acc
            done += pc
            if progress is not None:
                progress(done, permutations)
    return out


# --------------------------------------------------------------------------------------------
# Cocoon parameters
# --------------------------------------------------------------------------------------------


def derive_cocoon_parameters(
    result: KnoxResult, *, min_ratio: float = 1.2, alpha: float = 0.05
) -> tuple[float, float] | None:
    """Cocoon radius (metres) and window (days) read off a Knox result.

    Rule: consider only the *finite* bands (not the same-location band, not the open-ended
    "more than" bands). A cell is *hot* when ``p_value <= alpha`` and
    ``knox_ratio >= min_ratio``. Start at the origin cell (first finite space band, first
    time band); if it is not hot there is no near-repeat pattern to act on and ``None`` is
    returned. Otherwise walk outward: a hot cell is reached when it is next to a reached cell
    one band further out in space (same time band) or one band further out in time (same
    space band). The radius is the upper break of the furthest space band reached; the
    window is the upper break of the furthest time band reached.

    Parameters
    ----------
    result : KnoxResult
        Output of :func:`knox_test`.
    min_ratio : float, default 1.2
        Minimum Knox ratio (observed / mean expected) of a hot cell.
    alpha : float, default 0.05
        Maximum p-value of a hot cell.

    Returns
    -------
    (radius_m, window_days) or None

    Examples
    --------
    With space breaks ``[0, 100, 200, 300]`` and time breaks ``[0, 7, 14, 21]``, hot cells
    ``(0-100 m, 0-7 d)``, ``(100-200 m, 0-7 d)`` and ``(0-100 m, 7-14 d)`` give
    ``(200.0, 14.0)``; a hot ``(200-300 m, 14-21 d)`` cell that touches no reached cell
    is ignored.
    """
    m = len(result.space_bands) - 1
    q = len(result.time_bands) - 1
    r0 = 1 if result.same_location else 0
    ratio = np.nan_to_num(result.knox_ratio, nan=-np.inf)
    hot = (result.p_value <= alpha) & (ratio >= min_ratio)
    hot = hot[r0 : r0 + m, :q]
    if not hot[0, 0]:
        return None
    reached = np.zeros_like(hot)
    reached[0, 0] = True
    for i in range(m):
        for j in range(q):
            if (i, j) == (0, 0) or not hot[i, j]:
                continue
            if (i > 0 and reached[i - 1, j]) or (j > 0 and reached[i, j - 1]):
                reached[i, j] = True
    ii, jj = np.nonzero(reached)
    return float(result.space_bands[ii.max() + 1]), float(result.time_bands[jj.max() + 1])
