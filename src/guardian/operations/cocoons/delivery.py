"""Delivery figures and the monthly briefing's cocoon section.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    case,
    func,
    select,
)

from guardian.data.months import check_month
from guardian.errors import InputError
from guardian.operations.cocoons.models import (
    REACHED,
    Cocoon,
    CocoonMember,
    CocoonVisit,
)
from guardian.operations.cocoons.planning import (
    _zone_stats,
)
from guardian.operations.cocoons.queries import (
    _dataset,
    _frame,
    _members_frame,
    _places_near,
)
from guardian.operations.cocoons.reading import list_cocoons
from guardian.operations.cocoons.times import (
    TIMING,
    TIMING_NOTE,
    _coarsest,
    _iso,
    _timing,
    _to_utc_naive,
    _utc,
)
from guardian.operations.cocoons.validation import (
    DEFAULT_VISIT_HOURS,
    LIVE_STATUSES,
)
from guardian.operations.cocoons.visits import overdue_visits
from guardian.store.db import begin as _begin
from guardian.store.models import Event


def delivery_figures(
    bind: Engine | Connection,
    *,
    dataset: str,
    as_of: datetime,
    start_month: str | None = None,
    end_month: str | None = None,
    min_visits: int | None = None,
) -> dict[str, Any]:
    """Delivery of the cocoon visits (the known failure: visits that never happen).

    Definitions (per member burglary reported by ``as_of``; only burglaries whose visit
    deadline has passed, ``reported + visit_hours <= as_of``, are judged):

    * **started on time**: at least one of its visits has an outcome recorded at or before its
      deadline (48 hours after the report by default);
    * **completed**: every visit planned for it has an outcome by ``as_of`` (or at least
      ``min_visits`` of them when given); **completed on time**: the same, by the deadline;
    * any outcome counts as done (a "no answer" call was still made); **reached** counts the
      visits that spoke to a resident or left advice.

    Returns
    -------
    dict
        ``burglaries, judged, in_progress, started_on_time, share_started_on_time, completed,
        share_completed, completed_on_time, share_completed_on_time, visits_planned,
        visits_done, visits_reached, share_reached, visits_no_answer, visits_declined,
        visits_pending, visits_overdue, deadline_hours, min_visits, timing, definitions``;
        shares are ``None`` when nothing is judged yet.
    """
    as_of_u = _utc(as_of)
    start_month = check_month(start_month, "start_month")
    end_month = check_month(end_month, "end_month")
    if min_visits is not None and (not isinstance(min_visits, int) or min_visits < 1):
        raise InputError(f"min_visits must be a whole number >= 1, got {min_visits!r}")
    v, m = CocoonVisit, CocoonMember
    done = v.outcome.is_not(None) & v.visited_at.is_not(None) & (v.visited_at <= as_of_u)

    def n_if(cond):
        return func.sum(case((cond, 1), else_=0))

    with _begin(bind) as conn:
        ds = _dataset(conn, dataset)
        # One row per member burglary, aggregated in SQL (never one row per visit in Python).
        q = (select(m.id, m.time_precision, func.count(v.id), n_if(done),
                    n_if(done & (v.visited_at <= v.due_at)), func.max(v.due_at),
                    n_if(done & v.outcome.in_(REACHED)), n_if(done & (v.outcome == "no-answer")),
                    n_if(done & (v.outcome == "declined")),
                    n_if(~done & (v.due_at < as_of_u)))
             .join(v, v.member_id == m.id)
             .join(Cocoon, Cocoon.id == m.cocoon_id)
             .where(m.dataset_id == ds.id, m.reported_at <= as_of_u)
             .group_by(m.id, m.time_precision))
        if start_month:
            q = q.where(m.month >= start_month)
        if end_month:
            q = q.where(m.month <= end_month)
        rows = conn.execute(q).all()
        hours = sorted({float(h) for h in conn.execute(
            select(Cocoon.visit_hours).where(Cocoon.dataset_id == ds.id).distinct()).scalars()})
    per = _frame(rows, columns=["member", "precision", "planned", "done", "on_time", "due",
                                "reached", "no_answer", "declined", "overdue"])
    for col in ("planned", "done", "on_time", "reached", "no_answer", "declined", "overdue"):
        per[col] = pd.to_numeric(per[col]).fillna(0).astype(np.int64)
    per["due"] = pd.to_datetime(per["due"])
    need = per["planned"] if min_visits is None else np.minimum(per["planned"], min_visits)
    is_judged = (per["due"] <= as_of_u).to_numpy(bool)
    judged = per[is_judged]
    need_j = need[is_judged]
    started = int((judged["on_time"] > 0).sum())
    completed = int((judged["done"] >= need_j).sum())
    completed_ot = int((judged["on_time"] >= need_j).sum())
    n_j = len(judged)
    n_planned = int(per["planned"].sum())
    n_done = int(per["done"].sum())
    n_reached = int(per["reached"].sum())

    def share(k: int, n: int) -> float | None:
        return None if n == 0 else round(k / n, 4)

    dl = "/".join(f"{h:g}" for h in hours) or f"{DEFAULT_VISIT_HOURS:g}"
    return {
        "dataset": ds.name, "as_of": _iso(as_of_u),
        "period": [start_month, end_month],
        "burglaries": int(len(per)), "judged": n_j, "in_progress": int(len(per) - n_j),
        "started_on_time": started, "share_started_on_time": share(started, n_j),
        "completed": completed, "share_completed": share(completed, n_j),
        "completed_on_time": completed_ot, "share_completed_on_time": share(completed_ot, n_j),
        "visits_planned": n_planned, "visits_done": n_done,
        "visits_reached": n_reached, "share_reached": share(n_reached, n_done),
        "visits_no_answer": int(per["no_answer"].sum()),
        "visits_declined": int(per["declined"].sum()),
        "visits_pending": n_planned - n_done, "visits_overdue": int(per["overdue"].sum()),
        "deadline_hours": hours or [DEFAULT_VISIT_HOURS], "min_visits": min_visits,
        "timing": _timing(list(per["precision"].unique())) if len(per) else None,
        "definitions": {
            "judged": f"burglaries whose {dl}-hour visit deadline had passed by as_of",
            "started_on_time": f"judged burglaries with at least one visit outcome recorded "
                               f"within {dl} hours of the report",
            "completed": ("judged burglaries with every planned visit done by as_of"
                          if min_visits is None else
                          f"judged burglaries with at least {min_visits} visits done "
                          "(or all, when fewer were planned) by as_of"),
            "done": "any outcome recorded (spoke, advice, no-answer, declined)",
            "reached": "outcome spoke or advice",
        },
    }


def default_as_of(bind: Engine | Connection, *, dataset: str, now: datetime) -> tuple[datetime, str]:
    """The "as of" time the CLI uses when none is given: ``now``, or the end of the latest loaded
    month when the data stop before ``now`` (historical data).

    Returns
    -------
    (datetime, str)
        Aware UTC datetime and a sentence explaining the choice.
    """
    now_u = _utc(now, "now")
    with _begin(bind) as conn:
        ds = _dataset(conn, dataset)
        last = conn.execute(select(func.max(Event.month))
                            .where(Event.dataset_id == ds.id)).scalar()
    if last is None:
        return now_u.replace(tzinfo=UTC), "now (the dataset has no events)"
    end_local = pd.Period(last, freq="M").end_time.normalize() + pd.Timedelta(days=1)
    end_u = _to_utc_naive(pd.DatetimeIndex([end_local]), ds.timezone)[0].to_pydatetime()
    if end_u < now_u:
        return end_u.replace(tzinfo=UTC), (
            f"end of {last}, the latest month loaded for {ds.name} (the data stop before now; "
            "pass --as-of to choose another time)")
    return now_u.replace(tzinfo=UTC), "now"


def cocoon_section_data(engine: Engine | Connection, *, dataset: str, as_of: datetime,
                        overdue_limit: int = 50) -> dict[str, Any]:
    """Everything the monthly briefing shows about cocoons for one dataset.

    Returns
    -------
    dict
        ``dataset, as_of, timezone, crs, timing, timing_note, burglary_basis, parameters``
        (distinct radius/window/source in use), ``cocoons`` (live ones: ref, centre, radius,
        members, near repeats, next due, ends, status, owner, places count, zone area, why),
        ``overdue`` (oldest first, at most ``overdue_limit``), ``overdue_count``,
        ``delivery`` (:func:`delivery_figures`) and ``caveats``.
    """
    as_of_u = _utc(as_of)
    with _begin(engine) as conn:
        ds = _dataset(conn, dataset)
        live = list_cocoons(conn, as_of=as_of, dataset=ds.name, statuses=LIVE_STATUSES)
        n_over: list[int] = []
        over = overdue_visits(conn, as_of=as_of, dataset=ds.name, limit=overdue_limit,
                              count_only=n_over)
        delivery = delivery_figures(conn, dataset=ds.name, as_of=as_of)
        params = conn.execute(select(Cocoon.radius_m, Cocoon.window_days, Cocoon.visit_hours,
                                     Cocoon.params_source).where(Cocoon.dataset_id == ds.id)
                              .distinct()).all()
        precisions = list(conn.execute(select(CocoonMember.time_precision).where(
            CocoonMember.dataset_id == ds.id).distinct()).scalars())
        dwell = conn.execute(select(func.count()).select_from(Event).where(
            Event.dataset_id == ds.id, Event.category == "Burglary",
            Event.dwelling.is_(None))).scalar_one()
        members = _members_frame(conn, [c["id"] for c in live], as_of_u)
        places = _places_near(conn, ds.id, members) if live else None
    stats = _zone_stats(members, places) if live else pd.DataFrame()
    cocoons = []
    for c in live:
        has = c["id"] in stats.index
        cocoons.append({
            "ref": c["ref"], "id": c["id"], "status": c["status"], "owner": c["owner"],
            "centre": {"x": c["centre_x"], "y": c["centre_y"], "lon": c["lon"], "lat": c["lat"]},
            "radius_m": c["radius_m"], "window_days": c["window_days"],
            "members": c["members"], "near_repeats": c["near_repeats"],
            "opened_at": c["opened_at"], "due": c["next_due_at"], "ends_at": c["ends_at"],
            "visits_planned": c["visits_planned"], "visits_done": c["visits_done"],
            "visits_overdue": c["visits_overdue"],
            "places": int(stats.at[c["id"], "places"]) if has else 0,
            "zone_km2": round(float(stats.at[c["id"], "area_m2"]) / 1e6, 3) if has else 0.0,
            "params_source": c["params_source"],
            "timing": c["timing"], "why": c["why"],
        })
    precision = _coarsest(precisions) if precisions else "minute"
    caveats = [TIMING_NOTE[precision]] if precisions else []
    basis = ("Burglary with the dwelling flag true or unknown (police.uk 'Burglary' mixes "
             "dwelling and non-dwelling burglary: treated as residential-or-unknown)"
             if dwell else "dwelling burglary (dwelling flag true)")
    if dwell:
        caveats.append("police.uk does not say which burglaries were of dwellings: every "
                       "'Burglary' is cocooned (residential-or-unknown).")
    if ds.kind == "police.uk":
        caveats.append("places are police.uk anonymised map points (each stands for a street "
                       "segment, not one address); supply an address file for door-level lists.")
    return {
        "dataset": ds.name, "as_of": _iso(as_of_u), "timezone": ds.timezone, "crs": ds.crs,
        "timing": TIMING[precision] if precisions else None,
        "timing_note": TIMING_NOTE[precision] if precisions else None,
        "burglary_basis": basis,
        "parameters": [{"radius_m": r, "window_days": w, "visit_hours": h, "source": s}
                       for r, w, h, s in params],
        "cocoons": cocoons,
        "overdue": over, "overdue_count": n_over[0], "overdue_total": n_over[0],
        "overdue_shown": len(over),
        "delivery": delivery, "caveats": caveats,
    }
