"""The JSON API (``/api``): every page's data, with its OpenAPI document at /openapi.json."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from guardian.operations.accounts import service as accounts
from guardian.operations.audit import service as audit
from guardian.operations.tasks import service as tasks
from guardian.web.app import now
from guardian.web.security import Caller, current, require


class ErrorOut(BaseModel):
    """Why a request was refused."""

    detail: str


router = APIRouter(prefix="/api", tags=["api"], responses={
    code: {"model": ErrorOut, "description": what} for code, what in (
        (400, "input Guardian refuses, with the reason"), (401, "not signed in"),
        (403, "role not allowed, or CSRF token missing"), (404, "no such record"),
        (409, "conflicts with the current state (e.g. already recorded)"))})


class OutcomeIn(BaseModel):
    """A visit's outcome as the phone sends it."""

    outcome: str = Field(description="cocoon: spoke|advice|no-answer|declined; "
                                     "patrol: patrolled|not-patrolled")
    key: str = Field(min_length=8, max_length=80, description="idempotency key, one per "
                                                               "submission")
    note: str | None = Field(default=None, max_length=1000)
    at: datetime | None = Field(default=None, description="when it happened (default: now "
                                "minus elapsed_s)")
    elapsed_s: float = Field(default=0, ge=0, le=7 * 86400,
                             description="seconds since it happened, for a submission queued "
                                         "offline (measured on the phone, so its clock may be "
                                         "wrong without harm)")
    start: datetime | None = Field(default=None, description="patrol: when the visit started")
    minutes: int | None = Field(default=None, ge=1, le=600,
                                description="patrol: minutes on the spot (start = at - minutes)")
    interactions: dict[str, Annotated[int, Field(ge=0, le=1000)]] = Field(default_factory=dict)


TaskId = Annotated[int, Field(ge=1, le=2_147_483_647)]
TaskPath = Annotated[int, Path(ge=1, le=2_147_483_647, description="task number (T-<n>)")]


class AssignIn(BaseModel):
    tasks: list[TaskId] = Field(min_length=1, max_length=1000)
    assignee: str | None = None
    team: str | None = None


class BriefingIn(BaseModel):
    plan: str = Field(min_length=3, max_length=20, pattern=r"^[Pp]-[0-9]{1,9}$")
    spot: int = Field(ge=1, le=10_000)
    assignee: str | None = Field(None, max_length=60)
    team: str | None = Field(None, max_length=60)
    hours: int = Field(72, ge=1, le=24 * 28, description="due this many hours from now")
    note: str | None = Field(None, max_length=1000)


def _xy(x: float | None, y: float | None) -> tuple[float, float] | None:
    return (x, y) if x is not None and y is not None else None


@router.get("/me")
async def me(request: Request, caller: Caller = Depends(current)) -> dict[str, Any]:
    """The signed-in user, their role and their session's CSRF token."""
    return caller.account.to_dict() | {"csrf": caller.csrf}


@router.get("/tasks/mine")
async def my_tasks(request: Request, x: float | None = None, y: float | None = None,
             caller: Caller = require("tasks.own")) -> list[dict[str, Any]]:
    """The caller's open tasks whose window has started; nearest first given ``x, y``
    (British National Grid metres)."""
    return tasks.my_tasks(request.app.state.engine, caller.account, as_of=now(request),
                          near=_xy(x, y))


@router.get("/tasks")
async def all_tasks(request: Request, status: str = Query("open", pattern="^(open|done)$"),
              limit: int = Query(200, ge=1, le=2000),
              caller: Caller = require("tasks.view")) -> list[dict[str, Any]]:
    """Every task with ``status`` (supervisors and analysts), earliest due first."""
    from sqlalchemy import select

    from guardian.operations.tasks.models import Task

    with request.app.state.engine.connect() as conn:
        rows = conn.execute(select(Task.__table__).where(Task.status == status)
                            .order_by(Task.due_at, Task.id).limit(limit)).all()
    return [tasks.task_dict(t, caller.account, as_of=now(request)) for t in rows]


@router.get("/tasks/{task_id}")
async def one_task(request: Request, task_id: TaskPath,
             justification: str | None = Query(None, max_length=200),
             caller: Caller = require("location.exact")) -> dict[str, Any]:
    """One task. A victim's address is included only with a ``justification`` (one audit
    entry per reading)."""
    return tasks.get_task(request.app.state.engine, caller.account, task_id, as_of=now(request),
                          justification=justification)


@router.post("/tasks/{task_id}/outcome")
async def task_outcome(request: Request, task_id: TaskPath, body: OutcomeIn,
                 caller: Caller = require("tasks.own")) -> dict[str, Any]:
    """Record a task's outcome once per idempotency key (a resent key gets the first answer)."""
    at = body.at or now(request) - timedelta(seconds=body.elapsed_s)
    start = body.start or (at - timedelta(minutes=body.minutes) if body.minutes else None)
    return tasks.record_outcome(request.app.state.engine, caller.account, task_id,
                                outcome=body.outcome, key=body.key, note=body.note,
                                at=at, start=start,
                                interactions=body.interactions)


@router.post("/tasks/street-briefings")
async def street_briefing(request: Request, body: BriefingIn,
                          caller: Caller = require("tasks.assign")) -> dict[str, Any]:
    """A street-briefing task at a harm spot of a patrol plan (its streets, its why)."""
    at = now(request)
    return tasks.add_street_briefing(request.app.state.engine, caller.account, plan=body.plan,
                                     spot=body.spot, start=at,
                                     due_at=at + timedelta(hours=body.hours),
                                     assignee=body.assignee or None, team=body.team or None,
                                     note=body.note)


@router.post("/tasks/assign")
async def assign(request: Request, body: AssignIn,
           caller: Caller = require("tasks.assign")) -> dict[str, int]:
    """Assign open tasks to an officer (username) or a team."""
    n = tasks.assign_tasks(request.app.state.engine, caller.account, body.tasks,
                           assignee=body.assignee, team=body.team)
    return {"assigned": n}


@router.get("/dashboard")
async def dashboard(request: Request, district: str | None = Query(None, max_length=100),
                    caller: Caller = require("dashboard.view")) -> dict[str, Any]:
    """Aggregates for the district dashboard (of one ``district`` when given): tasks by kind and
    team (open, overdue, done), cocoons, patrol dosage, harm spots (cells) and the latest
    briefing's headline figures. No exact place: safe for partners."""
    import asyncio

    from guardian.web.dashboard import dashboard_data

    data = dashboard_data(request.app.state.engine, as_of=now(request),
                          district=district or None)
    data["headlines"] = await asyncio.to_thread(request.app.state.headlines.get,
                                                request.app.state.engine)
    return data


@router.get("/audit")
async def audit_log(request: Request, start: datetime | None = Query(None, alias="from"),
              end: datetime | None = Query(None, alias="to"),
              caller: Caller = require("audit.view")) -> list[dict[str, Any]]:
    """Audit entries with ``from <= at < to``."""
    return audit.entries(request.app.state.engine, start=start, end=end)


@router.get("/users")
async def users(request: Request, caller: Caller = require("users.manage")) -> list[dict[str, Any]]:
    """Every account (no password hashes)."""
    return [u.to_dict() for u in accounts.list_users(request.app.state.engine)]
