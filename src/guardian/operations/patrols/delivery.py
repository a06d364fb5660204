"""Logging patrol visits, a plan's delivered dosage, and the monthly briefing's patrol section.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, and_, func, insert, select

from guardian.errors import Conflict, InputError, NotFound
from guardian.operations.patrols.models import PatrolDay, PatrolPlan, PatrolSpot, PatrolVisit
from guardian.operations.patrols.planning import (
    DAYS_PER_WEEK,
    INTERACTIONS,
    KOPER_MAX_MINUTES,
    KOPER_MIN_MINUTES,
    MAX_VISIT_MINUTES,
    dosage,
    in_koper_band,
)
from guardian.operations.patrols.plans import _plan_header
from guardian.operations.patrols.queries import _dataset, _days_frame, _load_plan, _visits_frame
from guardian.operations.patrols.rules import (
    _check_officer,
    _int,
    _iso_local,
    _local,
    _now,
    _to_utc_naive,
    plan_ref,
)
from guardian.store.db import begin as _begin


def log_visit(
    bind: Engine | Connection,
    *,
    plan_id: int | str,
    spot: int,
    start: datetime | str,
    end: datetime | str,
    officer: str,
    business_checks: int = 0,
    stop_search: int = 0,
    engagements: int = 0,
    arrests: int = 0,
    weapons_found: int = 0,
) -> dict[str, Any]:
    """Log one patrol visit to a spot of a plan.

    Parameters
    ----------
    plan_id : int or "P-<id>"
    spot : int
        The spot's rank in the plan (1 = most harm), as printed by the plan.
    start, end : datetime or ISO text
        Naive values are local time in the dataset's timezone; aware values are converted.
    officer : str
        Collar number or team (never a member of the public's name).
    business_checks, stop_search, engagements, arrests, weapons_found : int
        Counts (>= 0) of interactions during the visit.

    Returns
    -------
    dict
        ``id, plan, spot, day, start, end`` (local ISO), ``minutes, koper`` (10-20 minutes),
        ``arm`` and ``contamination`` (True on a control day) with a ``warning`` then.

    Raises
    ------
    NotFound
        Unknown plan or spot.
    InputError
        End not after start, a visit over 12 hours, a start outside the plan week, a bad
        officer string or a negative count.
    Conflict
        The same officer already has a visit overlapping this one.
    """
    if isinstance(spot, str) and spot.strip().isdigit():
        spot = int(spot.strip())
    spot_rank = _int(spot, "spot (its rank in the plan)", 1, 10_000)
    who = _check_officer(officer)
    counts = {name: _int(v, name, 0, 10_000) for name, v in (
        ("business_checks", business_checks), ("stop_search", stop_search),
        ("engagements", engagements), ("arrests", arrests), ("weapons_found", weapons_found))}
    with _begin(bind) as conn:
        p = _load_plan(conn, plan_id)
        srow = conn.execute(select(PatrolSpot.id, PatrolSpot.rank).where(
            PatrolSpot.plan_id == p.id, PatrolSpot.rank == spot_rank)).first()
        if srow is None:
            n = conn.execute(select(func.max(PatrolSpot.rank)).where(
                PatrolSpot.plan_id == p.id)).scalar() or 0
            raise NotFound(f"plan {plan_ref(p.id)} has spots 1-{n}; there is no spot {spot_rank}")
        tz = p.timezone
        s_u = _to_utc_naive(start, tz, "start")
        e_u = _to_utc_naive(end, tz, "end")
        if e_u <= s_u:
            raise InputError(f"end {_iso_local(e_u, tz)} is not after start {_iso_local(s_u, tz)}; "
                             "give the time the visit ended (it must be later than the start)")
        mins = (e_u - s_u).total_seconds() / 60.0
        if mins > MAX_VISIT_MINUTES:
            raise InputError(f"the visit lasts {mins / 60:.1f} hours (start {_iso_local(s_u, tz)}, "
                             f"end {_iso_local(e_u, tz)}); a hot-spot visit is about 15 minutes "
                             f"and at most {MAX_VISIT_MINUTES / 60:g} hours are accepted: check "
                             "the end date")
        day = _local(s_u, tz).date()
        week0 = p.week_start if isinstance(p.week_start, date) else date.fromisoformat(str(p.week_start))
        week_end = week0 + timedelta(days=DAYS_PER_WEEK - 1)
        if not week0 <= day <= week_end:
            raise InputError(f"the visit starts on {day} ({_iso_local(s_u, tz)}), outside plan "
                             f"{plan_ref(p.id)}'s week {week0}..{week_end}; log it against the "
                             "plan for that week")
        clash = conn.execute(select(PatrolVisit.id, PatrolVisit.start_at, PatrolVisit.end_at,
                                    PatrolSpot.rank).join(PatrolSpot,
                                                          PatrolVisit.spot_id == PatrolSpot.id)
                             .where(PatrolVisit.plan_id == p.id, PatrolVisit.officer == who,
                                    PatrolVisit.start_at < e_u, PatrolVisit.end_at > s_u)).first()
        if clash is not None:
            raise Conflict(f"{who} already has visit {clash.id} at spot {clash.rank} from "
                           f"{_iso_local(clash.start_at, tz)} to {_iso_local(clash.end_at, tz)}, "
                           "overlapping this one (logged twice?)")
        arm = conn.execute(select(PatrolDay.arm).where(PatrolDay.spot_id == srow.id,
                                                       PatrolDay.day == day)).scalar_one()
        vid = conn.execute(insert(PatrolVisit).values(
            plan_id=p.id, spot_id=srow.id, day=day, start_at=s_u, end_at=e_u, officer=who,
            logged_at=_now(), **counts).returning(PatrolVisit.id)).scalar_one()
    out = {"id": vid, "plan": plan_ref(p.id), "spot": spot_rank, "day": day.isoformat(),
           "start": _iso_local(s_u, tz), "end": _iso_local(e_u, tz), "officer": who,
           "minutes": round(mins, 2), "koper": bool(in_koper_band(mins)), "arm": arm,
           "contamination": arm == "control", **counts}
    if arm == "control":
        out["warning"] = (f"{day} is a control day for spot {spot_rank}: this visit is logged as "
                          "contamination of the design")
    return out


def plan_dosage(bind: Engine | Connection, *, plan_id: int | str,
                as_of: datetime | None = None) -> dict[str, Any]:
    """Delivered dosage of a plan against what it planned.

    Parameters
    ----------
    plan_id : int or "P-<id>"
    as_of : datetime, optional
        Count only visits that started before this time (aware; default: all).

    Returns
    -------
    dict
        ``plan`` (header), ``status`` (upcoming / in progress / ended at ``as_of``),
        ``totals`` (visits planned / delivered / credited, completion, minutes planned /
        delivered, Koper share, contamination, interactions), ``spots`` (per spot),
        ``days`` (per spot and day: planned and delivered minutes and visits), ``visits``
        (the log, with minutes, Koper flag, arm and contamination) and ``definitions``.
    """
    before = None
    if as_of is not None:
        if not isinstance(as_of, datetime) or as_of.tzinfo is None:
            raise InputError(f"as_of must be an aware datetime, got {as_of!r}")
        before = as_of.astimezone(UTC).replace(tzinfo=None)
    with _begin(bind) as conn:
        p = _load_plan(conn, plan_id)
        planned = _days_frame(conn, p.id)
        visits = _visits_frame(conn, p.id, before)
    today = None if as_of is None else pd.Timestamp(as_of).tz_convert(p.timezone).date()
    res = dosage(planned, visits, days_before=today)
    header = _plan_header(p)
    arms = planned.set_index(["spot", "day"])["arm"] if len(planned) else pd.Series(dtype=str)
    vis = []
    for r in visits.itertuples(index=False):
        arm = str(arms.get((r.spot, r.day), "patrol"))
        vis.append({"id": int(r.id), "spot": int(r.spot), "day": r.day.isoformat(),
                    "start": _iso_local(r.start_at.to_pydatetime(), p.timezone),
                    "end": _iso_local(r.end_at.to_pydatetime(), p.timezone),
                    "officer": r.officer, "minutes": round(float(r.minutes), 2),
                    "koper": bool(in_koper_band(r.minutes)), "arm": arm,
                    "contamination": arm == "control",
                    **{c: int(getattr(r, c)) for c in INTERACTIONS}})
    week0 = date.fromisoformat(header["week_start"])
    status = "recorded"
    if today is not None:
        local_day = today
        if local_day < week0:
            status = "upcoming"
        elif local_day <= week0 + timedelta(days=DAYS_PER_WEEK - 1):
            status = f"in progress (day {(local_day - week0).days + 1} of {DAYS_PER_WEEK})"
        else:
            status = "ended"
    days = res.days.copy()
    days["day"] = days["day"].map(lambda d: d.isoformat())
    spots = res.spots.copy()
    spots["completion"] = spots["completion"].astype(object).where(spots["completion"].notna(),
                                                                   None)
    warnings_ = []
    if res.totals["contamination_visits"]:
        bad = sorted({(v["spot"], v["day"]) for v in vis if v["contamination"]})
        warnings_.append(f"{res.totals['contamination_visits']} visit(s) on control days "
                         "(contamination): " + ", ".join(f"spot {s} on {d}" for s, d in bad))
    return {
        "plan": header, "status": status, "as_of": None if as_of is None else as_of.isoformat(),
        "totals": res.totals, "spots": spots.rename(columns={"spot": "rank"}).to_dict("records"),
        "days": days.rename(columns={"spot": "rank"}).to_dict("records"), "visits": vis,
        "warnings": warnings_,
        "definitions": {
            "minutes": "end - start of each logged visit",
            "visits_delivered": "visits logged on the spot's patrol days",
            "visits_credited": "per spot-day, min(visits logged, visits planned): extra visits "
                               "on one day do not make up for a missed one",
            "completion": "visits credited / visits planned",
            "completion_to_date": "the same over the days before as_of's local date (weeks in "
                                  "progress)",
            "koper_share": f"share of all logged visits lasting {KOPER_MIN_MINUTES:g}-"
                           f"{KOPER_MAX_MINUTES:g} minutes inclusive (Koper 1995)",
            "contamination": "visits logged on a spot's control day",
        },
    }


def patrol_section_data(engine: Engine | Connection, *, dataset: str, as_of: datetime,
                        period_days: int = 28) -> dict[str, Any]:
    """What the monthly briefing shows about hot-spot patrols for one dataset.

    Plans whose week overlaps ``[as_of - period_days, as_of + 7 days)`` (the last month's
    plans and next week's), each with delivered dosage against plan counting visits that
    started before ``as_of``.

    Parameters
    ----------
    dataset : str
        Exact dataset name.
    as_of : datetime
        Aware "as of" time of the briefing.
    period_days : int
        How far back, in days (default 28).

    Returns
    -------
    dict
        ``dataset, as_of, period`` ``{start, end}`` (local dates), ``plans`` (one per plan:
        ``ref, district, week_start, week_end, status, design, seed, spots, share_harm,
        share_area, harm_basis, precision, peak_hours, totals``), ``totals`` (summed over
        plans), ``caveats``.
    """
    if not isinstance(as_of, datetime) or as_of.tzinfo is None:
        raise InputError(f"as_of must be an aware datetime, got {as_of!r}")
    pdays = _int(period_days, "period_days", 1, 366)
    with _begin(engine) as conn:
        ds = _dataset(conn, dataset)
        local = pd.Timestamp(as_of).tz_convert(ds.timezone).date()
        lo = local - timedelta(days=pdays)
        hi = local + timedelta(days=DAYS_PER_WEEK)
        ids = list(conn.execute(select(PatrolPlan.id).where(
            PatrolPlan.dataset_id == ds.id,
            and_(PatrolPlan.week_start > lo - timedelta(days=DAYS_PER_WEEK),
                 PatrolPlan.week_start < hi))
            .order_by(PatrolPlan.week_start, PatrolPlan.district, PatrolPlan.id)).scalars())
        plans = [plan_dosage(conn, plan_id=i, as_of=as_of) for i in ids]
    out_plans = []
    keys = ("visits_planned", "visits_delivered", "visits_credited", "visits_logged",
            "koper_visits", "contamination_visits")
    totals: dict[str, Any] = {k: 0 for k in keys}
    totals["minutes_planned"] = 0.0
    totals["minutes_delivered"] = 0.0
    caveats: list[str] = []
    for d in plans:
        h, t = d["plan"], d["totals"]
        out_plans.append({
            "ref": h["ref"], "id": h["id"], "district": h["district"],
            "week_start": h["week_start"], "week_end": h["week_end"], "status": d["status"],
            "design": h["parameters"]["design"], "patrol_days": h["parameters"]["patrol_days"],
            "seed": h["parameters"]["seed"], "spots": h["targeting"]["spots_found"],
            "share_harm": h["targeting"]["share_harm"],
            "share_area": h["targeting"]["share_area"], "sentence": h["targeting"]["sentence"],
            "harm_basis": h["targeting"]["harm_basis"], "precision": h["targeting"]["precision"],
            "peak_hours": h["peak_hours"], "totals": t, "warnings": d["warnings"],
        })
        for k in keys:
            totals[k] += int(t[k])
        totals["minutes_planned"] += float(t["minutes_planned"])
        totals["minutes_delivered"] += float(t["minutes_delivered"])
        for note in (h["targeting"]["excluded_note"],
                     "spots are " + h["targeting"]["location_note"]):
            if note not in caveats:
                caveats.append(note)
        if not h["hours"].get("known") and h["hours"].get("note") not in caveats:
            caveats.append(h["hours"]["note"])
    totals["visits_planned_to_date"] = sum(int(d["totals"]["visits_planned_to_date"])
                                           for d in plans)
    credited_to_date = sum(int(d["totals"]["visits_credited_to_date"]) for d in plans)
    totals["completion_to_date"] = (credited_to_date / totals["visits_planned_to_date"]
                                    if totals["visits_planned_to_date"] else None)
    totals["completion"] = (totals["visits_credited"] / totals["visits_planned"]
                            if totals["visits_planned"] else None)
    totals["koper_share"] = (totals["koper_visits"] / totals["visits_logged"]
                             if totals["visits_logged"] else None)
    return {
        "dataset": ds.name, "as_of": as_of.isoformat(),
        "period": {"start": lo.isoformat(), "end": hi.isoformat()},
        "plans": out_plans, "totals": totals, "caveats": caveats,
    }
