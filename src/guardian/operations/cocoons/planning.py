"""Cocoon planning: the merge rule, near repeats, places in a zone and the visit list.

Pure functions on arrays and frames (no database): :func:`link_burglaries` groups burglaries
into cocoons, :func:`plan_visits` chooses each burglary's visits (the victim, then the nearest
``neighbour_visits`` places within the radius), :func:`visit_reason` says why a place was
chosen and :func:`zone_coverage` counts the places of a zone that are covered by the zone
itself (leaflets, patrol) rather than visited door by door.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from guardian.errors import InputError

_VICTIM_M = 1.0  # a known place closer than this to the burglary is the victim's own point


def _burglary_basis(dwelling: pd.Series) -> str:
    if len(dwelling) and dwelling.isna().any():
        return ("Burglary with the dwelling flag true or unknown (police.uk 'Burglary' mixes "
                "dwelling and non-dwelling burglary: treated as residential-or-unknown)")
    return "dwelling burglary (dwelling flag true)"


def read_addresses(path: Path | str) -> pd.DataFrame:
    """An address file: CSV with columns ``x, y, address`` (projected metres, dataset's CRS).

    Returns
    -------
    DataFrame
        Columns ``x, y, place``. Rows with unreadable coordinates or an empty address raise
        :class:`InputError` naming the line (an address list must be complete to be trusted).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"address file {str(p)!r} does not exist")
    text = p.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    cols = [c.strip().lower() for c in (reader.fieldnames or [])]
    if not {"x", "y", "address"} <= set(cols):
        raise InputError(f"address file {p.name} needs columns x, y, address; it has {cols}")
    xs, ys, places = [], [], []
    for n, row in enumerate(reader, start=2):
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        try:
            x, y = float(row["x"]), float(row["y"])
        except ValueError:
            raise InputError(f"{p.name} line {n}: x, y ({row['x']!r}, {row['y']!r}) are not "
                             "numbers (projected metres in the dataset's CRS)") from None
        if not (np.isfinite(x) and np.isfinite(y)):
            raise InputError(f"{p.name} line {n}: x, y must be finite metres")
        if not row["address"]:
            raise InputError(f"{p.name} line {n}: empty address")
        xs.append(x)
        ys.append(y)
        places.append(row["address"])
    if not places:
        raise InputError(f"address file {p.name} has no rows")
    return pd.DataFrame({"x": xs, "y": ys, "place": places})


def _place_label(x: float, y: float, location: str) -> str:
    return location if location else f"point ({x:.0f}, {y:.0f})"


def zone_geometry(members: pd.DataFrame | Sequence[dict], radius_m: float | None = None):
    """The cocoon's zone: the union of its member discs (a shapely geometry, metres).

    Parameters
    ----------
    members : DataFrame or list of dict
        With ``x, y`` and ``radius_m`` (or give ``radius_m`` for all).
    radius_m : float, optional
        One radius for all members, metres.
    """
    from shapely import union_all
    from shapely.geometry import Point

    frame = pd.DataFrame(members)
    radii = frame["radius_m"] if radius_m is None else pd.Series(radius_m, index=frame.index)
    return union_all([Point(x, y).buffer(r, quad_segs=32) for x, y, r in
                      zip(frame["x"], frame["y"], radii, strict=True)])


def places_in_zone(members: pd.DataFrame, places: pd.DataFrame) -> pd.DataFrame:
    """Places inside the union of the member discs, nearest first.

    Parameters
    ----------
    members : DataFrame
        Member burglaries: ``x, y, radius_m`` (metres) and optionally ``event_key``.
    places : DataFrame
        ``x, y, place``.

    Returns
    -------
    DataFrame
        ``x, y, place, distance_m, nearest`` where ``distance_m`` is the distance to the
        nearest member burglary (metres) and ``nearest`` that member's position in ``members``;
        sorted by distance, then place, then x, y. A place is inside when it is within the
        radius of at least one member (exactly the union of discs, no polygon approximation).
    """
    cols = ["x", "y", "place", "distance_m", "nearest"]
    if members.empty or places.empty:
        return pd.DataFrame({c: [] for c in cols})
    px = places["x"].to_numpy(float)
    py = places["y"].to_numpy(float)
    mx = members["x"].to_numpy(float)
    my = members["y"].to_numpy(float)
    mr = members["radius_m"].to_numpy(float)
    tree = cKDTree(np.column_stack([px, py]))
    # Each member's own ball gives exactly the places inside its disc; their union is the zone.
    hits = tree.query_ball_point(np.column_stack([mx, my]), mr)
    cand = sorted(set(itertools.chain.from_iterable(hits)))
    if not cand:
        return pd.DataFrame({c: [] for c in cols})
    idx = np.asarray(cand, dtype=np.int64)
    dist, nearest = cKDTree(np.column_stack([mx, my])).query(np.column_stack([px[idx], py[idx]]))
    nearest = np.asarray(nearest, dtype=np.int64)
    out = pd.DataFrame({"x": px[idx], "y": py[idx], "place": places["place"].to_numpy()[idx],
                        "distance_m": np.asarray(dist, dtype=float), "nearest": nearest})
    return out.sort_values(["distance_m", "place", "x", "y"], kind="stable").reset_index(drop=True)


def link_burglaries(
    t_days: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    radius_m: np.ndarray | float,
    window_days: np.ndarray | float,
    *,
    is_new: np.ndarray | None = None,
    group: np.ndarray | None = None,
) -> np.ndarray:
    """Cocoon labels under the merge rule (pure: arrays in, labels out).

    Two burglaries are linked when their discs overlap (distance ``<= r_i + r_j``) and the
    earlier one is live at the later one's time (``|t_i - t_j| < w`` of the earlier); a cocoon
    is a connected component of the links. Found with a k-d tree (pairs within ``2 max(r)``)
    and sparse connected components, never a full distance matrix.

    Parameters
    ----------
    t_days : ndarray of float, shape (n,)
        Report times in days (calendar days on local wall-clock time).
    x, y : ndarray of float, shape (n,)
        Projected coordinates, metres.
    radius_m, window_days : float or ndarray, shape (n,)
        Each burglary's radius (metres) and risk window (days).
    is_new : ndarray of bool, optional
        Only links involving at least one new burglary are looked for (the others are already
        grouped: see ``group``). Default: all are new.
    group : ndarray of int, optional
        Existing cocoon id of each burglary (-1 for none): burglaries of one existing cocoon
        are one group already.

    Returns
    -------
    ndarray of int, shape (n,)
        Component label of each burglary.
    """
    n = len(t_days)
    t = np.asarray(t_days, dtype=float)
    xs = np.asarray(x, dtype=float)
    ys = np.asarray(y, dtype=float)
    rs = np.broadcast_to(np.asarray(radius_m, dtype=float), (n,))
    ws = np.broadcast_to(np.asarray(window_days, dtype=float), (n,))
    new = np.ones(n, dtype=bool) if is_new is None else np.asarray(is_new, dtype=bool)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    pairs = cKDTree(np.column_stack([xs, ys])).query_pairs(2.0 * float(rs.max()),
                                                            output_type="ndarray")
    if len(pairs):
        i, j = pairs[:, 0], pairs[:, 1]
        d = np.hypot(xs[i] - xs[j], ys[i] - ys[j])
        w_early = np.where(t[i] <= t[j], ws[i], ws[j])
        keep = (d <= rs[i] + rs[j]) & (np.abs(t[i] - t[j]) < w_early) & (new[i] | new[j])
        i, j = i[keep], j[keep]
    else:
        i = j = np.empty(0, dtype=np.int64)
    if group is not None:
        g = pd.Series(np.asarray(group, dtype=np.int64))
        has = g.to_numpy() >= 0
        first = g[has].groupby(g[has]).transform(lambda s: s.index[0])
        i = np.concatenate([i, first.index.to_numpy()])
        j = np.concatenate([j, first.to_numpy()])
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def _near_repeats(t: np.ndarray, x: np.ndarray, y: np.ndarray, r: np.ndarray,
                  w: np.ndarray, group: np.ndarray | None = None) -> np.ndarray:
    """Index of the member each member is a near repeat of (-1 when none).

    ``j`` is a near repeat of ``i`` when ``0 < t_j - t_i < w_i`` (days) and the distance is at
    most ``r_i``; among several, the most recent ``i`` (then the nearest, then the lowest index).
    With ``group`` (cocoon of each member), only members of the same group count: the members of
    many cocoons are done in one pass.
    """
    n = len(t)
    out = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return out
    pairs = cKDTree(np.column_stack([x, y])).query_pairs(float(np.max(r)), output_type="ndarray")
    if not len(pairs):
        return out
    i = np.concatenate([pairs[:, 0], pairs[:, 1]])  # both directions: i earlier, j later
    j = np.concatenate([pairs[:, 1], pairs[:, 0]])
    gap = t[j] - t[i]
    d = np.hypot(x[i] - x[j], y[i] - y[j])
    ok = (gap > 0) & (gap < w[i]) & (d <= r[i])
    if group is not None:
        ok &= group[i] == group[j]
    i, j, d = i[ok], j[ok], d[ok]
    if not len(i):
        return out
    order = np.lexsort((i, d, -t[i], j))  # per j: most recent i, then nearest, then lowest
    i, j = i[order], j[order]
    first = np.r_[True, j[1:] != j[:-1]]
    out[j[first]] = i[first]
    return out


def _neighbours(px: np.ndarray, py: np.ndarray, pn: np.ndarray, hits: Sequence[int],
                x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
    """Places of ``hits`` (indexes into the place arrays) that are not the victim's own point,
    nearest first (ties: place text, then x, then y, so the order never depends on storage).

    Returns
    -------
    (ndarray of int, ndarray of float)
        Place indexes and their distances (metres), in visiting order.
    """
    idx = np.asarray(hits, dtype=np.int64)
    if not len(idx):
        return idx, np.empty(0, dtype=float)
    d = np.hypot(px[idx] - x, py[idx] - y)
    keep = d >= _VICTIM_M
    idx, d = idx[keep], d[keep]
    order = np.lexsort((py[idx], px[idx], pn[idx], d))
    return idx[order], d[order]


def plan_visits(
    burglaries: pd.DataFrame,
    places: pd.DataFrame,
    *,
    radius_m: float,
    visit_hours: float,
    neighbour_visits: int | None,
) -> pd.DataFrame:
    """The visit list of each burglary: the victim, then its nearest neighbouring places.

    Each burglary plans the victim's own point (rank 0), then the known places within
    ``radius_m`` of it (not counting places closer than 1 m, which are the victim's point),
    nearest first, at most ``neighbour_visits`` of them. The other places within the radius
    are not visited door by door: the zone covers them (leaflets, patrol; see
    :func:`zone_coverage`).

    Parameters
    ----------
    burglaries : DataFrame
        One row per burglary: ``x, y`` (metres), ``location`` (text, may be empty) and ``utc``
        (report time, naive UTC).
    places : DataFrame
        Known places: ``x, y, place``.
    radius_m : float
        Radius within which neighbours are chosen, metres.
    visit_hours : float
        Visits are due this many hours after the report.
    neighbour_visits : int or None
        Cap on the neighbouring places visited per burglary (0: the victim only; None: every
        place within the radius).

    Returns
    -------
    DataFrame
        One row per visit, victim first then nearest first within each burglary: ``pos``
        (row position in ``burglaries``), ``rank, is_victim, x, y, place, distance_m, due_at``
        and ``n_within`` (places within the radius of that burglary, the victim's point
        excluded: the *N* of "2nd nearest of *N* places").

    Notes
    -----
    Victim plus a handful of immediate neighbours is the cocoon of the Kirkholt project
    (Forrester, Chatterton & Pease, 1988); risk decays with distance from the burglary
    (Townsley, Homel & Chaseling, 2003; Bowers & Johnson, 2004), so the nearest doors carry
    the most risk per visit. ``docs/cocoons.md`` justifies the default cap.
    """
    cols = ["pos", "rank", "is_victim", "x", "y", "place", "distance_m", "due_at", "n_within"]
    px = places["x"].to_numpy(float)
    py = places["y"].to_numpy(float)
    pn = places["place"].astype(str).to_numpy()
    bx = burglaries["x"].to_numpy(float)
    by = burglaries["y"].to_numpy(float)
    if len(places) and len(burglaries):
        hits = cKDTree(np.column_stack([px, py])).query_ball_point(np.column_stack([bx, by]),
                                                                  radius_m)
    else:
        hits = [[] for _ in range(len(burglaries))]
    rows: list[tuple] = []
    due_delta = pd.Timedelta(hours=visit_hours)
    for k, (x, y, loc, utc) in enumerate(zip(bx, by, burglaries["location"],
                                             burglaries["utc"], strict=True)):
        due = (pd.Timestamp(utc) + due_delta).to_pydatetime()
        idx, d = _neighbours(px, py, pn, hits[k], x, y)
        n_within = len(idx)
        rows.append((k, 0, True, float(x), float(y), _place_label(x, y, loc), 0.0, due,
                     n_within))
        if neighbour_visits is not None:
            idx, d = idx[:neighbour_visits], d[:neighbour_visits]
        rows += [(k, rank, False, float(px[pi]), float(py[pi]), str(pn[pi]), float(dist), due,
                  n_within) for rank, (pi, dist) in enumerate(zip(idx, d, strict=True), start=1)]
    return pd.DataFrame.from_records(rows, columns=cols)


def places_within(members: pd.DataFrame, places: pd.DataFrame) -> np.ndarray:
    """Number of places within each member's radius, the victim's own point excluded.

    The same count as ``n_within`` of :func:`plan_visits`, for burglaries already planned
    (read back from the store).

    Parameters
    ----------
    members : DataFrame
        ``x, y, radius_m`` (metres).
    places : DataFrame
        ``x, y, place``.

    Returns
    -------
    ndarray of int, shape (len(members),)
    """
    if members.empty or places.empty:
        return np.zeros(len(members), dtype=np.int64)
    px, py = places["x"].to_numpy(float), places["y"].to_numpy(float)
    mx, my = members["x"].to_numpy(float), members["y"].to_numpy(float)
    hits = cKDTree(np.column_stack([px, py])).query_ball_point(
        np.column_stack([mx, my]), members["radius_m"].to_numpy(float))
    out = np.zeros(len(members), dtype=np.int64)
    for k, h in enumerate(hits):
        idx = np.asarray(h, dtype=np.int64)
        if len(idx):
            out[k] = int((np.hypot(px[idx] - mx[k], py[idx] - my[k]) >= _VICTIM_M).sum())
    return out


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def short_key(event_key: str) -> str:
    """An event id short enough for a sentence (police.uk crime ids are 64 hex characters):
    the first 10 characters and an ellipsis when longer than 16."""
    key = str(event_key)
    return key if len(key) <= 16 else key[:10] + "…"


def visit_reason(*, rank: int, is_victim: bool, n_within: int | None, radius_m: float,
                 event_key: str) -> str:
    """Why a place is on the visit list.

    Parameters
    ----------
    rank : int
        0 for the victim, then 1, 2, ... nearest first.
    is_victim : bool
        The victim's own point.
    n_within : int or None
        Places within the radius of the burglary (victim excluded); None when unknown.
    radius_m : float
        The burglary's radius, metres.
    event_key : str
        The burglary's event id (shortened with :func:`short_key`).

    Returns
    -------
    str
        ``"victim's address (burglary X)"`` or ``"2nd nearest of 57 places within 400 m of
        burglary X"``. When the place list read now is smaller than the rank (the visits were
        planned from another list, e.g. an address file), the count is left out.

    Examples
    --------
    >>> visit_reason(rank=2, is_victim=False, n_within=57, radius_m=400.0, event_key="A")
    '2nd nearest of 57 places within 400 m of burglary A'
    """
    key = short_key(event_key)
    if is_victim:
        return f"victim's address (burglary {key})"
    if n_within is None or n_within < rank:
        return f"{_ordinal(rank)} nearest place within {radius_m:g} m of burglary {key}"
    return (f"{_ordinal(rank)} nearest of {n_within} place{'s' if n_within != 1 else ''} "
            f"within {radius_m:g} m of burglary {key}")


def zone_coverage(members: pd.DataFrame, places: pd.DataFrame,
                  visits: pd.DataFrame) -> pd.DataFrame:
    """Places in each cocoon's zone: visited individually, or covered by the zone itself.

    A place is in the zone when it is within the radius of at least one member burglary
    (the union of discs, as :func:`places_in_zone`). It is *visited individually* when a
    planned visit of the cocoon is at that place (same ``x, y, place``) or it is a victim's
    own point (closer than 1 m to a member: the victim's visit). The rest is *covered by the
    zone* (leaflets, patrol), not by a visit task.

    Parameters
    ----------
    members : DataFrame
        ``cocoon_id, x, y, radius_m``.
    places : DataFrame
        ``x, y, place``.
    visits : DataFrame
        ``cocoon_id, x, y, place`` of the planned visits.

    Returns
    -------
    DataFrame
        Indexed by ``cocoon_id`` (every cocoon of ``members``): ``places_in_zone,
        places_visited, places_covered_by_zone`` (counts).
    """
    cols = ["places_in_zone", "places_visited", "places_covered_by_zone"]
    ids = np.unique(members["cocoon_id"].to_numpy(np.int64)) if len(members) else []
    out = pd.DataFrame(0, index=pd.Index(ids, name="cocoon_id"), columns=cols, dtype=np.int64)
    if members.empty or places.empty:
        return out
    px, py = places["x"].to_numpy(float), places["y"].to_numpy(float)
    cid = members["cocoon_id"].to_numpy(np.int64)
    mx, my = members["x"].to_numpy(float), members["y"].to_numpy(float)
    tree = cKDTree(np.column_stack([px, py]))

    def pairs(radii: np.ndarray) -> pd.DataFrame:
        hits = tree.query_ball_point(np.column_stack([mx, my]), radii)
        lens = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
        p = np.fromiter(itertools.chain.from_iterable(hits), dtype=np.int64,
                        count=int(lens.sum()))
        return pd.DataFrame({"c": np.repeat(cid, lens), "p": p,
                             "m": np.repeat(np.arange(len(cid)), lens)})

    zone = pairs(members["radius_m"].to_numpy(float))[["c", "p"]].drop_duplicates()
    near = pairs(np.full(len(cid), _VICTIM_M))
    near = near[np.hypot(px[near["p"]] - mx[near["m"]], py[near["p"]] - my[near["m"]])
                < _VICTIM_M][["c", "p"]]
    key = pd.DataFrame({"x": px, "y": py, "place": places["place"].astype(str).to_numpy(),
                        "p": np.arange(len(places))})
    v = visits[["cocoon_id", "x", "y", "place"]].astype({"x": float, "y": float, "place": str})
    matched = v.merge(key, on=["x", "y", "place"])[["cocoon_id", "p"]].rename(
        columns={"cocoon_id": "c"})
    visited = pd.concat([near, matched]).drop_duplicates().merge(zone, on=["c", "p"])
    n_zone = zone.groupby("c").size()
    n_vis = visited.groupby("c").size()
    out.loc[n_zone.index, "places_in_zone"] = n_zone.to_numpy()
    out.loc[n_vis.index, "places_visited"] = n_vis.to_numpy()
    out["places_covered_by_zone"] = out["places_in_zone"] - out["places_visited"]
    return out


def _zone_stats(members: pd.DataFrame, places: pd.DataFrame | None) -> pd.DataFrame:
    """Places inside and area of every cocoon's zone at once.

    The same figures as ``len(places_in_zone(...))`` and ``zone_geometry(...).area`` per
    cocoon, with one k-d tree over the places for all members and the discs of members at the
    same point (police.uk map points are shared) drawn once.

    Returns
    -------
    DataFrame
        Indexed by ``cocoon_id``: ``places`` (count) and ``area_m2`` (square metres).
    """
    import shapely

    if members.empty:
        return pd.DataFrame({"places": pd.Series(dtype=np.int64),
                             "area_m2": pd.Series(dtype=float)})
    cid = members["cocoon_id"].to_numpy(np.int64)
    mx, my = members["x"].to_numpy(float), members["y"].to_numpy(float)
    mr = members["radius_m"].to_numpy(float)
    out = pd.DataFrame(index=pd.Index(np.unique(cid), name="cocoon_id"))
    out["places"] = 0
    if places is not None and len(places):
        tree = cKDTree(np.column_stack([places["x"].to_numpy(float),
                                        places["y"].to_numpy(float)]))
        hits = tree.query_ball_point(np.column_stack([mx, my]), mr)
        lens = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
        if lens.sum():
            pairs = pd.DataFrame({"c": np.repeat(cid, lens),
                                  "p": np.fromiter(itertools.chain.from_iterable(hits),
                                                   dtype=np.int64, count=int(lens.sum()))})
            n = pairs.drop_duplicates().groupby("c").size()
            out.loc[n.index, "places"] = n.to_numpy()
    discs = pd.DataFrame({"c": cid, "x": mx, "y": my, "r": mr}).drop_duplicates()
    polys = shapely.buffer(shapely.points(discs["x"].to_numpy(), discs["y"].to_numpy()),
                           discs["r"].to_numpy(), quad_segs=32)
    codes, uniq = pd.factorize(discs["c"])
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniq) + 1))
    areas = [shapely.union_all(polys[order[bounds[k]:bounds[k + 1]]]).area
             for k in range(len(uniq))]
    out["area_m2"] = pd.Series(areas, index=np.asarray(uniq, dtype=np.int64))
    return out

