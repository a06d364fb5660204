"""Web: the volunteer coordinator's pages (registry, the monthly plan as a district x day grid
with coverage against demand and gaps, re-solve, publish, exports) and a volunteer's own shifts
and availability. Permissions: ``volunteers.manage`` for the coordinator, ``volunteers.self``
for a volunteer, who sees only the record linked to their sign-in account."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from guardian.errors import InputError, NotFound
from guardian.operations.audit import service as audit
from guardian.operations.volunteers import availability as av
from guardian.operations.volunteers import exports, plans, registry
from guardian.store.db import write_begin
from guardian.web.api import ErrorOut
from guardian.web.app import now
from guardian.web.security import Caller, require

router = APIRouter()
# The JSON routes document their error answers as the /api router does (the fuzz test holds
# every /api route to its schema).
_API_ERRORS = {code: {"model": ErrorOut, "description": what} for code, what in (
    (400, "input Guardian refuses, with the reason"), (401, "not signed in"),
    (403, "role not allowed"), (404, "no such plan"))}


def _page(request: Request, name: str, ctx: dict, status: int = 200):
    return request.app.state.templates.TemplateResponse(request, name, ctx, status_code=status)


def _audit(request: Request, caller: Caller, record: str, detail: dict | None = None) -> None:
    # Names and shifts of people are personal data: each consultation is logged.
    with write_begin(request.app.state.engine) as conn:
        audit.record(conn, username=caller.account.username, role=caller.account.role,
                     operation="consult", record=record[:200],
                     justification="volunteer coordination", detail=detail or {})


def _month(value: str | None, request: Request) -> str:
    text = (value or "").strip() or now(request).strftime("%Y-%m")
    av.month_days(text)  # validates
    return text


@router.get("/volunteers", response_class=HTMLResponse, include_in_schema=False)
async def registry_page(request: Request, caller: Caller = require("volunteers.manage")):
    engine = request.app.state.engine
    people = registry.list_volunteers(engine, today=now(request).date())
    _audit(request, caller, "volunteer registry", {"people": len(people)})
    from guardian.store.status import dataset_names

    return _page(request, "volunteers.html", {
        "caller": caller, "people": people, "plans": plans.list_plans(engine),
        "datasets": dataset_names(engine), "month": now(request).strftime("%Y-%m"),
        "quarantine": registry.quarantined(engine)[-50:]})


@router.post("/mobilise/plan", include_in_schema=False)
async def plan_create(request: Request, caller: Caller = require("volunteers.manage")):
    form = await request.form()
    dataset = str(form.get("dataset") or "").strip()
    if not dataset:
        raise InputError("choose a dataset (force) to plan for")
    month = _month(str(form.get("month") or ""), request)
    method = str(form.get("method") or "cp-sat")
    # The solve takes up to a minute of CPU: off the event loop, so other pages keep serving.
    p = await run_in_threadpool(
        plans.create_plan, request.app.state.engine, dataset=dataset, month=month,
        method=method, time_limit_s=60.0, created_by=caller.account.username)
    return RedirectResponse(f"/mobilise/{p['ref']}", status_code=303)


@router.get("/mobilise/{plan_id}", response_class=HTMLResponse, include_in_schema=False)
async def plan_page(request: Request, plan_id: str,
                    caller: Caller = require("volunteers.manage")):
    p = plans.get_plan(request.app.state.engine, plan_id=plan_id)
    _audit(request, caller, f"mobilisation plan {p['ref']}", {"shifts": len(p["assignments"])})
    cells = {(g["district"], g["day"], g["band"]): g for g in p["grid"]}
    top = max((g["demand"] for g in p["grid"]), default=0.0) or 1.0
    return _page(request, "mobilise_plan.html", {"caller": caller, "p": p, "cells": cells,
                                                 "top": top})


@router.post("/mobilise/{plan_id}/resolve", include_in_schema=False)
async def plan_resolve(request: Request, plan_id: str,
                       caller: Caller = require("volunteers.manage")):
    form = await request.form()
    drop = [v for v in str(form.get("drop") or "").replace(",", " ").split() if v]
    p = await run_in_threadpool(
        plans.resolve_plan, request.app.state.engine, plan_id=plan_id, drop=drop,
        time_limit_s=60.0, created_by=caller.account.username)
    return RedirectResponse(f"/mobilise/{p['ref']}", status_code=303)


@router.post("/mobilise/{plan_id}/publish", include_in_schema=False)
async def plan_publish(request: Request, plan_id: str,
                       caller: Caller = require("volunteers.manage")):
    plans.publish_tasks(request.app.state.engine, plan_id=plan_id)
    return RedirectResponse(f"/mobilise/{plans.plan_ref(plans.parse_plan_ref(plan_id))}"
                            "?published=1", status_code=303)


@router.get("/mobilise/{plan_id}/export.csv", include_in_schema=False)
async def plan_csv(request: Request, plan_id: str, caller: Caller = require("volunteers.manage")):
    text = exports.plan_csv(request.app.state.engine, plan_id=plan_id)
    _audit(request, caller, f"mobilisation plan {plan_id} (CSV export)")
    return PlainTextResponse(text, media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{plan_id}.csv"'})


@router.get("/volunteers/{ref}/availability", response_class=HTMLResponse,
            include_in_schema=False)
async def availability_page(request: Request, ref: str, month: str | None = None,
                            caller: Caller = require("volunteers.manage")):
    person = registry.get_volunteer(request.app.state.engine, ref=ref, today=now(request).date())
    return _availability(request, caller, person, _month(month, request),
                         action=f"/volunteers/{person['ref']}/availability")


@router.post("/volunteers/{ref}/availability", include_in_schema=False)
async def availability_save(request: Request, ref: str,
                            caller: Caller = require("volunteers.manage")):
    person = registry.get_volunteer(request.app.state.engine, ref=ref)
    month = await _save_form(request, person["ref"])
    return RedirectResponse(f"/volunteers/{person['ref']}/availability?month={month}",
                            status_code=303)


def _availability(request, caller, person, month, *, action):
    free = {(a["day"], a["band"]) for a in av.availability(
        request.app.state.engine, month=month, ref=person["ref"])}
    return _page(request, "volunteers_availability.html", {
        "caller": caller, "person": person, "month": month, "action": action,
        "days": [d.isoformat() for d in av.month_days(month)], "free": free,
        "bands": list(enumerate(plans.BANDS))})


async def _save_form(request: Request, ref: str) -> str:
    form = await request.form()
    month = _month(str(form.get("month") or ""), request)
    shifts = []
    for v in form.getlist("free"):
        day, _, band = str(v).partition("/")
        try:
            shifts.append((date.fromisoformat(day), int(band)))
        except ValueError as exc:
            raise InputError(f"free shift {v!r}: expected YYYY-MM-DD/band") from exc
    av.set_availability(request.app.state.engine, ref=ref, month=month, shifts=shifts)
    return month


def _me(request: Request, caller: Caller) -> dict:
    me = registry.volunteer_of_user(request.app.state.engine, caller.account.username,
                                    now(request).date())
    if me is None:
        raise NotFound("your sign-in account is not linked to a volunteer record; ask your "
                       "coordinator to link it")
    return me


@router.get("/my/shifts", response_class=HTMLResponse, include_in_schema=False)
async def my_shifts_page(request: Request, caller: Caller = require("volunteers.self")):
    mine = plans.my_shifts(request.app.state.engine, username=caller.account.username,
                           today=now(request).date())
    return _page(request, "volunteers_my.html", {"caller": caller, "me": mine["volunteer"],
                                                 "shifts": mine["shifts"]})


@router.get("/my/shifts.ics", include_in_schema=False)
async def my_shifts_ics(request: Request, caller: Caller = require("volunteers.self")):
    mine = plans.my_shifts(request.app.state.engine, username=caller.account.username,
                           today=now(request).date())
    if not mine["shifts"]:
        raise NotFound("you have no shifts in a plan yet")
    latest = mine["shifts"][-1]["plan"]
    text = exports.volunteer_ics(request.app.state.engine, plan_id=latest,
                                 volunteer=mine["volunteer"]["ref"])
    return Response(text, media_type="text/calendar", headers={
        "Content-Disposition": 'attachment; filename="my-shifts.ics"'})


@router.get("/my/availability", response_class=HTMLResponse, include_in_schema=False)
async def my_availability(request: Request, month: str | None = None,
                          caller: Caller = require("volunteers.self")):
    me = _me(request, caller)
    return _availability(request, caller, me, _month(month, request), action="/my/availability")


@router.post("/my/availability", include_in_schema=False)
async def my_availability_save(request: Request, caller: Caller = require("volunteers.self")):
    me = _me(request, caller)
    month = await _save_form(request, me["ref"])
    return RedirectResponse(f"/my/availability?month={month}", status_code=303)


@router.get("/api/mobilise/{plan_id}", tags=["api"], responses=_API_ERRORS)
async def api_plan(request: Request, plan_id: str, caller: Caller = require("volunteers.manage")):
    """A stored mobilisation plan (grid, gaps, assignments with why)."""
    p = plans.get_plan(request.app.state.engine, plan_id=plan_id)
    _audit(request, caller, f"mobilisation plan {p['ref']} (API)")
    return p


@router.get("/api/my/shifts", tags=["api"], responses=_API_ERRORS)
async def api_my_shifts(request: Request, caller: Caller = require("volunteers.self")):
    """The caller's own shifts (nothing of anyone else)."""
    return plans.my_shifts(request.app.state.engine, username=caller.account.username,
                           today=now(request).date())
