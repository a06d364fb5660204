"""Tasks: the one list an officer works from.

Cocoon visits (``V-<id>``) and patrol days (``D-<id>``) are copied into ``tasks`` by
:func:`sync_tasks` (idempotent: a source is copied once). Recording an outcome on a task records it
on its source too (the cocoon visit or a patrol visit), in the same transaction, once per
idempotency key: a phone that resends a queued submission gets the first answer back.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from pyproj import Transformer
from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, or_, select, update

from guardian.errors import Conflict, Forbidden, InputError, NotFound
from guardian.operations.accounts.roles import allowed
from guardian.operations.accounts.service import Account
from guardian.operations.audit import service as audit
from guardian.operations.cocoons.models import OUTCOMES as COCOON_OUTCOMES
from guardian.operations.cocoons.models import Cocoon, CocoonMember, CocoonVisit
from guardian.operations.cocoons.planning import visit_reason
from guardian.operations.patrols.models import PatrolDay, PatrolPlan, PatrolSpot
from guardian.operations.tasks.models import Submission, Task
from guardian.store.db import read_connection, write_begin
from guardian.store.models import Dataset

PATROL_OUTCOMES = ("patrolled", "not-patrolled")
BRIEFING_OUTCOMES = ("briefed", "not-briefed")
SHIFT_OUTCOMES = ("attended", "not-attended")
LEAFLET_OUTCOMES = ("delivered", "not-delivered")
INTERACTIONS = ("business_checks", "stop_search", "engagements", "arrests", "weapons_found")


def _naive(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)




def task_ref(task_id: int) -> str:
    return f"T-{task_id}"


def parse_task_ref(value: Any) -> int:
    """``T-12``, ``12`` -> 12. Raises :class:`InputError`."""
    text = str(value).strip().upper().removeprefix("T-")
    if not text.isdigit():
        raise InputError(f"task {value!r}: expected T-<number>")
    return int(text)


def _lonlat(crs: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x) == 0:
        return x, y
    t = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return t.transform(x, y)


def sync_tasks(bind: Engine | Connection) -> dict[str, int]:
    """Copy cocoon visits and patrol days that have no task yet into ``tasks``.

    Returns
    -------
    dict
        ``{"cocoon-visit": n, "patrol-visit": m}``: tasks created by this call.
    """
    made = {"cocoon-visit": 0, "patrol-visit": 0}
    with write_begin(bind) as conn:
        have = {r[0] for r in conn.execute(select(Task.source_ref).where(
            Task.kind == "cocoon-visit"))}
        rows = conn.execute(
            select(CocoonVisit.__table__, CocoonMember.reported_at, CocoonMember.location,
                   CocoonMember.event_key, CocoonMember.radius_m, Cocoon.dataset_id,
                   Dataset.crs)
            .join(CocoonMember, CocoonMember.id == CocoonVisit.member_id)
            .join(Cocoon, Cocoon.id == CocoonVisit.cocoon_id)
            .join(Dataset, Dataset.id == Cocoon.dataset_id)
            .order_by(CocoonVisit.id)).all()
        rows = [r for r in rows if f"V-{r.id}" not in have]
        values = []
        by_crs: dict[str, list[int]] = {}
        for i, r in enumerate(rows):
            by_crs.setdefault(r.crs, []).append(i)
        lon = np.full(len(rows), np.nan)
        lat = np.full(len(rows), np.nan)
        for crs, idx in by_crs.items():
            xs = np.array([rows[i].x for i in idx])
            ys = np.array([rows[i].y for i in idx])
            lo, la = _lonlat(crs, xs, ys)
            lon[idx], lat[idx] = lo, la
        for i, r in enumerate(rows):
            v = r
            # the planner's own words, so the phone and `guardian cocoons show` agree
            why = visit_reason(rank=v.rank, is_victim=bool(v.is_victim), n_within=None,
                               radius_m=float(r.radius_m), event_key=r.event_key)
            why += (": first visit of the cocoon" if v.is_victim else
                    f" ({v.distance_m:.0f} m away, near {r.location or 'its point'})")
            values.append(dict(
                dataset_id=r.dataset_id, kind="cocoon-visit", source_ref=f"V-{v.id}",
                district="", place=v.place or "", area=f"cocoon C-{v.cocoon_id}",
                sensitive=bool(v.is_victim), x=v.x, y=v.y,
                lon=None if math.isnan(lon[i]) else float(lon[i]),
                lat=None if math.isnan(lat[i]) else float(lat[i]), why=why,
                window_start=r.reported_at, due_at=v.due_at, assignee=None, team=None,
                status="done" if v.outcome else "open", outcome=v.outcome, note=None, detail={},
                done_at=v.visited_at, done_by=v.visited_by))
        if values:
            conn.execute(insert(Task), values)
        made["cocoon-visit"] = len(values)

        have = {r[0] for r in conn.execute(select(Task.source_ref).where(
            Task.kind == "patrol-visit"))}
        rows = conn.execute(
            select(PatrolDay.id, PatrolDay.plan_id, PatrolDay.day, PatrolDay.visits_planned,
                   PatrolDay.minutes_planned, PatrolSpot.rank, PatrolSpot.streets, PatrolSpot.x,
                   PatrolSpot.y, PatrolSpot.lon, PatrolSpot.lat, PatrolSpot.why,
                   PatrolPlan.district, PatrolPlan.dataset_id, Dataset.timezone)
            .join(PatrolSpot, PatrolSpot.id == PatrolDay.spot_id)
            .join(PatrolPlan, PatrolPlan.id == PatrolDay.plan_id)
            .join(Dataset, Dataset.id == PatrolPlan.dataset_id)
            .where(PatrolDay.arm == "patrol").order_by(PatrolDay.id)).all()
        values = []
        for d in rows:
            s, district, dsid, tz = d, d.district, d.dataset_id, d.timezone
            if f"D-{d.id}" in have:
                continue
            start = pd.Timestamp(d.day).tz_localize(tz or "Europe/London")
            end = start + pd.Timedelta(days=1)
            values.append(dict(
                dataset_id=dsid, kind="patrol-visit", source_ref=f"D-{d.id}", district=district,
                place=s.streets or f"spot {s.rank}", area=f"{district}: spot {s.rank}",
                sensitive=False, x=s.x, y=s.y, lon=s.lon, lat=s.lat,
                why=f"hot-spot patrol day, spot {s.rank} of plan P-{d.plan_id}: {s.why}",
                window_start=_naive(start.to_pydatetime()), due_at=_naive(end.to_pydatetime()),
                assignee=None, team=None, status="open", outcome=None, note=None,
                detail={"plan_id": d.plan_id, "spot": s.rank, "visits_planned": d.visits_planned,
                        "minutes_planned": d.minutes_planned}, done_at=None, done_by=None))
        if values:
            conn.execute(insert(Task), values)
        made["patrol-visit"] = len(values)
    return made


def _can_see_exact(account: Account) -> bool:
    return allowed(account.role, "location.exact")


def task_dict(t, account: Account, *, as_of: datetime, origin: tuple[float, float] | None = None,
              reveal: bool = False) -> dict[str, Any]:
    """A task as the API returns it to ``account``. A victim's own place (``sensitive``) is
    shown only with ``reveal`` (after an audited consultation) to roles allowed exact
    locations; others get the zone label and no coordinates."""
    return _task_dicts([t], account, as_of=as_of, origin=origin, reveal=reveal)[0]


def _task_dicts(rows, account: Account, *, as_of: datetime,
                origin: tuple[float, float] | None = None,
                reveal: bool = False) -> list[dict[str, Any]]:
    # One pass with the per-caller facts worked out once: this runs for every row of the
    # officer's task page on every request.
    exact = _can_see_exact(account)
    now_n = _naive(as_of)
    out = []
    for t in rows:
        hide_place = t.sensitive and not (reveal and exact)
        d: dict[str, Any] = {
            "ref": task_ref(t.id), "id": t.id, "kind": t.kind, "source": t.source_ref,
            "district": t.district, "area": t.area, "why": t.why,
            "place": None if hide_place or not exact else t.place,
            "sensitive": bool(t.sensitive),
            "lon": t.lon if exact else None, "lat": t.lat if exact else None,
            "window_start": _iso(t.window_start), "due_at": _iso(t.due_at),
            "assignee": t.assignee, "team": t.team, "status": t.status, "outcome": t.outcome,
            "overdue": t.status == "open" and t.due_at < now_n,
            "outcomes": list(_outcomes(t.kind)),
            "distance_m": None,
        }
        if origin is not None and exact:
            d["distance_m"] = round(math.hypot(t.x - origin[0], t.y - origin[1]))
        out.append(d)
    return out


def _iso(value: datetime) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:" \
           f"{value.minute:02d}:{value.second:02d}Z"


def _outcomes(kind: str) -> tuple[str, ...]:
    return {"cocoon-visit": COCOON_OUTCOMES, "patrol-visit": PATROL_OUTCOMES,
            "volunteer-shift": SHIFT_OUTCOMES, "leaflet-drop": LEAFLET_OUTCOMES}.get(
        kind, BRIEFING_OUTCOMES)


def _mine(account: Account):
    cond = Task.assignee == account.username
    if account.team:
        cond = or_(cond, and_(Task.assignee.is_(None), Task.team == account.team))
    return cond


# The columns a task list shows (not the free-text note nor the detail JSON), and the two
# statements of the officer's list, built once with parameters.
_LIST_COLUMNS = (Task.id, Task.kind, Task.source_ref, Task.district, Task.area, Task.why,
                 Task.place, Task.sensitive, Task.lon, Task.lat, Task.x, Task.y,
                 Task.window_start, Task.due_at, Task.assignee, Task.team, Task.status,
                 Task.outcome)


def _my_list(with_team: bool):
    cond = Task.assignee == bindparam("username")
    if with_team:
        cond = or_(cond, and_(Task.assignee.is_(None), Task.team == bindparam("team")))
    return (select(*_LIST_COLUMNS)
            .where(cond, Task.status == "open",
                   Task.window_start <= bindparam("as_of", type_=Task.window_start.type))
            .order_by(Task.due_at, Task.id).limit(bindparam("limit")))


_MY_LIST = {False: _my_list(False), True: _my_list(True)}


def my_task_rows(bind: Engine | Connection, account: Account, *, as_of: datetime,
                 limit: int = 200) -> list:
    """The rows behind :func:`my_tasks` (earliest due first), for callers that cache on them."""
    with read_connection(bind) as conn:
        return conn.execute(_MY_LIST[bool(account.team)],
                            {"username": account.username, "team": account.team,
                             "as_of": _naive(as_of), "limit": limit}).all()


def task_list(rows, account: Account, *, as_of: datetime) -> list[dict[str, Any]]:
    """Rows from :func:`my_task_rows` as :func:`task_dict` shows them to ``account``."""
    return _task_dicts(rows, account, as_of=as_of)


def my_tasks(bind: Engine | Connection, account: Account, *, as_of: datetime,
             near: tuple[float, float] | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Open tasks of ``account`` (assigned to them, or to their team and no one in it) whose
    window has started by ``as_of``: nearest first when ``near`` (x, y metres) is given,
    else earliest due first."""
    rows = my_task_rows(bind, account, as_of=as_of, limit=limit)
    out = _task_dicts(rows, account, as_of=as_of, origin=near)
    if near is not None:
        out.sort(key=lambda d: (d["distance_m"] is None, d["distance_m"] or 0, d["due_at"]))
    return out


_TASK_BY_ID = select(Task.__table__).where(Task.id == bindparam("id"))
_SUBMISSION_BY_KEY = select(Submission.__table__).where(Submission.key == bindparam("key"))
# Core statements (not ORM-enabled): recording a visit is the phone's hot path.
_tasks_t, _subs_t = Task.__table__, Submission.__table__
_CLOSE_TASK = (_tasks_t.update()
               .where(_tasks_t.c.id == bindparam("tid"), _tasks_t.c.status == "open"))
_ADD_SUBMISSION = _subs_t.insert()


def get_task(bind: Engine | Connection, account: Account, task_id: int, *, as_of: datetime,
             justification: str | None = None) -> dict[str, Any]:
    """One task. Its exact place is revealed only to a role allowed exact locations and, for a
    victim's own address, only with a ``justification``, which writes one audit entry.

    Raises
    ------
    NotFound, Forbidden
        No such task; an officer asking for a task that is not theirs.
    """
    with write_begin(bind) as conn:
        t = conn.execute(_TASK_BY_ID, {"id": task_id}).first()
        if t is None:
            raise NotFound(f"no task {task_ref(task_id)}")
        _check_access(account, t)
        reveal = False
        if t.sensitive and justification and _can_see_exact(account):
            audit.record(conn, username=account.username, role=account.role,
                         operation="consult", record=f"task {task_ref(t.id)} (victim address)",
                         justification=justification, detail={"source": t.source_ref})
            reveal = True
    return task_dict(t, account, as_of=as_of, reveal=reveal)


def _check_access(account: Account, t) -> None:
    if allowed(account.role, "tasks.view"):
        return
    if allowed(account.role, "tasks.own") and (
            t.assignee == account.username
            or (t.assignee is None and account.team and t.team == account.team)):
        return
    raise Forbidden(f"task {task_ref(t.id)} is not assigned to you")


def record_outcome(bind: Engine | Connection, account: Account, task_id: int, *, outcome: str,
                   key: str, at: datetime, note: str | None = None,
                   interactions: dict[str, int] | None = None,
                   start: datetime | None = None) -> dict[str, Any]:
    """Record what happened at a task, once per idempotency ``key``.

    For a cocoon visit the outcome is also recorded on the cocoon visit; for a patrol task a
    patrol visit (``start`` .. ``at``, with ``interactions`` counts) is logged on the plan.

    Returns
    -------
    dict
        ``{"task": ..., "replayed": bool}``; a repeated key returns the first answer with
        ``replayed`` true and records nothing.

    Raises
    ------
    Conflict
        The task already has an outcome (under another key), or the key was used for another
        task.
    """
    key = str(key or "").strip()
    if not 8 <= len(key) <= 80:
        raise InputError("an idempotency key of 8-80 characters is required (the phone makes one "
                         "per submission)")
    note = (note or "").strip()[:1000] or None
    at_n = _naive(at)
    with write_begin(bind) as conn:
        prev = conn.execute(_SUBMISSION_BY_KEY, {"key": key}).first()
        if prev is not None:
            if prev.task_id != task_id:
                raise Conflict(f"submission key {key!r} was already used for "
                               f"{task_ref(prev.task_id)}")
            return {"task": prev.response, "replayed": True}
        t = conn.execute(_TASK_BY_ID, {"id": task_id}).first()
        if t is None:
            raise NotFound(f"no task {task_ref(task_id)}")
        _check_access(account, t)
        if t.status != "open":
            raise Conflict(f"task {task_ref(t.id)} already has outcome {t.outcome!r} "
                           f"(by {t.done_by or 'unknown'})")
        detail = dict(t.detail or {})
        if t.kind == "cocoon-visit":
            if outcome not in COCOON_OUTCOMES:
                raise InputError(f"outcome {outcome!r}; expected one of {list(COCOON_OUTCOMES)}")
            from guardian.operations.cocoons.service import record_visit

            record_visit(conn, ref=t.source_ref, outcome=outcome, at=at_n.replace(tzinfo=UTC),
                         by=account.username)
        elif t.kind in ("street-briefing", "volunteer-shift", "leaflet-drop"):
            allowed_outcomes = _outcomes(t.kind)
            if outcome not in allowed_outcomes:
                raise InputError(f"outcome {outcome!r}; expected one of {list(allowed_outcomes)}")
        elif t.kind != "patrol-visit":
            raise InputError(f"task {task_ref(t.id)} is of kind {t.kind!r}, which takes no "
                             "outcome here")
        else:
            if outcome not in PATROL_OUTCOMES:
                raise InputError(f"outcome {outcome!r}; expected one of {list(PATROL_OUTCOMES)}")
            counts = {k: int((interactions or {}).get(k, 0) or 0) for k in INTERACTIONS}
            if any(v < 0 for v in counts.values()):
                raise InputError("interaction counts must be >= 0")
            detail["interactions"] = counts
            if outcome == "patrolled":
                from guardian.operations.patrols.service import log_visit

                begin = _naive(start) if start is not None else at_n - timedelta(minutes=15)
                if begin >= at_n:
                    raise InputError("a patrol visit must end after it starts")
                log_visit(conn, plan_id=detail["plan_id"], spot=detail["spot"],
                          start=begin.replace(tzinfo=UTC), end=at_n.replace(tzinfo=UTC),
                          officer=account.username, **counts)
                detail["start"] = begin.strftime("%Y-%m-%dT%H:%M:%SZ")
        done = {"status": "done", "outcome": outcome, "note": note, "done_at": at_n,
                "done_by": account.username, "detail": detail}
        if conn.execute(_CLOSE_TASK, {"tid": t.id, **done}).rowcount != 1:
            # Another submission closed it between our read and this write (PostgreSQL).
            raise Conflict(f"task {task_ref(t.id)} was closed by another submission")
        if note:
            audit.record(conn, username=account.username, role=account.role, operation="alter",
                         record=f"task {task_ref(t.id)} (visit note)",
                         justification="crime prevention visit", detail={"source": t.source_ref})
        # The row as it now stands, without reading it back: the update above is the only change.
        resp = task_dict(SimpleNamespace(**{**t._mapping, **done}), account, as_of=at_n)
        conn.execute(_ADD_SUBMISSION, {"key": key, "task_id": t.id, "username": account.username,
                                       "at": datetime.now(UTC).replace(tzinfo=None),
                                       "response": resp})
    return {"task": resp, "replayed": False}


def unassigned_tasks(bind: Engine | Connection, account: Account, *, as_of: datetime,
                     limit: int = 50) -> list[dict[str, Any]]:
    """Open tasks with no officer and no team, earliest due first (for assigning)."""
    with read_connection(bind) as conn:
        rows = conn.execute(select(Task.__table__).where(
            Task.status == "open", Task.assignee.is_(None), Task.team.is_(None))
            .order_by(Task.due_at, Task.id).limit(limit)).all()
    return [task_dict(t, account, as_of=as_of) for t in rows]


def assign_tasks(bind: Engine | Connection, account: Account, task_ids: list[int], *,
                 assignee: str | None = None, team: str | None = None) -> int:
    """Give tasks to a user or a team (supervisors). Returns the number assigned."""
    if not allowed(account.role, "tasks.assign"):
        raise Forbidden("assigning tasks needs the supervisor role")
    if not (assignee or team):
        raise InputError("give an officer (username) or a team")
    from guardian.operations.accounts.service import get_user

    if assignee:
        get_user(bind, assignee)
    with write_begin(bind) as conn:
        res = conn.execute(update(Task).where(Task.id.in_(task_ids), Task.status == "open")
                           .values(assignee=(assignee or None), team=(team or None)))
    return int(res.rowcount or 0)


def add_street_briefing(bind: Engine | Connection, account: Account, *, plan: str, spot: int,
                        due_at: datetime, start: datetime, assignee: str | None = None,
                        team: str | None = None, note: str | None = None) -> dict[str, Any]:
    """A street-briefing task at a harm spot of a patrol plan: brief the residents and
    businesses of its streets (a place, not a person; the why is the spot's own).

    Parameters
    ----------
    plan : str
        The plan's reference, ``P-<id>``.
    spot : int
        The spot's rank on that plan (1 = most harm).
    due_at, start : datetime
        The task's window (UTC).
    assignee, team : str, optional
        Who does it (a username or a team); neither: unassigned, on the dashboard.

    Returns
    -------
    dict
        The task as :func:`task_dict` shows it to ``account``.

    Raises
    ------
    Forbidden, NotFound, InputError, Conflict
        Not a supervisor; no such plan or spot; a window that ends before it starts; the same
        spot already has an open briefing.
    """
    if not allowed(account.role, "tasks.assign"):
        raise Forbidden("creating street briefings needs the supervisor role")
    ref = str(plan).strip().upper()
    if not (ref.startswith("P-") and ref[2:].isdigit()):
        raise InputError(f"plan {plan!r}: expected a plan reference like P-3")
    if _naive(due_at) <= _naive(start):
        raise InputError("a street briefing must be due after its window starts")
    if assignee:
        from guardian.operations.accounts.service import get_user

        get_user(bind, assignee)
    source = f"{ref}#{int(spot)}"
    with write_begin(bind) as conn:
        row = conn.execute(select(PatrolSpot.__table__, PatrolPlan.district, PatrolPlan.dataset_id)
                           .join(PatrolPlan, PatrolPlan.id == PatrolSpot.plan_id)
                           .where(PatrolSpot.plan_id == int(ref[2:]),
                                  PatrolSpot.rank == int(spot))).first()
        if row is None:
            raise NotFound(f"no spot {int(spot)} on plan {ref}")
        if conn.execute(select(Task.id).where(Task.kind == "street-briefing",
                                              Task.source_ref == source,
                                              Task.status == "open")).first():
            raise Conflict(f"spot {source} already has an open street briefing")
        streets = row.streets or f"the 150 m cell of spot {row.rank}"
        why = (f"street briefing at harm spot {row.rank} of plan {ref} ({row.district}): "
               f"{row.why}")
        tid = conn.execute(insert(Task).values(
            dataset_id=row.dataset_id, kind="street-briefing", source_ref=source,
            district=row.district, place=streets, area=f"{row.district}: {streets}",
            sensitive=False, x=row.x, y=row.y, lon=row.lon, lat=row.lat, why=why,
            window_start=_naive(start), due_at=_naive(due_at), assignee=assignee or None,
            team=team or None, status="open", outcome=None,
            note=(note or "").strip()[:1000] or None, detail={"plan_id": row.plan_id,
                                                              "spot": row.rank},
            done_at=None, done_by=None).returning(Task.id)).scalar_one()
        t = conn.execute(_TASK_BY_ID, {"id": tid}).first()
    return task_dict(t, account, as_of=start)


def task_districts(bind: Engine | Connection) -> set[str]:
    """The districts that have tasks (for the dashboard's district choice)."""
    with read_connection(bind) as conn:
        return {d for (d,) in conn.execute(select(Task.district).distinct()) if d}


def task_summary(bind: Engine | Connection, *, as_of: datetime,
                 district: str | None = None) -> list[dict[str, Any]]:
    """Per kind and team/assignee: open, overdue and done tasks (aggregates only: safe for
    every dashboard role), of one ``district`` when given."""
    now = _naive(as_of)
    who = func.coalesce(Task.team, Task.assignee, "(unassigned)").label("who")
    late = (Task.status == "open") & (Task.due_at < now)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    with read_connection(bind) as conn:
        q = select(Task.kind, who, Task.status, late.label("late"), func.count())
        if district:
            q = q.where(Task.district == district)
        for kind, w, status, is_late, n in conn.execute(
                q.group_by(Task.kind, who, Task.status, "late")):
            d = out.setdefault((kind, w), {"kind": kind, "who": w, "tasks": 0, "done": 0,
                                           "overdue": 0})
            d["tasks"] += int(n)
            d["done"] += int(n) if status == "done" else 0
            d["overdue"] += int(n) if is_late else 0
    return sorted(out.values(), key=lambda d: (d["kind"], d["who"]))
