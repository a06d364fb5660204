"""Web: the public Street Safe page (no sign-in, no cookie) and its analyst side.

Public: ``GET /streetsafe`` (the page), ``POST /streetsafe`` (the same form without
JavaScript), ``POST /api/streetsafe/reports`` (what the page's script sends),
``GET /api/streetsafe/token`` and ``GET /api/streetsafe/public`` (what was done, per area).
Signed in: the dashboard layer, the summary, the analysis page, actions and the partner export,
each behind its ``streetsafe.*`` permission. Every figure outside the store is aggregated with
the minimum count (:mod:`guardian.operations.streetsafe.aggregate`).
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from guardian.errors import GuardianError, InputError
from guardian.operations.streetsafe import service
from guardian.operations.streetsafe.config import (
    ACTION_KINDS,
    BEHAVIOURAL,
    ENVIRONMENTAL,
    NOT_REPORTED,
    load_config,
)
from guardian.operations.streetsafe.intake import Batcher, Intake, Refused
from guardian.web.api import ErrorOut
from guardian.web.app import now
from guardian.web.security import Caller, require

router = APIRouter()
_ERRORS = {code: {"model": ErrorOut, "description": what} for code, what in (
    (400, "refused, with the reason (counted)"), (401, "not signed in"),
    (403, "role not allowed, or CSRF token missing"), (404, "no such record"),
    (429, "rate limit: per client or for the whole page (counted)"))}


def intake(request: Request) -> Intake:
    """The app's Street Safe intake (made on first use: settings from ``streetsafe.toml``)."""
    return _intake(request.app)


def _intake(app) -> Intake:
    st = app.state
    it = getattr(st, "streetsafe", None)
    if it is None:
        it = st.streetsafe = Intake(st.engine, st.settings.home, load_config(st.settings.home),
                                    st.throttle_key)
    return it


def _batcher(request: Request, it: Intake) -> Batcher:
    st = request.app.state
    b = getattr(st, "streetsafe_batcher", None)
    if b is None:
        b = st.streetsafe_batcher = Batcher(it)
    return b


def start_intake(app) -> None:
    """Make the intake, its force area and its writers before the first report arrives (a
    server process calls this at start): otherwise the first reports wait while each writer
    connects and warms up, about 80 ms (measured), in which every report queues."""
    it = _intake(app)
    it.area()
    if getattr(app.state, "streetsafe_batcher", None) is None:
        app.state.streetsafe_batcher = Batcher(it, warm=True)


def _address(request: Request, it: Intake) -> str:
    if it.config.trust_forwarded:
        fwd = request.headers.get("x-forwarded-for", "")
        if fwd:
            return fwd.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


class ReportIn(BaseModel):
    """One report as the page sends it."""

    key: str = Field(min_length=16, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                     description="idempotency key made by the page; a retry sends the same one")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    reasons: list[str] = Field(min_length=1, max_length=20)
    when: str = Field("now", max_length=10, description="now | earlier")
    daynight: str = Field(max_length=10, description="day | night")
    not_reported: str | None = Field(None, max_length=40)
    comment: str | None = Field(None, max_length=1000,
                                description="kept only when the force allows it; screened")
    website: str | None = Field(None, max_length=200, description="leave empty (honeypot)")
    token: str = Field("", max_length=80, description="the page's form token")


class AckOut(BaseModel):
    status: str = Field(description="'received': durably stored (now or before)")
    key: str
    stored: str = Field(description="new | replayed (a retry) | folded (a duplicate burst)")


class ActionIn(BaseModel):
    cluster: str = Field(min_length=2, max_length=40, description="cluster key, e.g. c2281_754")
    kind: str = Field(max_length=24, description=" | ".join(ACTION_KINDS))
    note: str = Field(min_length=3, max_length=300, description="what was done (public)")
    done_on: date


def _refused(exc: Refused) -> JSONResponse:
    return JSONResponse({"detail": str(exc), "reason": exc.reason}, status_code=exc.status)


@router.post("/api/streetsafe/reports", tags=["streetsafe"], responses=_ERRORS)
async def submit_report(request: Request, body: ReportIn) -> AckOut:
    """Store one Street Safe report; "received" only after it is committed. Public."""
    try:
        return await _submit(request, body)
    except Refused as exc:
        return _refused(exc)


async def _submit(request: Request, body: ReportIn) -> AckOut:
    """Store one checked report (the route and :class:`ReportFastPath` both end here)."""
    it = intake(request)
    # Group commit: concurrent reports share one transaction and one flush; each is answered
    # after that commit.
    ack = await _batcher(request, it).submit(body.model_dump(), address=_address(request, it),
                                             now=now(request))
    return AckOut(status="received", key=ack.key, stored=ack.status)


@router.get("/api/streetsafe/token", tags=["streetsafe"])
async def form_token(request: Request) -> dict[str, str]:
    """A fresh form token (the time-to-submit check). Public."""
    return {"token": intake(request).token()}


@router.get("/api/streetsafe/public", tags=["streetsafe"], responses=_ERRORS)
async def public_areas(request: Request) -> dict[str, Any]:
    """"You said, we did": per area, the places flagged (clusters of the minimum count or more)
    and what was done. Public."""
    return await _public_view(request, intake(request))


@router.get("/api/streetsafe/cells", tags=["streetsafe"], responses=_ERRORS)
async def cells(request: Request, caller: Caller = require("streetsafe.view")) -> dict[str, Any]:
    """The dashboard layer: cells with the minimum count or more (count, reasons, centre)."""
    it = intake(request)
    return await run_in_threadpool(lambda: service.layer(it.engine, it.area(), it.config))


@router.get("/api/streetsafe/summary", tags=["streetsafe"], responses=_ERRORS)
async def summary(request: Request,
                  caller: Caller = require("streetsafe.view")) -> dict[str, Any]:
    """Clusters, trend by month, reasons by district, comparison with recorded crime, actions,
    refusal counters."""
    it = intake(request)
    return await run_in_threadpool(lambda: service.summary(it.engine, it.area(), it.config))


@router.post("/api/streetsafe/actions", tags=["streetsafe"], responses=_ERRORS)
async def add_action(request: Request, body: ActionIn,
                     caller: Caller = require("streetsafe.act")) -> dict[str, Any]:
    """Attach "you said, we did" to a cluster (shown on the public page)."""
    it = intake(request)
    out = service.add_action(it.engine, it.area(), it.config, cluster=body.cluster,
                             kind=body.kind, note=body.note, done_on=body.done_on,
                             username=caller.account.username, at=now(request))
    _public_changed(request)
    return out


@router.get("/api/streetsafe/export.csv", tags=["streetsafe"], response_class=Response,
            responses={**_ERRORS, 200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                                        "description": "cells of the minimum count or more"}})
async def export(request: Request, caller: Caller = require("streetsafe.export")) -> Response:
    """The partner export: aggregated cells only (no point, no comment)."""
    it = intake(request)
    text = await run_in_threadpool(lambda: service.export_csv(it.engine, it.area(), it.config))
    return Response(text, media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="streetsafe.csv"'})


# -- pages -------------------------------------------------------------------------------------
PUBLIC_TTL_S = 60.0
"""The public "you said, we did" view is recomputed at most this often (seconds) per server
process, and at once after an action is recorded in the process: clustering every stored
report on each page view would let anyone hold up the intake by reloading the page."""


def _public_changed(request: Request) -> None:
    request.app.state.streetsafe_public = None


async def _public_view(request: Request, it: Intake) -> dict:
    """The public view, from the process's cache or computed off the event loop (once, however
    many requests ask at the same moment)."""
    import asyncio
    import time

    st = request.app.state
    hit = getattr(st, "streetsafe_public", None)
    if hit is not None and time.monotonic() - hit[0] < PUBLIC_TTL_S:
        return hit[1]
    lock = getattr(st, "streetsafe_public_lock", None)
    if lock is None:
        lock = st.streetsafe_public_lock = asyncio.Lock()
    async with lock:
        hit = getattr(st, "streetsafe_public", None)
        if hit is not None and time.monotonic() - hit[0] < PUBLIC_TTL_S:
            return hit[1]
        view = await run_in_threadpool(
            lambda: service.public_view(it.engine, it.area(), it.config))
        st.streetsafe_public = (time.monotonic(), view)
        return view


async def _public_ctx(request: Request, it: Intake, **extra) -> dict:
    try:
        view = await _public_view(request, it)
        area = it.area()
        ready = area.places > 0
        bounds = _bounds(area)
    except GuardianError:
        view, ready, bounds = {"areas": [], "dataset": ""}, False, None
    return {"caller": None, "token": it.token(), "environmental": ENVIRONMENTAL,
            "behavioural": BEHAVIOURAL, "not_reported": NOT_REPORTED,
            "comment": it.config.comment, "leaflet": request.app.state.leaflet, "view": view,
            "ready": ready, "bounds": bounds, "key": secrets.token_urlsafe(18), **extra}


def _bounds(area) -> list[float] | None:
    """[south, west, north, east] of the force area (for the map's first view)."""
    if not area.cells:
        return None
    xs = [c[0] for c in area.cells]
    ys = [c[1] for c in area.cells]
    m = area.area_cell_m
    lat, lon = area.to_latlon([min(xs) * m, (max(xs) + 1) * m], [min(ys) * m, (max(ys) + 1) * m])
    return [round(float(min(lat)), 5), round(float(min(lon)), 5), round(float(max(lat)), 5),
            round(float(max(lon)), 5)]


def _page(request: Request, name: str, ctx: dict, status: int = 200):
    resp = request.app.state.templates.TemplateResponse(request, name, ctx, status_code=status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@router.get("/streetsafe", response_class=HTMLResponse, include_in_schema=False)
async def public_page(request: Request):
    return _page(request, "streetsafe.html", await _public_ctx(request, intake(request)))


@router.post("/streetsafe", response_class=HTMLResponse, include_in_schema=False)
async def public_form(request: Request):
    """The form without JavaScript: same checks, a server-rendered answer."""
    it = intake(request)
    form = await request.form()
    body = {k: form.get(k) for k in ("key", "lat", "lon", "when", "daynight", "not_reported",
                                     "comment", "website", "token")}
    body["reasons"] = [str(v) for v in form.getlist("reasons")]
    try:
        ack = await run_in_threadpool(it.submit, body, address=_address(request, it),
                                      now=now(request))
    except Refused as exc:
        return _page(request, "streetsafe.html", await _public_ctx(request, it, error=str(exc)),
                     status=exc.status)
    return _page(request, "streetsafe_received.html", {"caller": None, "key": ack.key})


@router.get("/streetsafe/analysis", response_class=HTMLResponse, include_in_schema=False)
async def analysis_page(request: Request, caller: Caller = require("streetsafe.view")):
    from guardian.operations.accounts.roles import allowed

    it = intake(request)
    s = await run_in_threadpool(lambda: service.summary(it.engine, it.area(), it.config))
    return _page(request, "streetsafe_analysis.html", {
        "caller": caller, "s": s, "kinds": ACTION_KINDS, "today": now(request).date(),
        "can_act": allowed(caller.account.role, "streetsafe.act"),
        "labels": {**ENVIRONMENTAL, **BEHAVIOURAL}})


@router.post("/streetsafe/analysis/actions", include_in_schema=False)
async def analysis_action(request: Request, caller: Caller = require("streetsafe.act")):
    it = intake(request)
    form = await request.form()
    try:
        done = date.fromisoformat(str(form.get("done_on") or ""))
    except ValueError as exc:
        raise InputError("give the date the action was done (YYYY-MM-DD)") from exc
    service.add_action(it.engine, it.area(), it.config, cluster=str(form.get("cluster") or ""),
                       kind=str(form.get("kind") or ""), note=str(form.get("note") or ""),
                       done_on=done, username=caller.account.username, at=now(request))
    _public_changed(request)
    return RedirectResponse("/streetsafe/analysis", status_code=303)


REPORTS_PATH = "/api/streetsafe/reports"
FAST_BODY_MAX = 16_384  # bytes; a larger body goes the long way (and is refused there)


class ReportFastPath:
    """ASGI middleware: a well-formed ``POST /api/streetsafe/reports`` goes straight to the
    intake, past FastAPI's router, dependency solving and response model (measured: about 40%
    of the server's Python time per report went there on an app of this many routes). The
    body is checked by the same :class:`ReportIn` model and answered as :func:`submit_report`
    answers; anything else -- another path, a body that does not validate, a large or
    non-JSON one -- is passed to the app unchanged (body replayed), so errors read exactly as
    the documented route's."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if (scope["type"] != "http" or scope["method"] != "POST"
                or scope["path"] != REPORTS_PATH):
            await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            msg = await receive()
            if msg["type"] != "http.request":  # the client went away
                return
            chunks.append(msg.get("body", b""))
            size += len(chunks[-1])
            more = msg.get("more_body", False)
            if size > FAST_BODY_MAX:
                break
        body = b"".join(chunks)
        request = Request(scope)
        rep = None
        if not more and "json" in request.headers.get("content-type", ""):
            try:
                rep = ReportIn.model_validate_json(body)
            except ValueError:
                rep = None
        if rep is None:
            await self.app(scope, _replay(body, receive, more), send)
            return
        try:
            status, out = 200, (await _submit(request, rep)).model_dump_json().encode()
        except Refused as exc:
            status, out = exc.status, _refused(exc).body
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})


def _replay(body: bytes, receive, more: bool):
    """A ``receive`` that hands the app the body already read, then the rest (if any)."""
    sent = False

    async def again():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return again
