"""Web: the review queue of GPS-tag proximity hits (reviewers only; every view audited).

A hit is intelligence for a person to judge, never evidence: the pages show the distance,
time difference, dwell and the trail just before and after, and ask for an outcome
(discounted, or passed for investigation) with a reason.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from guardian.operations.tagmatch import service
from guardian.web.security import Caller, require

router = APIRouter(include_in_schema=False)


def _page(request: Request, name: str, ctx: dict):
    return request.app.state.templates.TemplateResponse(request, name, ctx)


@router.get("/review", response_class=HTMLResponse)
async def review_queue(request: Request, status: str = "pending",
                       caller: Caller = require("tagmatch.review")):
    hits = service.queue(request.app.state.engine, caller.account, status=status)
    return _page(request, "review.html", {"caller": caller, "hits": hits, "status": status,
                                          "counts": service.counts(request.app.state.engine)})


@router.get("/review/{hit_id}", response_class=HTMLResponse)
async def review_hit(request: Request, hit_id: int, caller: Caller = require("tagmatch.review")):
    hit = service.get_hit(request.app.state.engine, caller.account, hit_id)
    return _page(request, "review_hit.html", {"caller": caller, "hit": hit,
                                              "outcomes": service.OUTCOMES})


@router.post("/review/{hit_id}/decision")
async def review_decision(request: Request, hit_id: int,
                          caller: Caller = require("tagmatch.review")):
    form = await request.form()
    service.decide(request.app.state.engine, caller.account, hit_id,
                   outcome=str(form.get("outcome") or ""), reason=str(form.get("reason") or ""))
    return RedirectResponse("/review", status_code=303)
