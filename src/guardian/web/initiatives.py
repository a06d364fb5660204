"""Web: initiatives pages and API.

Pages: the list (``GET /initiatives``), an initiative's detail with its resources, outcomes and
evaluation (``GET /initiatives/{ref}``), and the forms that add one, record an outcome, set
resources and publish a zone's leaflet drops (``POST``, ``initiatives.manage``). Seeing needs
``initiatives.view``; a partner sees aggregates only
(:func:`guardian.operations.initiatives.service.for_partner`). API: ``GET /api/initiatives``
and ``GET /api/initiatives/{ref}`` (the same rules, JSON).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from guardian.errors import InputError
from guardian.operations.initiatives import service as S
from guardian.operations.initiatives.evaluation import evaluate_initiative
from guardian.operations.initiatives.models import KINDS
from guardian.web.api import ErrorOut
from guardian.web.security import Caller, require

router = APIRouter()
_ERRORS = {code: {"model": ErrorOut, "description": what} for code, what in (
    (400, "input Guardian refuses, with the reason"), (401, "not signed in"),
    (403, "role not allowed"), (404, "no such initiative"))}


def _page(request: Request, name: str, ctx: dict, status: int = 200):
    return request.app.state.templates.TemplateResponse(request, name, ctx, status_code=status)


def _partner(caller: Caller) -> bool:
    # Partners hold initiatives.view but are not police staff: aggregates only.
    return caller.account.role == "partner"


def _kind(value: str | None) -> str | None:
    v = (value or "").strip()
    if v and v not in KINDS:
        raise InputError(f"kind {v!r}; expected one of {list(KINDS)}")
    return v or None


def _detail(request: Request, caller: Caller, ref: str, with_evaluation: bool) -> dict[str, Any]:
    engine = request.app.state.engine
    d = S.get_initiative(engine, ref=ref)
    if with_evaluation:
        d["evaluation"] = evaluate_initiative(engine, ref=d["ref"])
    return S.for_partner(d) if _partner(caller) else d


def _form_text(form, key: str, limit: int = 4000) -> str:
    return str(form.get(key) or "").strip()[:limit]


@router.get("/initiatives", response_class=HTMLResponse, include_in_schema=False)
async def list_page(request: Request, kind: str | None = Query(None, max_length=20),
                    start: str | None = Query(None, alias="from", max_length=10),
                    end: str | None = Query(None, alias="to", max_length=10),
                    caller: Caller = require("initiatives.view")):
    rows = S.list_initiatives(request.app.state.engine, kind=_kind(kind), start=start or None,
                              end=end or None)
    from guardian.operations.accounts.roles import allowed
    from guardian.store.status import dataset_names

    return _page(request, "initiatives.html", {
        "caller": caller, "rows": rows, "kinds": KINDS, "measures": S.MEASURES,
        "bands": S.BANDS, "manage": allowed(caller.account.role, "initiatives.manage"),
        "datasets": dataset_names(request.app.state.engine),
        "filters": {"kind": kind or "", "from": start or "", "to": end or ""}})


@router.get("/initiatives/{ref}", response_class=HTMLResponse, include_in_schema=False)
async def detail_page(request: Request, ref: str,
                      caller: Caller = require("initiatives.view")):
    from guardian.operations.accounts.roles import allowed

    S.parse_ref(ref)
    # The evaluation reads months of events: off the event loop.
    d = await asyncio.to_thread(_detail, request, caller, ref, True)
    return _page(request, "initiatives_detail.html", {
        "caller": caller, "d": d, "partner": _partner(caller), "measures": S.MEASURES,
        "manage": allowed(caller.account.role, "initiatives.manage")})


@router.post("/initiatives", include_in_schema=False)
async def create_page(request: Request, caller: Caller = require("initiatives.manage")):
    form = await request.form()
    place = _form_text(form, "place_kind") or "districts"
    value = _form_text(form, "place", 200_000)
    kw: dict[str, Any] = {"districts": None, "cells": None, "area": None}
    if place not in ("districts", "cells", "area"):
        raise InputError("place: districts, cells or area")
    kw[place] = value or None
    drops = [d for d in _form_text(form, "drop_days").replace(";", ",").split(",") if d.strip()]
    d = S.create_initiative(
        request.app.state.engine, dataset=_form_text(form, "dataset", 200),
        kind=_form_text(form, "kind", 20), name=_form_text(form, "name", 200),
        start=_form_text(form, "start", 10), end=_form_text(form, "end", 10) or None,
        partners=_form_text(form, "partners"), categories=_form_text(form, "categories"),
        band=_form_text(form, "band", 5) or None,
        uplift=_form_text(form, "uplift", 20) or None,
        volunteer_hours=_form_text(form, "volunteer_hours", 20) or 0,
        officer_hours=_form_text(form, "officer_hours", 20) or 0,
        cash_gbp=_form_text(form, "cash_gbp", 20) or 0, drop_days=drops or None,
        notes=_form_text(form, "notes"), by=caller.account.username, **kw)
    return RedirectResponse(f"/initiatives/{d['ref']}", status_code=303)


@router.post("/initiatives/{ref}/outcome", include_in_schema=False)
async def outcome_page(request: Request, ref: str, caller: Caller = require("initiatives.manage")):
    form = await request.form()
    d = S.record_outcome(request.app.state.engine, ref=ref, measure=_form_text(form, "measure", 40),
                         value=_form_text(form, "value", 20), detail=_form_text(form, "detail", 200),
                         note=_form_text(form, "note"), by=caller.account.username)
    return RedirectResponse(f"/initiatives/{d['ref']}", status_code=303)


@router.post("/initiatives/{ref}/resources", include_in_schema=False)
async def resources_page(request: Request, ref: str,
                         caller: Caller = require("initiatives.manage")):
    form = await request.form()
    d = S.set_resources(request.app.state.engine, ref=ref,
                        volunteer_hours=_form_text(form, "volunteer_hours", 20) or None,
                        officer_hours=_form_text(form, "officer_hours", 20) or None,
                        cash_gbp=_form_text(form, "cash_gbp", 20) or None)
    return RedirectResponse(f"/initiatives/{d['ref']}", status_code=303)


@router.post("/initiatives/{ref}/leaflets", include_in_schema=False)
async def leaflets_page(request: Request, ref: str, caller: Caller = require("initiatives.manage")):
    from guardian.operations.initiatives.zones import publish_leaflet_drops

    form = await request.form()
    publish_leaflet_drops(request.app.state.engine, ref=ref, team=_form_text(form, "team", 60))
    return RedirectResponse(f"/initiatives/{S.initiative_ref(S.parse_ref(ref))}",
                            status_code=303)


@router.get("/api/initiatives", tags=["initiatives"], responses=_ERRORS)
async def api_list(request: Request, kind: str | None = Query(None, max_length=20),
                   start: str | None = Query(None, alias="from", max_length=10),
                   end: str | None = Query(None, alias="to", max_length=10),
                   categories: str | None = Query(None, max_length=400),
                   caller: Caller = require("initiatives.view")) -> list[dict[str, Any]]:
    """Initiatives overlapping ``from``..``to`` (YYYY-MM-DD), with resources and outcome
    totals (aggregates: the same for every role allowed to see them)."""
    return S.list_initiatives(request.app.state.engine, kind=_kind(kind), start=start or None,
                              end=end or None, categories=categories or None)


@router.get("/api/initiatives/{ref}", tags=["initiatives"], responses=_ERRORS)
async def api_detail(request: Request, ref: str,
                     evaluation: bool = Query(False, description="include the evaluation"),
                     caller: Caller = require("initiatives.view")) -> dict[str, Any]:
    """One initiative: resources, outcomes and, with ``evaluation=true``, its evaluation. A
    partner gets aggregates only (no exact area, notes or named referral partners)."""
    S.parse_ref(ref)
    return await asyncio.to_thread(_detail, request, caller, ref, evaluation)
