"""Server-rendered pages: sign-in, the officer's phone (/my), the dashboard, the audit log."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from datetime import UTC, timedelta
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from guardian.errors import Forbidden
from guardian.operations.accounts import service as accounts
from guardian.operations.accounts.roles import allowed
from guardian.operations.audit import service as audit
from guardian.operations.tasks import service as tasks
from guardian.web.app import now
from guardian.web.dashboard import dashboard_data
from guardian.web.security import COOKIE, Caller, check_csrf, current, require

router = APIRouter(include_in_schema=False)
LOGIN_CSRF = "guardian_login_csrf"


def _page(request: Request, name: str, ctx: dict, status: int = 200):
    return request.app.state.templates.TemplateResponse(request, name, ctx, status_code=status)


def _safe_next(value: str | None) -> str:
    # Only same-site paths: a sign-in link must not bounce the user to another site.
    if not value or not value.startswith("/") or value.startswith("//") or urlparse(value).netloc:
        return "/"
    return value


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None):
    token = secrets.token_urlsafe(24)
    resp = _page(request, "login.html", {"csrf": token, "next": _safe_next(next), "error": None})
    resp.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict",
                    secure=request.app.state.secure_cookies, max_age=3600)
    return resp


# Sync on purpose: argon2 takes tens of milliseconds of CPU, which must not stall the event loop.
@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""),
          csrf: str = Form(""), next: str = Form("/")):
    cookie = request.cookies.get(LOGIN_CSRF, "")
    if not cookie or not hmac.compare_digest(cookie, csrf):
        raise HTTPException(403, "missing or wrong CSRF token: reload the sign-in page")
    address = request.client.host if request.client else "unknown"
    try:
        account = accounts.authenticate(request.app.state.engine, username=username,
                                        password=password, address=address,
                                        key=request.app.state.throttle_key)
    except Forbidden as exc:
        token = secrets.token_urlsafe(24)
        resp = _page(request, "login.html", {"csrf": token, "next": _safe_next(next),
                                             "error": str(exc)}, status=403)
        resp.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict",
                        secure=request.app.state.secure_cookies, max_age=3600)
        return resp
    token, _ = accounts.start_session(request.app.state.engine, account)
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(COOKIE, token, httponly=True, samesite="strict",
                    secure=request.app.state.secure_cookies, max_age=12 * 3600)
    resp.delete_cookie(LOGIN_CSRF)
    return resp


@router.post("/logout")
async def logout(request: Request, caller: Caller = Depends(current)):
    await check_csrf(request, caller)
    accounts.end_session(request.app.state.engine, request.cookies.get(COOKIE))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE)
    return resp


@router.get("/")
async def home(request: Request, caller: Caller = Depends(current)):
    role = caller.account.role
    if allowed(role, "dashboard.view"):
        return RedirectResponse("/dashboard", status_code=303)
    if allowed(role, "tasks.own"):
        return RedirectResponse("/my", status_code=303)
    if allowed(role, "volunteers.self"):
        return RedirectResponse("/my/shifts", status_code=303)
    if allowed(role, "tagmatch.review"):
        return RedirectResponse("/review", status_code=303)
    return RedirectResponse("/admin/audit", status_code=303)


@router.get("/my", response_class=HTMLResponse)
async def my_page(request: Request, caller: Caller = require("tasks.own")):
    state = request.app.state
    at = now(request)
    rows = tasks.my_task_rows(state.engine, caller.account, as_of=at)
    # The page is a pure function of these: the caller (and their session's CSRF token), the
    # rows as read now, the minute shown and which rows are overdue. An officer reloading an
    # unchanged list gets the page rendered last time; any change to a row changes the key.
    at_n = at.astimezone(UTC).replace(tzinfo=None)
    key = (caller, state.leaflet, at_n.replace(second=0, microsecond=0), tuple(rows),
           tuple(r.due_at < at_n for r in rows))
    html = state.page_cache.get(key)
    if html is None:
        ctx = {"caller": caller, "tasks": tasks.task_list(rows, caller.account, as_of=at),
               "as_of": at, "leaflet": state.leaflet}
        html = state.templates.get_template("my.html").render(ctx).encode()
        state.page_cache.put(key, html)
    return HTMLResponse(html)


@router.get("/my/tasks/{task_id}", response_class=HTMLResponse)
async def my_task(request: Request, task_id: int, caller: Caller = require("tasks.own")):
    # Opening one's own task to visit it is the consultation: its purpose is the justification.
    t = tasks.get_task(request.app.state.engine, caller.account, task_id, as_of=now(request),
                       justification="crime prevention visit")
    return _page(request, "task.html", {"caller": caller, "task": t,
                                        "key": secrets.token_urlsafe(16)})


@router.post("/my/tasks/{task_id}/outcome")
async def my_task_outcome(request: Request, task_id: int,
                          caller: Caller = require("tasks.own")):
    # The form without JavaScript: same fields as the API body.
    form = await request.form()
    counts = {k: int(form.get(k) or 0) for k in tasks.INTERACTIONS
              if str(form.get(k) or "0").isdigit()}
    minutes = str(form.get("minutes") or "15")
    at = now(request)
    tasks.record_outcome(request.app.state.engine, caller.account, task_id,
                         outcome=str(form.get("outcome") or ""), key=str(form.get("key") or ""),
                         note=str(form.get("note") or ""), at=at, interactions=counts,
                         start=at - timedelta(minutes=int(minutes) if minutes.isdigit() else 15))
    return RedirectResponse("/my", status_code=303)


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(request: Request, district: str | None = Query(None, max_length=100),
                         caller: Caller = require("dashboard.view")):
    data = dashboard_data(request.app.state.engine, as_of=now(request),
                          district=district or None)
    # a few seconds once per state of the loaded data: off the event loop
    data["headlines"] = await asyncio.to_thread(request.app.state.headlines.get,
                                                request.app.state.engine)
    unassigned = []
    if allowed(caller.account.role, "tasks.assign"):
        unassigned = tasks.unassigned_tasks(request.app.state.engine, caller.account,
                                            as_of=now(request))
    return _page(request, "dashboard.html", {"caller": caller, "d": data,
                                             "unassigned": unassigned,
                                             "can_assign": allowed(caller.account.role,
                                                                   "tasks.assign"),
                                             "leaflet": request.app.state.leaflet})


@router.post("/dashboard/assign")
async def dashboard_assign(request: Request, caller: Caller = require("tasks.assign")):
    form = await request.form()
    ids = [int(v) for v in form.getlist("task") if str(v).isdigit()]
    tasks.assign_tasks(request.app.state.engine, caller.account, ids,
                       assignee=str(form.get("assignee") or "").strip() or None,
                       team=str(form.get("team") or "").strip() or None)
    return RedirectResponse("/dashboard", status_code=303)


@router.post("/dashboard/briefing")
async def dashboard_briefing(request: Request, caller: Caller = require("tasks.assign")):
    # One button per harm spot: brief its streets, due in three days, to an officer or team.
    form = await request.form()
    spot = str(form.get("spot") or "")
    if not spot.isdigit():
        raise HTTPException(400, "choose a harm spot")
    at = now(request)
    tasks.add_street_briefing(request.app.state.engine, caller.account,
                              plan=str(form.get("plan") or ""), spot=int(spot), start=at,
                              due_at=at + timedelta(hours=72),
                              assignee=str(form.get("assignee") or "").strip() or None,
                              team=str(form.get("team") or "").strip() or None)
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit_page(request: Request, caller: Caller = require("audit.view")):
    rows = audit.entries(request.app.state.engine)[-500:]
    return _page(request, "audit.html", {"caller": caller, "rows": rows})
