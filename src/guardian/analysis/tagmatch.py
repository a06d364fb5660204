"""GPS-tag proximity: which tagged subjects' trail points came near a crime, in space and time.

A *proximity hit* is intelligence for a person to review, never evidence: it says a tag's
trail passed within the distance window of a recorded crime while the crime could have been
happening (plus the time window either side). Everything a reviewer needs to judge it is on
the hit: the closest distance, the time difference, how long the subject stayed (dwell) and
where the trail was just before and just after.

Method: points are binned on a square grid of side equal to the largest reach (distance window
plus the worst accuracy allowed) and sorted by (cell, time) within the bins; each crime looks
up the 3 x 3 cells around its own over its time range with two binary searches per cell, and
only those candidates get the exact distance and time check. Every pair within reach is found
(a point within reach of a crime is at most one cell away), and nothing else is paired.

Units: metres (projected coordinates, never degrees), seconds (integer POSIX seconds, UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from guardian.errors import InputError


@dataclass(frozen=True)
class MatchWindow:
    """How near, and when, a trail point must be to a crime to count.

    Attributes
    ----------
    distance_m : float
        Largest distance from the crime (metres), before the point's own accuracy is added.
    before_s, after_s : int
        Seconds before the crime's earliest possible time and after its latest.
    """

    distance_m: float
    before_s: int
    after_s: int

    def __post_init__(self) -> None:
        if not (np.isfinite(self.distance_m) and self.distance_m > 0):
            raise InputError(f"distance window must be a positive number of metres, got "
                             f"{self.distance_m!r}")
        if self.before_s < 0 or self.after_s < 0:
            raise InputError(f"time windows must be >= 0 seconds, got before={self.before_s!r}, "
                             f"after={self.after_s!r}")


DEFAULT_WINDOW = MatchWindow(distance_m=100.0, before_s=3600, after_s=3600)
"""Any category without its own window: 100 m, one hour either side."""

DEFAULT_WINDOWS: dict[str, MatchWindow] = {
    # A burglary's time is often a span (left home .. came back); 2 h either side of the span.
    "Burglary": MatchWindow(distance_m=100.0, before_s=7200, after_s=7200),
    # Robbery happens at a street point and a moment: tighter in both.
    "Robbery": MatchWindow(distance_m=50.0, before_s=1800, after_s=1800),
}
"""Per-category windows (tolerances), by police.uk category."""

MAX_ACCURACY_M = 50.0
"""Points reporting a worse accuracy (larger radius, metres) are not used."""

POINT_COLUMNS = ("subject", "t", "x", "y", "accuracy_m")
CRIME_COLUMNS = ("crime_id", "category", "t_start", "t_end", "x", "y")
HIT_COLUMNS = (
    "crime_id", "category", "subject", "distance_m", "time_diff_s", "dwell_s", "n_points",
    "first_t", "last_t", "closest_t", "closest_accuracy_m", "prev_distance_m", "prev_gap_s",
    "next_distance_m", "next_gap_s", "distance_window_m", "before_s", "after_s",
)


def _need(frame: pd.DataFrame, cols, what: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise InputError(f"{what} frame is missing columns {missing}; expected {list(cols)}")


def window_for(category: str, windows: Mapping[str, MatchWindow] | None = None,
               default: MatchWindow = DEFAULT_WINDOW) -> MatchWindow:
    """The window of ``category`` (``windows`` defaults to :data:`DEFAULT_WINDOWS`)."""
    w = DEFAULT_WINDOWS if windows is None else windows
    return w.get(category, default)


def match_tags(
    points: pd.DataFrame,
    crimes: pd.DataFrame,
    *,
    windows: Mapping[str, MatchWindow] | None = None,
    default: MatchWindow = DEFAULT_WINDOW,
    max_accuracy_m: float = MAX_ACCURACY_M,
) -> pd.DataFrame:
    """Proximity hits of trail points against crimes.

    Parameters
    ----------
    points : DataFrame
        ``subject`` (pseudonym), ``t`` (int64 POSIX seconds, UTC), ``x``, ``y`` (metres),
        ``accuracy_m`` (reported accuracy radius, metres). Every point of a subject in the
        period should be here: trail context comes from the neighbouring points.
    crimes : DataFrame
        ``crime_id``, ``category``, ``t_start``, ``t_end`` (int64 seconds: the span the crime
        could have happened in; equal for an exact time), ``x``, ``y`` (metres).
    windows : mapping category -> MatchWindow, optional
        Default :data:`DEFAULT_WINDOWS`; categories not in it use ``default``.
    max_accuracy_m : float
        Points with a larger accuracy radius are left out.

    Returns
    -------
    DataFrame
        One row per (crime, subject) with at least one point within reach: a point is within
        reach when its distance is at most the window's ``distance_m`` plus its own accuracy
        and its time lies in ``[t_start - before_s, t_end + after_s]``. Columns
        :data:`HIT_COLUMNS`: ``distance_m`` the closest in-reach distance (metres);
        ``time_diff_s`` of that closest point (0 inside the crime's span, negative before it,
        positive after); ``dwell_s`` last minus first in-reach point time; ``n_points``;
        ``prev_*``/``next_*`` the subject's trail point just before the first / after the last
        in-reach point (distance to the crime, seconds away; NaN when none). Sorted by
        crime, subject.
    """
    _need(points, POINT_COLUMNS, "points")
    _need(crimes, CRIME_COLUMNS, "crimes")
    if not (np.isfinite(max_accuracy_m) and max_accuracy_m >= 0):
        raise InputError(f"max_accuracy_m must be >= 0 metres, got {max_accuracy_m!r}")
    acc = points["accuracy_m"].to_numpy(float)
    px, py = points["x"].to_numpy(float), points["y"].to_numpy(float)
    pt = points["t"].to_numpy(np.int64)
    use = np.isfinite(px) & np.isfinite(py) & np.isfinite(acc) & (acc >= 0) & (acc <= max_accuracy_m)
    subj_codes, subj_names = pd.factorize(points["subject"].to_numpy(object)[use])
    px, py, pt, acc = px[use], py[use], pt[use], acc[use]
    cats = crimes["category"].astype(str).to_numpy()
    wins = [window_for(c, windows, default) for c in cats]
    dist = np.array([w.distance_m for w in wins], dtype=float)
    lo = crimes["t_start"].to_numpy(np.int64) - np.array([w.before_s for w in wins], np.int64)
    hi = crimes["t_end"].to_numpy(np.int64) + np.array([w.after_s for w in wins], np.int64)
    cx, cy = crimes["x"].to_numpy(float), crimes["y"].to_numpy(float)
    ok_c = np.isfinite(cx) & np.isfinite(cy) & (hi >= lo)
    empty = pd.DataFrame({c: pd.Series(dtype=float) for c in HIT_COLUMNS})
    if not len(px) or not ok_c.any():
        return empty
    ci_all = np.flatnonzero(ok_c)

    # Space bins: side = the largest reach, so any point within reach is in a neighbour cell.
    side = float(dist[ok_c].max() + max_accuracy_m)
    gx0 = np.floor(min(px.min(), cx[ok_c].min()) / side) - 1
    gy0 = np.floor(min(py.min(), cy[ok_c].min()) / side) - 1
    ny = int(np.floor(max(py.max(), cy[ok_c].max()) / side) - gy0) + 2
    pgx = (np.floor(px / side) - gx0).astype(np.int64)
    pgy = (np.floor(py / side) - gy0).astype(np.int64)
    t0 = int(min(pt.min(), lo[ok_c].min()))
    span = int(max(pt.max(), hi[ok_c].max())) - t0 + 1
    tbits = max(1, int(span).bit_length())
    key = ((pgx * ny + pgy) << tbits) | (pt - t0)
    order = np.argsort(key, kind="stable")
    skey = key[order]

    cgx = (np.floor(cx[ci_all] / side) - gx0).astype(np.int64)
    cgy = (np.floor(cy[ci_all] / side) - gy0).astype(np.int64)
    clo = np.maximum(lo[ci_all], t0) - t0
    chi = hi[ci_all] - t0
    pair_c, pair_p = [], []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            cell = (cgx + dx) * ny + (cgy + dy)
            a = np.searchsorted(skey, (cell << tbits) | clo, side="left")
            b = np.searchsorted(skey, (cell << tbits) | chi, side="right")
            n = b - a
            if not n.sum():
                continue
            rep = np.repeat(np.arange(len(ci_all)), n)
            offs = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
            pair_c.append(ci_all[rep])
            pair_p.append(order[np.repeat(a, n) + offs])
    if not pair_c:
        return empty
    c_idx, p_idx = np.concatenate(pair_c), np.concatenate(pair_p)

    # Exact check.
    d = np.hypot(px[p_idx] - cx[c_idx], py[p_idx] - cy[c_idx])
    inside = (d <= dist[c_idx] + acc[p_idx]) & (pt[p_idx] >= lo[c_idx]) & (pt[p_idx] <= hi[c_idx])
    c_idx, p_idx, d = c_idx[inside], p_idx[inside], d[inside]
    if not len(c_idx):
        return empty
    ts, te = crimes["t_start"].to_numpy(np.int64), crimes["t_end"].to_numpy(np.int64)
    tp = pt[p_idx]
    dt = np.where(tp < ts[c_idx], tp - ts[c_idx], np.where(tp > te[c_idx], tp - te[c_idx], 0))

    s = subj_codes[p_idx]
    # One hit per (crime, subject): order by crime, subject, distance, time -> first = closest.
    o = np.lexsort((tp, d, s, c_idx))
    c_idx, p_idx, d, dt, s, tp = c_idx[o], p_idx[o], d[o], dt[o], s[o], tp[o]
    start = np.r_[True, (c_idx[1:] != c_idx[:-1]) | (s[1:] != s[:-1])]
    g = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    ng = len(first)
    first_t = np.full(ng, np.iinfo(np.int64).max)
    last_t = np.full(ng, np.iinfo(np.int64).min)
    np.minimum.at(first_t, g, tp)
    np.maximum.at(last_t, g, tp)
    n_points = np.bincount(g, minlength=ng)

    # Trail context: the subject's own points just before the first / after the last in reach.
    torder = np.lexsort((pt, subj_codes))
    ts_subj, ts_t = subj_codes[torder], pt[torder]
    hc, hs = c_idx[first], s[first]

    tkey = (ts_subj.astype(np.int64) << tbits) | (ts_t - t0)

    def neighbour(t_edge: np.ndarray, before: bool):
        probe = (hs.astype(np.int64) << tbits) | (t_edge - t0)
        j = (np.searchsorted(tkey, probe, side="left") - 1) if before else \
            np.searchsorted(tkey, probe, side="right")
        jc = np.clip(j, 0, len(tkey) - 1)
        ok = (j >= 0) & (j < len(tkey)) & (ts_subj[jc] == hs)
        q = torder[jc]
        out_d = np.where(ok, np.hypot(px[q] - cx[hc], py[q] - cy[hc]), np.nan)
        out_g = np.where(ok, np.abs(ts_t[jc] - t_edge).astype(float), np.nan)
        return out_d, out_g

    prev_d, prev_g = neighbour(first_t, True)
    next_d, next_g = neighbour(last_t, False)
    wsel = [wins[i] for i in hc]
    out = pd.DataFrame({
        "crime_id": crimes["crime_id"].to_numpy(object)[hc],
        "category": cats[hc],
        "subject": np.asarray(subj_names, dtype=object)[hs],
        "distance_m": d[first],
        "time_diff_s": dt[first].astype(np.int64),
        "dwell_s": (last_t - first_t).astype(np.int64),
        "n_points": n_points.astype(np.int64),
        "first_t": first_t, "last_t": last_t, "closest_t": tp[first],
        "closest_accuracy_m": acc[p_idx[first]],
        "prev_distance_m": prev_d, "prev_gap_s": prev_g,
        "next_distance_m": next_d, "next_gap_s": next_g,
        "distance_window_m": [w.distance_m for w in wsel],
        "before_s": np.array([w.before_s for w in wsel], np.int64),
        "after_s": np.array([w.after_s for w in wsel], np.int64),
    })
    return out.sort_values(["crime_id", "subject"], kind="stable").reset_index(drop=True)
