"""Reading cocoons as of a time: the list, one cocoon with its members and visits, and the
places of its zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    select,
)

from guardian.errors import InputError, NotFound
from guardian.operations.cocoons.models import (
    Cocoon,
    CocoonMember,
    CocoonVisit,
)
from guardian.operations.cocoons.planning import (
    _place_label,
    places_in_zone,
    places_within,
    visit_reason,
    zone_coverage,
)
from guardian.operations.cocoons.queries import (
    _dataset,
    _members_frame,
    _places_frame,
    _places_near,
    _resolve_cocoon,
    _visit_counts,
)
from guardian.operations.cocoons.times import (
    TIMING,
    _iso,
    _pydt,
    _spans,
    _utc,
)
from guardian.operations.cocoons.validation import (
    LIVE_STATUSES,
    STATUSES,
    cocoon_ref,
    parse_ref,
    visit_ref,
)
from guardian.store.db import begin as _begin
from guardian.store.models import Dataset


def _status(state: str, ends_at: datetime, visits_done: int, as_of: datetime) -> str:
    if state == "merged":
        return "merged"
    if as_of >= ends_at:
        return "expired"
    return "active" if visits_done > 0 else "open"


def _why_text(first: Any, radii: Sequence[float], wins: Sequence[float], n_members: int,
              n_near: int) -> str:
    """The "why" sentence of a cocoon from its first member (``precision, month,
    reported_local, x, y, location``), its distinct radii and windows and its counts."""
    if first["precision"] == "month":
        when = f"in {first['month']} (month only)"
    else:
        when = f"on {pd.Timestamp(first['reported_local']).date().isoformat()}"
    where = _place_label(first["x"], first["y"], first["location"])
    rtxt = "/".join(f"{r:g}" for r in sorted(set(radii)))
    wtxt = "/".join(f"{w:g}" for w in sorted(set(wins)))
    text = f"opened by burglary {when} at {where}; "
    text += (f"{n_near} near repeat{'s' if n_near != 1 else ''} within {rtxt} m/{wtxt} days")
    others = n_members - 1 - n_near
    if others > 0:
        text += (f"; {others} more burglar{'ies' if others != 1 else 'y'} in overlapping "
                 f"zone{'s' if others != 1 else ''}")
    return text


def _member_summary(members: pd.DataFrame) -> pd.DataFrame:
    """Per-cocoon aggregates of member rows in one pass (no per-cocoon pandas work).

    Returns
    -------
    DataFrame
        Indexed by ``cocoon_id``: ``n, n_near, cx, cy, lon, lat`` (lon/lat NaN when any member
        lacks them) and ``why``.
    """
    cols = ["n", "n_near", "cx", "cy", "lon", "lat", "why"]
    if members.empty:
        return pd.DataFrame({c: [] for c in cols})
    f = members.assign(
        near=members["near_repeat_of_id"].notna(),
        lon_na=pd.to_numeric(members["lon"]).isna(),
        lat_na=pd.to_numeric(members["lat"]).isna(),
        lon=pd.to_numeric(members["lon"]).astype(float),
        lat=pd.to_numeric(members["lat"]).astype(float),
        r1=members["radius_m"].astype(float).round(1),
        w1=members["window_days"].astype(float).round(1))
    g = f.groupby("cocoon_id")
    out = g.agg(n=("id", "size"), n_near=("near", "sum"), cx=("x", "mean"), cy=("y", "mean"),
                lon=("lon", "mean"), lat=("lat", "mean"), lon_na=("lon_na", "any"),
                lat_na=("lat_na", "any"))
    out.loc[out["lon_na"], "lon"] = np.nan
    out.loc[out["lat_na"], "lat"] = np.nan
    first = f.sort_values(["cocoon_id", "reported_local", "id"]).drop_duplicates("cocoon_id")
    first = first.set_index("cocoon_id")
    radii = f.drop_duplicates(["cocoon_id", "r1"]).groupby("cocoon_id")["r1"].agg(list)
    wins = f.drop_duplicates(["cocoon_id", "w1"]).groupby("cocoon_id")["w1"].agg(list)
    out["why"] = [_why_text(first.loc[cid], radii[cid], wins[cid], int(out.at[cid, "n"]),
                            int(out.at[cid, "n_near"])) for cid in out.index]
    return out[cols]


def list_cocoons(
    bind: Engine | Connection,
    *,
    as_of: datetime,
    dataset: str | None = None,
    statuses: Sequence[str] | None = LIVE_STATUSES,
    ids: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Cocoons opened by ``as_of`` with their status at ``as_of``.

    Parameters
    ----------
    as_of : datetime (tz-aware)
        Status, visits done and overdue counts are as at this time; later members and visits
        are ignored.
    dataset : str, optional
        Exact dataset name; all datasets when omitted.
    statuses : sequence of str or None
        Any of ``open, active, expired, merged`` (default the live ones); None for all.
    ids : sequence of int, optional
        Only these cocoons.

    Returns
    -------
    list of dict
        Per cocoon: ``ref, id, dataset, status, owner, opened_at, first_due_at, next_due_at,
        ends_at, centre_x, centre_y, lon, lat, radius_m, window_days, params_source, members,
        near_repeats, visits_planned, visits_done, visits_overdue, timing, why`` (times ISO UTC),
        newest first.
    """
    as_of_u = _utc(as_of)
    if statuses is not None:
        bad = [s for s in statuses if s not in STATUSES]
        if bad:
            raise InputError(f"status {bad} is not one of {list(STATUSES)}")
    with _begin(bind) as conn:
        q = (select(Cocoon.__table__, Dataset.name.label("dataset"), Dataset.timezone)
             .join(Dataset, Dataset.id == Cocoon.dataset_id)
             .where(Cocoon.opened_at <= as_of_u).order_by(Cocoon.opened_at.desc(), Cocoon.id))
        if dataset is not None:
            q = q.where(Dataset.name == _dataset(conn, dataset).name)
        if ids is not None:
            q = q.where(Cocoon.id.in_(list(ids)))
        if statuses is not None and "merged" not in statuses:
            q = q.where(Cocoon.state == "live")
        if statuses is not None and "expired" not in statuses and "merged" not in statuses:
            # The stored end covers every member; as of an earlier time only the members
            # reported by then count, so the end as of then is never later: a cocoon whose
            # stored end has passed is expired at as_of (index ix_cocoons_dataset_ends).
            q = q.where(Cocoon.ends_at > as_of_u)
        rows = conn.execute(q).all()
        ids = [r.id for r in rows]
        counts = _visit_counts(conn, ids, as_of_u)
        members = _members_frame(conn, ids, as_of_u)
    spans = _spans(members, {r.id: r.timezone for r in rows})
    summary = _member_summary(members)
    out = []
    for r in rows:
        c = counts.get(r.id, {"planned": 0, "done": 0, "overdue": 0, "pending": 0,
                              "next_due": None})
        has_members = r.id in summary.index
        opened_at, ends_at = r.opened_at, r.ends_at
        if has_members:
            # As of an earlier time, only the members reported by then count.
            opened_at = _pydt(spans.at[r.id, "opened_at"]) or r.opened_at
            ends_at = _pydt(spans.at[r.id, "ends_at"]) or r.ends_at
        status = _status(r.state, ends_at, c["done"], as_of_u)
        if statuses is not None and status not in statuses:
            continue
        if status == "merged" or not has_members:
            n_mem = n_near = 0
            cx = cy = lon = lat = None
            why = (f"merged into {cocoon_ref(r.merged_into_id)}" if status == "merged"
                   else "no member reported by this time")
        else:
            sm = summary.loc[r.id]
            n_mem, n_near = int(sm["n"]), int(sm["n_near"])
            cx, cy = float(sm["cx"]), float(sm["cy"])
            lon = None if pd.isna(sm["lon"]) else float(sm["lon"])
            lat = None if pd.isna(sm["lat"]) else float(sm["lat"])
            why = str(sm["why"])
        out.append({
            "ref": cocoon_ref(r.id), "id": r.id, "dataset": r.dataset, "status": status,
            "owner": r.owner, "opened_at": _iso(opened_at),
            "first_due_at": _iso(opened_at + timedelta(hours=float(r.visit_hours))),
            "next_due_at": _iso(pd.Timestamp(c["next_due"]).to_pydatetime())
            if c["next_due"] is not None else None,
            "ends_at": _iso(ends_at), "merged_into": cocoon_ref(r.merged_into_id)
            if r.merged_into_id else None,
            "centre_x": cx, "centre_y": cy, "lon": lon, "lat": lat,
            "radius_m": r.radius_m, "window_days": r.window_days, "visit_hours": r.visit_hours,
            "params_source": r.params_source, "members": n_mem, "near_repeats": n_near,
            "visits_planned": c["planned"], "visits_done": c["done"],
            "visits_overdue": c["overdue"], "timezone": r.timezone,
            "timing": TIMING[r.time_precision], "why": why,
        })
    return out


def get_cocoon(bind: Engine | Connection, *, ref: str | int, as_of: datetime,
               addresses: Any = None) -> dict[str, Any]:
    """One cocoon with its members and visits (a merged cocoon's reference leads to the
    cocoon it was merged into; ``followed_from`` says so).

    Parameters
    ----------
    ref : str or int
        ``C-<id>`` (or the id).
    as_of : datetime (tz-aware)
        Members and visits as at this time.
    addresses : path or DataFrame, optional
        The address list the visits were planned from, if not the dataset's known places:
        the place counts and the "why" of each visit are read from it.

    Returns
    -------
    dict
        The :func:`list_cocoons` fields plus ``members_list`` (ref, event_key, reported_at,
        location, x, y, near_repeat_of, places_within), ``visits_list`` (ref, member, rank,
        is_victim, place, x, y, distance_m, due_at, outcome, visited_at, visited_by, state,
        why) and the zone's ``places_in_zone``, ``places_visited`` (a planned visit or a
        victim's point) and ``places_covered_by_zone`` (the rest: leaflets, patrol).
    """
    as_of_u = _utc(as_of)
    cid = ref if isinstance(ref, int) else parse_ref(ref)[1]
    if isinstance(ref, str) and parse_ref(ref)[0] != "C":
        raise InputError(f"{ref!r} is a visit; give a cocoon reference such as C-12")
    with _begin(bind) as conn:
        row = _resolve_cocoon(conn, cid)
        members = _members_frame(conn, [row.id], as_of_u)
        v = CocoonVisit
        visits = conn.execute(select(v.__table__).join(CocoonMember, CocoonMember.id == v.member_id)
                              .where(v.cocoon_id == row.id, CocoonMember.reported_at <= as_of_u)
                              .order_by(v.due_at, v.member_id, v.rank)).all()
        found = list_cocoons(conn, as_of=as_of, statuses=None, ids=[row.id])
        if not found:
            raise NotFound(f"cocoon {cocoon_ref(row.id)} had not been opened by "
                           f"{_iso(as_of_u)}; give a later --as-of")
        base = found[0]
        if addresses is None:
            places = _places_near(conn, row.dataset_id, members)
        else:
            ds_name = conn.execute(select(Dataset.name)
                                   .where(Dataset.id == row.dataset_id)).scalar_one()
            places = _places_frame(conn, ds_name, addresses)
    key_of = dict(zip(members["id"], members["event_key"], strict=True))
    n_within = dict(zip(members["id"], places_within(members, places), strict=True))
    radius_of = dict(zip(members["id"], members["radius_m"], strict=True))
    base["followed_from"] = cocoon_ref(cid) if cid != row.id else None
    base["members_list"] = [{
        "member_id": int(mr.id), "event_key": mr.event_key, "month": mr.month,
        "reported_at": _iso(pd.Timestamp(mr.reported_at).to_pydatetime()),
        "location": _place_label(mr.x, mr.y, mr.location), "x": mr.x, "y": mr.y,
        "near_repeat_of": key_of.get(mr.near_repeat_of_id)
        if pd.notna(mr.near_repeat_of_id) else None,
        "places_within": int(n_within[mr.id]),
    } for mr in members.sort_values(["reported_local", "id"]).itertuples()]
    base["visits_list"] = []
    for vr in visits:
        d = _visit_dict(vr, as_of_u)
        d["why"] = visit_reason(rank=vr.rank, is_victim=bool(vr.is_victim),
                                n_within=int(n_within[vr.member_id]),
                                radius_m=float(radius_of[vr.member_id]),
                                event_key=key_of[vr.member_id])
        base["visits_list"].append(d)
    visited = pd.DataFrame([(row.id, vr.x, vr.y, vr.place) for vr in visits],
                           columns=["cocoon_id", "x", "y", "place"])
    cover = zone_coverage(members, places, visited)
    for col in ("places_in_zone", "places_visited", "places_covered_by_zone"):
        base[col] = int(cover.at[row.id, col]) if row.id in cover.index else 0
    return base


def _visit_state(outcome: str | None, visited_at: datetime | None, due_at: datetime,
                 as_of: datetime) -> str:
    if outcome is not None and visited_at is not None and visited_at <= as_of:
        return "done on time" if visited_at <= due_at else "done late"
    return "overdue" if due_at < as_of else "due"


def _visit_dict(vr, as_of: datetime) -> dict[str, Any]:
    done = vr.outcome is not None and vr.visited_at is not None and vr.visited_at <= as_of
    return {
        "ref": visit_ref(vr.id), "id": vr.id, "cocoon": cocoon_ref(vr.cocoon_id),
        "member_id": vr.member_id, "rank": vr.rank, "is_victim": bool(vr.is_victim),
        "place": vr.place, "x": vr.x, "y": vr.y, "distance_m": round(float(vr.distance_m), 1),
        "due_at": _iso(vr.due_at), "outcome": vr.outcome if done else None,
        "visited_at": _iso(vr.visited_at) if done else None,
        "visited_by": vr.visited_by if done else None,
        "state": _visit_state(vr.outcome, vr.visited_at, vr.due_at, as_of),
    }


def cocoon_places(bind: Engine | Connection, *, ref: str | int, as_of: datetime,
                  addresses: Any = None) -> pd.DataFrame:
    """The known places inside a cocoon's zone (union of member discs), nearest first.

    Returns
    -------
    DataFrame
        ``x, y, place, distance_m, nearest_event`` (distance to the nearest member burglary,
        metres).
    """
    as_of_u = _utc(as_of)
    cid = ref if isinstance(ref, int) else parse_ref(ref)[1]
    with _begin(bind) as conn:
        row = _resolve_cocoon(conn, cid)
        ds_name = conn.execute(select(Dataset.name).where(Dataset.id == row.dataset_id)).scalar()
        members = _members_frame(conn, [row.id], as_of_u)
        places = _places_frame(conn, ds_name, addresses)
    out = places_in_zone(members, places)
    out["nearest_event"] = members["event_key"].to_numpy()[out["nearest"].astype(int)] \
        if len(out) else []
    return out.drop(columns="nearest")
