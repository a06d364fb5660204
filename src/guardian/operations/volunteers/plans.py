"""The monthly mobilisation plan: build the problem from the registry, availability and demand,
solve it (CP-SAT, or the greedy baseline), store it, show it as a district x day grid, re-solve
after a drop-out, publish it as tasks, and count volunteer hours for the board report.

Every function is keyword-only, takes an Engine (one transaction per call) or a Connection (the
caller's transaction) and raises :mod:`guardian.errors` domain errors.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, func, insert, select

from guardian.analysis.mobilise import (
    BANDS,
    Assignment,
    Problem,
    Rules,
    Slot,
    Volunteer,
    check_plan,
    greedy_plan,
    solve,
)
from guardian.analysis.mobilise.problem import BAND_START_H, SHIFT_HOURS
from guardian.errors import InputError, NotFound
from guardian.operations.volunteers.availability import month_days
from guardian.operations.volunteers.demand import district_demand
from guardian.operations.volunteers.models import (
    Availability,
    MobiliseAssignment,
    MobilisePlan,
    MobiliseSlot,
)
from guardian.operations.volunteers.models import Volunteer as Person
from guardian.operations.volunteers.registry import accredited_until, parse_ref, volunteer_ref
from guardian.store.db import read_connection, write_begin
from guardian.store.models import Dataset

METHODS = ("cp-sat", "greedy")
_PLAN_REF = re.compile(r"^\s*[Mm]?-?(\d+)\s*$")


def plan_ref(plan_id: int) -> str:
    return f"M-{plan_id}"


def parse_plan_ref(value: Any) -> int:
    m = _PLAN_REF.match(str(value))
    if not m:
        raise InputError(f"plan {value!r}: expected M-<number>")
    return int(m.group(1))


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _people(conn: Connection, districts: set[str]) -> tuple[list[Volunteer], dict[str, int]]:
    rows = conn.execute(select(Person.__table__).where(Person.active.is_(True))
                        .order_by(Person.id)).all()
    out, ids = [], {}
    for r in rows:
        ds = tuple(d for d in (r.district, *(r.also_districts or [])) if d in districts)
        if not ds:
            continue
        ref = volunteer_ref(r.id)
        out.append(Volunteer(
            ref=ref, kind=r.kind, districts=ds, skills=frozenset(r.skills or []),
            accredited_until=accredited_until(r.accredited_on, r.accreditation_expiry),
            date_of_birth=r.date_of_birth, needs_supervision=bool(r.needs_supervision),
            max_shifts=r.max_shifts, max_hours=r.max_hours))
        ids[ref] = r.id
    return out, ids


def build_problem(bind: Engine | Connection, *, dataset: str, month: str, rules: Rules,
                  need: int = 4, min_people: int = 2, max_people: int = 6,
                  skills: tuple[str, ...] = (), lookback_months: int = 12,
                  calendar=None, districts: list[str] | None = None
                  ) -> tuple[Problem, list[str], dict[str, int]]:
    """The month's :class:`~guardian.analysis.mobilise.Problem` from the store, the demand basis
    sentences and volunteer ref -> registry id."""
    frame, basis = district_demand(bind, dataset=dataset, month=month,
                                   lookback_months=lookback_months, calendar=calendar,
                                   districts=districts)
    slots = tuple(Slot(r.district, r.day, int(r.band), demand=round(float(r.demand), 4),
                       need=need, min_people=min_people, max_people=max_people,
                       skills=tuple(skills), reason=r.reason)
                  for r in frame.itertuples())
    days = month_days(month)
    with read_connection(bind) as conn:
        people, ids = _people(conn, {s.district for s in slots})
        rev = {v: k for k, v in ids.items()}
        av = conn.execute(select(Availability.volunteer_id, Availability.day, Availability.band)
                          .where(Availability.day >= days[0], Availability.day <= days[-1])).all()
    available = frozenset((rev[r.volunteer_id], r.day, r.band) for r in av
                          if r.volunteer_id in rev)
    basis.append(f"{len(people)} active volunteers in these districts, {len(available)} free "
                 "shifts")
    return Problem(tuple(people), slots, available, rules), basis, ids


def _rules(**kw) -> Rules:
    return Rules(**{k: v for k, v in kw.items() if v is not None})


def create_plan(bind: Engine | Connection, *, dataset: str, month: str,
                method: str = "cp-sat", need: int = 4, min_people: int = 2,
                max_people: int = 6, max_shifts: int | None = None,
                max_hours: int | None = None, rest_hours: int | None = None,
                under18_max_hours: int | None = None, fairness_weight: float | None = None,
                lookback_months: int = 12, calendar=None, districts: list[str] | None = None,
                time_limit_s: float = 60.0, created_by: str = "",
                random_state: int = 0) -> dict[str, Any]:
    """Plan ``month`` for the volunteers of ``dataset``'s districts and store it.

    Parameters
    ----------
    method : {"cp-sat", "greedy"}
    need : int
        People per deployment that fully cover its demand.
    min_people, max_people : int
        Staffing of a deployment that goes ahead.
    max_shifts, max_hours, rest_hours, under18_max_hours, fairness_weight
        Rules (defaults: :class:`~guardian.analysis.mobilise.Rules`).
    time_limit_s : float
        CP-SAT's limit in seconds.

    Returns
    -------
    dict
        :func:`get_plan` of the stored plan.
    """
    if method not in METHODS:
        raise InputError(f"method {method!r} is not one of {list(METHODS)}")
    for name, v, lo, hi in (("need", need, 1, 50), ("min_people", min_people, 1, 50),
                            ("max_people", max_people, 1, 50)):
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise InputError(f"{name} must be a whole number {lo}-{hi}, got {v!r}")
    rules = _rules(max_shifts=max_shifts, max_hours=max_hours, rest_hours=rest_hours,
                   under18_max_hours=under18_max_hours, fairness_weight=fairness_weight)
    problem, basis, ids = build_problem(
        bind, dataset=dataset, month=month, rules=rules, need=need, min_people=min_people,
        max_people=max_people, lookback_months=lookback_months, calendar=calendar,
        districts=districts)
    plan = (solve(problem, time_limit_s=time_limit_s, random_state=random_state)
            if method == "cp-sat" else greedy_plan(problem))
    return _store(bind, dataset=dataset, month=month, problem=problem, plan=plan, basis=basis,
                  ids=ids, created_by=created_by, parent=None)


def _store(bind, *, dataset, month, problem: Problem, plan, basis, ids, created_by, parent,
           extra: dict | None = None) -> dict[str, Any]:
    broken = check_plan(problem, plan.assignments)
    if broken:  # the solvers keep every rule; a break here is a bug, never stored
        raise RuntimeError(f"plan breaks rules: {broken[:3]}")
    by_slot = defaultdict(int)
    for a in plan.assignments:
        by_slot[a.key] += 1
    summary = {"assignments": len(plan.assignments), "volunteers": len(problem.volunteers),
               "free_shifts": len(problem.available),
               "deployments": sum(1 for s in problem.slots if by_slot[s.key]),
               "slots": len(problem.slots), "coverage_share": plan.coverage_share,
               **(extra or {})}
    with write_begin(bind) as conn:
        ds = conn.execute(select(Dataset.id).where(Dataset.name == dataset)).first()
        pid = conn.execute(insert(MobilisePlan).values(
            dataset_id=ds.id, month=month, parent_id=parent, created_at=_now(),
            created_by=created_by or "", status=plan.status, method=plan.method,
            objective=int(plan.objective), bound=plan.bound, gap=plan.gap,
            coverage=float(plan.coverage), demand=float(plan.demand), seconds=plan.seconds,
            rules=asdict(problem.rules), basis=list(basis), blocked_by=list(plan.blocked_by),
            explanation=plan.explanation, summary=summary)
            .returning(MobilisePlan.id)).scalar_one()
        conn.execute(insert(MobiliseSlot), [dict(
            plan_id=pid, district=s.district, day=s.day, band=s.band, demand=s.demand,
            need=s.need, min_people=s.min_people, max_people=s.max_people, required=s.required,
            reason=s.reason) for s in problem.slots])
        if plan.assignments:
            conn.execute(insert(MobiliseAssignment), [dict(
                plan_id=pid, volunteer_id=ids[a.volunteer], district=a.district, day=a.day,
                band=a.band, why=a.why, fixed=a.fixed) for a in plan.assignments])
    return get_plan(bind, plan_id=pid)


def _load(conn: Connection, plan_id: Any):
    pid = parse_plan_ref(plan_id)
    p = conn.execute(select(MobilisePlan.__table__, Dataset.name.label("dataset"),
                            Dataset.timezone).join(Dataset, Dataset.id == MobilisePlan.dataset_id)
                     .where(MobilisePlan.id == pid)).first()
    if p is None:
        raise NotFound(f"no mobilisation plan {plan_ref(pid)}; see `guardian mobilise show`")
    return p


def get_plan(bind: Engine | Connection, *, plan_id: Any) -> dict[str, Any]:
    """A stored plan: header, the district x day x band grid (demand, people, coverage), the
    gaps (deployments with demand left uncovered, most demanding first) and assignments."""
    with read_connection(bind) as conn:
        p = _load(conn, plan_id)
        slots = conn.execute(select(MobiliseSlot.__table__).where(
            MobiliseSlot.plan_id == p.id)).all()
        assigns = conn.execute(
            select(MobiliseAssignment.__table__, Person.name, Person.kind)
            .join(Person, Person.id == MobiliseAssignment.volunteer_id)
            .where(MobiliseAssignment.plan_id == p.id)
            .order_by(MobiliseAssignment.day, MobiliseAssignment.band,
                      MobiliseAssignment.district, MobiliseAssignment.volunteer_id)).all()
    people: dict[tuple, list] = defaultdict(list)
    for a in assigns:
        people[(a.district, a.day, a.band)].append(volunteer_ref(a.volunteer_id))
    grid = []
    for s in sorted(slots, key=lambda s: (s.district, s.day, s.band)):
        n = len(people[(s.district, s.day, s.band)])
        covered = s.demand * min(n, s.need) / s.need
        grid.append({"district": s.district, "day": s.day.isoformat(), "band": s.band,
                     "band_label": BANDS[s.band], "demand": s.demand, "need": s.need,
                     "people": n, "covered": covered, "uncovered": s.demand - covered,
                     "reason": s.reason, "volunteers": people[(s.district, s.day, s.band)]})
    districts = sorted({g["district"] for g in grid})
    by_d = {d: {"district": d, "demand": 0.0, "covered": 0.0, "shifts": 0} for d in districts}
    for g in grid:
        by_d[g["district"]]["demand"] += g["demand"]
        by_d[g["district"]]["covered"] += g["covered"]
        by_d[g["district"]]["shifts"] += g["people"]
    for d in by_d.values():
        d["share"] = d["covered"] / d["demand"] if d["demand"] > 0 else 0.0
        d["hours"] = d["shifts"] * SHIFT_HOURS
    gaps = sorted((g for g in grid if g["uncovered"] > 1e-9),
                  key=lambda g: -g["uncovered"])[:30]
    return {
        "ref": plan_ref(p.id), "id": p.id, "dataset": p.dataset, "month": p.month,
        "timezone": p.timezone or "Europe/London",
        "parent": plan_ref(p.parent_id) if p.parent_id else None,
        "created_at": p.created_at.isoformat(), "created_by": p.created_by,
        "status": p.status, "method": p.method, "objective": p.objective, "bound": p.bound,
        "gap": p.gap, "coverage": p.coverage, "demand": p.demand,
        "coverage_share": p.coverage / p.demand if p.demand else 0.0,
        "seconds": p.seconds, "rules": p.rules, "basis": p.basis,
        "blocked_by": p.blocked_by, "explanation": p.explanation, "summary": p.summary,
        "days": [d.isoformat() for d in month_days(p.month)], "districts": districts,
        "by_district": list(by_d.values()), "grid": grid, "gaps": gaps,
        "assignments": [{"volunteer": volunteer_ref(a.volunteer_id), "name": a.name,
                         "kind": a.kind, "district": a.district, "day": a.day.isoformat(),
                         "band": a.band, "band_label": BANDS[a.band], "why": a.why,
                         "fixed": bool(a.fixed)} for a in assigns],
    }


def list_plans(bind: Engine | Connection, *, month: str | None = None) -> list[dict[str, Any]]:
    """Plans, newest first: ref, month, dataset, status, method, coverage share."""
    q = select(MobilisePlan.id, MobilisePlan.month, MobilisePlan.status, MobilisePlan.method,
               MobilisePlan.coverage, MobilisePlan.demand, MobilisePlan.parent_id,
               MobilisePlan.created_at, Dataset.name).join(
        Dataset, Dataset.id == MobilisePlan.dataset_id).order_by(MobilisePlan.id.desc())
    if month:
        q = q.where(MobilisePlan.month == month)
    with read_connection(bind) as conn:
        rows = conn.execute(q).all()
    return [{"ref": plan_ref(r.id), "month": r.month, "dataset": r.name, "status": r.status,
             "method": r.method, "coverage_share": r.coverage / r.demand if r.demand else 0.0,
             "parent": plan_ref(r.parent_id) if r.parent_id else None,
             "created_at": r.created_at.isoformat()} for r in rows]


def resolve_plan(bind: Engine | Connection, *, plan_id: Any, drop: list[Any],
                 time_limit_s: float = 60.0, created_by: str = "") -> dict[str, Any]:
    """Re-solve a plan after volunteers drop out.

    The dropped volunteers are excluded; every other assignment is fixed except those in the
    deployments a dropped volunteer was in (those are re-planned, so that, for example, cadets
    whose supervising Special dropped out can be moved or given another). Stored as a new plan
    whose ``parent`` is the old one.
    """
    drop_ids = [parse_ref(r) for r in drop]
    if not drop_ids:
        raise InputError("name at least one volunteer who dropped out (V-<number>)")
    old = get_plan(bind, plan_id=plan_id)
    drop_refs = {volunteer_ref(i) for i in drop_ids}
    unknown = drop_refs - {a["volunteer"] for a in old["assignments"]}
    if unknown:
        raise InputError(f"{sorted(unknown)} have no shift in {old['ref']}")
    r = old["rules"]
    rules = Rules(**r)
    with read_connection(bind) as conn:
        slot_rows = conn.execute(select(MobiliseSlot.__table__).where(
            MobiliseSlot.plan_id == old["id"])).all()
        people, ids = _people(conn, {s.district for s in slot_rows})
        rev = {v: k for k, v in ids.items()}
        days = month_days(old["month"])
        av = conn.execute(select(Availability.volunteer_id, Availability.day, Availability.band)
                          .where(Availability.day >= days[0], Availability.day <= days[-1])).all()
    slots = tuple(Slot(s.district, s.day, s.band, demand=s.demand, need=s.need,
                       min_people=s.min_people, max_people=s.max_people, required=s.required,
                       reason=s.reason) for s in slot_rows)
    available = frozenset((rev[a.volunteer_id], a.day, a.band) for a in av
                          if a.volunteer_id in rev)
    problem = Problem(tuple(people), slots, available, rules)
    prev = [Assignment(a["volunteer"], a["district"], date.fromisoformat(a["day"]), a["band"])
            for a in old["assignments"]]
    hit = {a.key for a in prev if a.volunteer in drop_refs}
    fixed = [(a.volunteer, a.key) for a in prev
             if a.volunteer not in drop_refs and a.key not in hit]
    plan = solve(problem, fixed=fixed, excluded=drop_refs, hint=prev, time_limit_s=time_limit_s)
    basis = [*old["basis"], f"re-solved from {old['ref']}: {sorted(drop_refs)} dropped out; "
             f"{len(fixed)} assignments kept fixed"]
    return _store(bind, dataset=old["dataset"], month=old["month"], problem=problem, plan=plan,
                  basis=basis, ids=ids, created_by=created_by, parent=old["id"],
                  extra={"dropped": sorted(drop_refs), "fixed": len(fixed)})


def shift_window(day: date, band: int, tz: str) -> tuple[datetime, datetime]:
    """Local start and end (aware) of a shift."""
    # localise the wall clock, not the offset: a band starting at 24:00 is midnight next day
    wall = pd.Timestamp(day) + pd.Timedelta(hours=BAND_START_H[band])
    start = wall.tz_localize(tz, nonexistent="shift_forward", ambiguous=False)
    end_wall = wall + pd.Timedelta(hours=SHIFT_HOURS)
    end = end_wall.tz_localize(tz, nonexistent="shift_forward", ambiguous=False)
    return start.to_pydatetime(), end.to_pydatetime()


def my_shifts(bind: Engine | Connection, *, username: str,
              today: date | None = None) -> dict[str, Any]:
    """The shifts of the volunteer linked to ``username`` in the latest plan of each month.

    Returns ``{"volunteer": record or None, "shifts": [...]}``; nothing of anyone else (the
    other people of a deployment are given as a count)."""
    from guardian.operations.volunteers.registry import volunteer_of_user

    me = volunteer_of_user(bind, username, today)
    if me is None:
        return {"volunteer": None, "shifts": []}
    with read_connection(bind) as conn:
        latest = select(MobilisePlan.month, func.max(MobilisePlan.id).label("pid")).where(
            MobilisePlan.status.in_(("optimal", "feasible", "greedy"))).group_by(
            MobilisePlan.month).subquery()
        rows = conn.execute(
            select(MobiliseAssignment.__table__, MobilisePlan.month, Dataset.timezone)
            .join(MobilisePlan, MobilisePlan.id == MobiliseAssignment.plan_id)
            .join(latest, latest.c.pid == MobilisePlan.id)
            .join(Dataset, Dataset.id == MobilisePlan.dataset_id)
            .where(MobiliseAssignment.volunteer_id == me["id"])
            .order_by(MobiliseAssignment.day, MobiliseAssignment.band)).all()
        counts = {}
        for r in rows:
            counts[r.id] = conn.execute(select(func.count()).where(
                MobiliseAssignment.plan_id == r.plan_id, MobiliseAssignment.day == r.day,
                MobiliseAssignment.band == r.band,
                MobiliseAssignment.district == r.district)).scalar_one()
    shifts = []
    for r in rows:
        start, end = shift_window(r.day, r.band, r.timezone)
        shifts.append({"plan": plan_ref(r.plan_id), "district": r.district,
                       "day": r.day.isoformat(), "band": r.band, "band_label": BANDS[r.band],
                       "start": start.isoformat(), "end": end.isoformat(),
                       "team_size": counts[r.id], "why": r.why})
    return {"volunteer": me, "shifts": shifts}


def volunteer_hours(bind: Engine | Connection, *, dataset: str, start_month: str,
                    end_month: str) -> pd.DataFrame:
    """Planned volunteer hours per district and month, for the board report.

    Counts the latest plan of each month (a re-solve replaces its parent, never adds to it).

    Returns
    -------
    DataFrame
        ``month, district, shifts, hours, volunteers`` (hours = shifts x 8), sorted.
    """
    with read_connection(bind) as conn:
        latest = select(MobilisePlan.month, func.max(MobilisePlan.id).label("pid")).join(
            Dataset, Dataset.id == MobilisePlan.dataset_id).where(
            Dataset.name == dataset, MobilisePlan.month >= start_month,
            MobilisePlan.month <= end_month,
            MobilisePlan.status.in_(("optimal", "feasible", "greedy"))).group_by(
            MobilisePlan.month).subquery()
        rows = conn.execute(
            select(latest.c.month, MobiliseAssignment.district, func.count(),
                   func.count(MobiliseAssignment.volunteer_id.distinct()))
            .join(latest, latest.c.pid == MobiliseAssignment.plan_id)
            .group_by(latest.c.month, MobiliseAssignment.district)).all()
    out = pd.DataFrame(rows, columns=["month", "district", "shifts", "volunteers"])
    out["shifts"] = out["shifts"].astype("int64")
    out["volunteers"] = out["volunteers"].astype("int64")
    out.insert(3, "hours", out["shifts"] * SHIFT_HOURS)
    return out.sort_values(["month", "district"]).reset_index(drop=True)


def _district_points(conn: Connection, dataset: str) -> dict[str, tuple[float, float]]:
    """Mean x/y (metres) of the dataset's latest month of events per district: where a
    district's deployment task is pinned (the briefing point is set on the day)."""
    from guardian.data.geography import districts_for, force_short_name, forces
    from guardian.store.models import Event, Place

    ds = conn.execute(select(Dataset.id).where(Dataset.name == dataset)).scalar_one()
    last = conn.execute(select(func.max(Event.month)).where(Event.dataset_id == ds)).scalar_one()
    rows = conn.execute(select(Place.lsoa_code, func.avg(Place.x), func.avg(Place.y), func.count())
                        .join(Event, Event.place_id == Place.id)
                        .where(Event.dataset_id == ds, Event.month == last, Place.x.is_not(None))
                        .group_by(Place.lsoa_code)).all()
    frame = pd.DataFrame(rows, columns=["lsoa", "x", "y", "n"])
    short = force_short_name(dataset)
    frame["district"] = (districts_for(frame["lsoa"].astype("string"), short).to_numpy()
                         if short in forces() else dataset)
    out = {}
    for d, g in frame.groupby("district"):
        w = g["n"].astype(float)
        out[str(d)] = (float((g["x"] * w).sum() / w.sum()), float((g["y"] * w).sum() / w.sum()))
    return out


def publish_tasks(bind: Engine | Connection, *, plan_id: Any) -> dict[str, int]:
    """Publish a plan's shifts as tasks (:mod:`guardian.operations.tasks`): one per assignment
    whose volunteer has a sign-in account, assigned to that account, kind ``volunteer-shift``
    (outcome attended / not-attended), ``source_ref`` ``M<plan>-<id>``
    so publishing again creates nothing new.

    Returns ``{"published": n, "already": m, "no_account": k}``.
    """
    from pyproj import Transformer

    from guardian.operations.tasks.models import Task

    with write_begin(bind) as conn:
        p = _load(conn, plan_id)
        if p.status not in ("optimal", "feasible", "greedy"):
            raise InputError(f"{plan_ref(p.id)} is {p.status}: nothing to publish")
        rows = conn.execute(
            select(MobiliseAssignment.__table__, Person.username)
            .join(Person, Person.id == MobiliseAssignment.volunteer_id)
            .where(MobiliseAssignment.plan_id == p.id)).all()
        have = set(conn.execute(select(Task.source_ref).where(
            Task.kind == "volunteer-shift", Task.source_ref.like(f"M{p.id}-%"))).scalars())
        crs = conn.execute(select(Dataset.crs).where(Dataset.id == p.dataset_id)).scalar_one()
        points = _district_points(conn, p.dataset)
        tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        values, already, no_account = [], 0, 0
        for a in rows:
            ref = f"M{p.id}-{a.id}"
            if not a.username:
                no_account += 1
                continue
            if ref in have:
                already += 1
                continue
            x, y = points.get(a.district, (0.0, 0.0))
            lon, lat = tr.transform(x, y) if a.district in points else (None, None)
            start, end = shift_window(a.day, a.band, p.timezone or "Europe/London")
            values.append(dict(
                dataset_id=p.dataset_id, kind="volunteer-shift", source_ref=ref,
                district=a.district, place=f"{a.district} (briefing point on the day)",
                area=a.district, sensitive=False, x=x, y=y, lon=lon, lat=lat,
                why=f"volunteer deployment {plan_ref(p.id)}: {a.why}",
                window_start=start.astimezone(UTC).replace(tzinfo=None),
                due_at=end.astimezone(UTC).replace(tzinfo=None),
                assignee=a.username, team=None, status="open", outcome=None, note=None,
                detail={"plan": plan_ref(p.id), "volunteer": volunteer_ref(a.volunteer_id),
                        "band": BANDS[a.band]}, done_at=None, done_by=None))
        if values:
            conn.execute(insert(Task), values)
    return {"published": len(values), "already": already, "no_account": no_account}

