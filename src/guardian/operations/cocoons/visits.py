"""Recording visits, assigning cocoons, and the overdue-visit list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    func,
    or_,
    select,
    update,
)

from guardian.errors import Conflict, InputError, NotFound
from guardian.operations.cocoons.models import (
    Cocoon,
    CocoonMember,
    CocoonVisit,
)
from guardian.operations.cocoons.planning import (
    places_within,
    visit_reason,
)
from guardian.operations.cocoons.queries import (
    _dataset,
    _frame,
    _in_chunks,
    _places_near,
    _resolve_cocoon,
)
from guardian.operations.cocoons.reading import _visit_dict
from guardian.operations.cocoons.times import (
    TIMING,
    _iso,
    _pydt,
    _spans,
    _utc,
)
from guardian.operations.cocoons.validation import (
    _check_assignee,
    _check_outcome,
    cocoon_ref,
    parse_ref,
    visit_ref,
)
from guardian.store.db import begin as _begin
from guardian.store.models import Dataset


def record_visit(
    bind: Engine | Connection,
    *,
    ref: str,
    outcome: str,
    at: datetime,
    by: str | None = None,
) -> dict[str, Any]:
    """Record the outcome of a visit.

    Parameters
    ----------
    ref : str
        ``V-<id>`` for one visit, or ``C-<id>`` for the next pending visit of that cocoon
        (earliest due, victim first, then nearest first).
    outcome : {"spoke", "advice", "no-answer", "declined"}
    at : datetime (tz-aware)
        When the visit happened.
    by : str, optional
        Officer's collar number or team (never a resident's name).

    Returns
    -------
    dict
        The visit (as in :func:`get_cocoon`) plus ``on_time`` (visited by its due time).

    Raises
    ------
    Conflict
        The visit already has an outcome, the cocoon has no pending visit, or ``at`` is after
        the cocoon expired (not a cocoon visit any more).
    InputError
        Bad outcome, reference, assignee, or ``at`` before the burglary was reported.
    """
    kind, num = parse_ref(ref)
    outcome = _check_outcome(outcome)
    at_u = _utc(at, "at")
    by = _check_assignee(by, "by")
    v = CocoonVisit
    with _begin(bind) as conn:
        if kind == "C":
            coc = _resolve_cocoon(conn, num)
            vr = conn.execute(select(v.__table__).where(v.cocoon_id == coc.id,
                                                        v.outcome.is_(None))
                              .order_by(v.due_at, v.member_id, v.rank, v.id).limit(1)).first()
            if vr is None:
                raise Conflict(f"cocoon {cocoon_ref(coc.id)} has no pending visit; every planned "
                               "visit has an outcome (see `guardian cocoons show`)")
        else:
            vr = conn.execute(select(v.__table__).where(v.id == num)).first()
            if vr is None:
                raise NotFound(f"no visit {visit_ref(num)}; see `guardian cocoons show C-<id>`")
            if vr.outcome is not None:
                raise Conflict(f"visit {visit_ref(num)} already has outcome {vr.outcome!r} "
                               f"({_iso(vr.visited_at)}, by {vr.visited_by or 'unknown'}); "
                               "an outcome is recorded once")
            coc = _resolve_cocoon(conn, vr.cocoon_id)
        reported = conn.execute(select(CocoonMember.reported_at)
                                .where(CocoonMember.id == vr.member_id)).scalar_one()
        if at_u < reported:
            raise InputError(f"visit time {_iso(at_u)} is before the burglary was reported "
                             f"({_iso(reported)}); check --at")
        if at_u >= coc.ends_at:
            raise Conflict(f"cocoon {cocoon_ref(coc.id)} expired at {_iso(coc.ends_at)}; a visit "
                           f"at {_iso(at_u)} is after the risk window (give --at with the "
                           "time of the visit if it was made earlier)")
        conn.execute(update(v).where(v.id == vr.id, v.outcome.is_(None))
                     .values(outcome=outcome, visited_at=at_u, visited_by=by))
        new = conn.execute(select(v.__table__).where(v.id == vr.id)).first()
    out = _visit_dict(new, at_u)
    out["on_time"] = bool(at_u <= new.due_at)
    return out


def assign_cocoon(bind: Engine | Connection, *, ref: str, owner: str) -> dict[str, Any]:
    """Set a cocoon's owner (collar number or team). A merged cocoon's reference leads to the
    cocoon it was merged into.

    Returns
    -------
    dict
        ``ref, owner, previous_owner``.
    """
    kind, num = parse_ref(ref)
    if kind != "C":
        raise InputError(f"{ref!r} is a visit; owners are set on cocoons (C-<id>)")
    owner = _check_assignee(owner, "owner")
    if not owner:
        raise InputError("owner must not be empty")
    with _begin(bind) as conn:
        coc = _resolve_cocoon(conn, num)
        conn.execute(update(Cocoon).where(Cocoon.id == coc.id).values(owner=owner))
    return {"ref": cocoon_ref(coc.id), "owner": owner, "previous_owner": coc.owner}


def overdue_visits(
    bind: Engine | Connection,
    *,
    as_of: datetime,
    dataset: str | None = None,
    include_expired: bool = False,
    limit: int | None = None,
    count_only: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Visits that missed their deadline and still have no outcome at ``as_of``.

    By default only visits of live cocoons (those one can still act on); with
    ``include_expired`` also those of expired cocoons (missed for good). ``limit`` returns only
    the first (oldest) ones; pass a list as ``count_only`` to have the full count appended
    to it.

    Returns
    -------
    list of dict
        Oldest deadline first: the visit fields plus ``dataset, owner, hours_overdue,
        burglary_reported_at, cocoon_status, timing, why`` (why the place was chosen).
    """
    as_of_u = _utc(as_of)
    if limit is not None and (not isinstance(limit, int | np.integer) or limit < 0):
        raise InputError(f"limit must be a whole number >= 0 (or None for all), got {limit!r}")
    v, m = CocoonVisit, CocoonMember
    pending = [m.reported_at <= as_of_u, v.due_at < as_of_u,
               or_(v.visited_at.is_(None), v.visited_at > as_of_u)]
    with _begin(bind) as conn:
        # 1. The cocoons concerned, and their end as of ``as_of`` (members reported later do
        #    not extend it yet), computed for all of them at once.
        cq = (select(Cocoon.id, Cocoon.ends_at, Dataset.timezone)
              .join(Dataset, Dataset.id == Cocoon.dataset_id)
              .where(Cocoon.state == "live", Cocoon.opened_at <= as_of_u))
        if not include_expired:
            cq = cq.where(Cocoon.ends_at > as_of_u)
        if dataset is not None:
            cq = cq.where(Dataset.name == _dataset(conn, dataset).name)
        crow = conn.execute(cq).all()
        tz_of = {r.id: r.timezone for r in crow}
        m_rows = []
        for chunk in _in_chunks(sorted(tz_of)):
            m_rows += conn.execute(select(m.cocoon_id, m.reported_local, m.reported_at,
                                          m.window_days)
                                   .where(m.cocoon_id.in_(chunk), m.reported_at <= as_of_u)).all()
        spans = _spans(_frame(m_rows, ["cocoon_id", "reported_local", "reported_at",
                                       "window_days"]), tz_of)
        ends: dict[int, datetime] = {}
        for r in crow:
            e = spans.at[r.id, "ends_at"] if r.id in spans.index else None
            ends[r.id] = _pydt(e) or r.ends_at
        keep = sorted(cid for cid, e in ends.items() if include_expired or as_of_u < e)
        # 2. Count in SQL; read only the rows returned (oldest deadline first).
        total = 0
        rows: list[Any] = []
        for chunk in _in_chunks(keep):
            if count_only is not None:
                total += int(conn.execute(
                    select(func.count()).select_from(v).join(m, m.id == v.member_id)
                    .where(v.cocoon_id.in_(chunk), *pending)).scalar_one())
            q = (select(v.__table__, Cocoon.owner, m.reported_at.label("reported_at"),
                        m.time_precision.label("precision"), Dataset.name.label("dataset"),
                        Cocoon.dataset_id.label("dataset_id"), m.x.label("member_x"),
                        m.y.label("member_y"), m.radius_m.label("member_radius_m"),
                        m.event_key.label("event_key"))
                 .join(Cocoon, Cocoon.id == v.cocoon_id)
                 .join(m, m.id == v.member_id)
                 .join(Dataset, Dataset.id == Cocoon.dataset_id)
                 .where(v.cocoon_id.in_(chunk), *pending)
                 .order_by(v.due_at, v.cocoon_id, v.member_id, v.rank))
            if limit is not None:
                q = q.limit(limit)
            rows += conn.execute(q).all()
        if len(keep) > 500:  # several chunks: merge them in the same order
            rows.sort(key=lambda r: (r.due_at, r.cocoon_id, r.member_id, r.rank))
        if limit is not None:
            rows = rows[:limit]
        # Why each listed visit was chosen: the places within its burglary's radius, counted
        # from the known places around the listed burglaries only.
        burg = pd.DataFrame([(r.member_id, r.dataset_id, r.member_x, r.member_y,
                              r.member_radius_m) for r in rows],
                            columns=["id", "dataset_id", "x", "y", "radius_m"]
                            ).drop_duplicates("id")
        n_within: dict[int, int] = {}
        for ds_id, sub in burg.groupby("dataset_id"):
            counts = places_within(sub, _places_near(conn, int(ds_id), sub))
            n_within.update(zip(sub["id"].tolist(), counts.tolist(), strict=True))
    if count_only is not None:
        count_only.append(total)
    out = []
    for r in rows:
        end = ends[r.cocoon_id]
        d = _visit_dict(r, as_of_u)
        d.update({
            "dataset": r.dataset, "owner": r.owner,
            "hours_overdue": round((as_of_u - r.due_at).total_seconds() / 3600.0, 1),
            "burglary_reported_at": _iso(r.reported_at),
            "cocoon_status": "expired" if as_of_u >= end else "live",
            "timing": TIMING[r.precision],
            "why": visit_reason(rank=r.rank, is_victim=bool(r.is_victim),
                                n_within=n_within.get(r.member_id), radius_m=r.member_radius_m,
                                event_key=r.event_key),
        })
        out.append(d)
    return out
