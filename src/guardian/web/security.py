"""Sessions, CSRF and permissions as FastAPI dependencies.

The session cookie holds a random token (HttpOnly, Secure, SameSite=Strict); the server keeps
only its hash. Every unsafe request (POST) must carry the session's CSRF token: a form field
``csrf`` for pages, the header ``X-CSRF-Token`` for the API. Permissions are dependencies made
by :func:`require`, and each records its permission on the route so tests can enumerate them.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request

from guardian.operations.accounts import service as accounts
from guardian.operations.accounts.roles import allowed
from guardian.operations.accounts.service import Account

COOKIE = "guardian_session"


@dataclass(frozen=True)
class Caller:
    """The signed-in user of a request and their session's CSRF token."""

    account: Account
    csrf: str


class NotSignedIn(Exception):
    """No live session (pages redirect to the sign-in page; the API answers 401)."""


#: How long a process trusts a session it has looked up, seconds. Sign-out, a role change or a
#: disabled account take effect at once in the process that made them and within this time in
#: the other server processes (and after ``guardian users disable`` on the command line).
SESSION_FRESH_S = 1.0
_clock = time.monotonic


def current(request: Request) -> Caller:
    """The caller, or :class:`NotSignedIn`."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise NotSignedIn()
    cache = getattr(request.app.state, "sessions", None)
    seen = accounts.revocations()
    clock = _clock()
    if cache is not None:
        hit = cache.get(token)
        if hit is not None and hit[0] > clock and hit[1] == seen:
            return hit[2]
    found = accounts.session_account(request.app.state.engine, token)
    if found is None:
        raise NotSignedIn()
    caller = Caller(*found)
    if cache is not None:
        cache.put(token, (clock + SESSION_FRESH_S, seen, caller))
    return caller


async def check_csrf(request: Request, caller: Caller) -> None:
    """Refuse an unsafe request without the session's CSRF token (403)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        sent = form.get("csrf")
    if not sent or not hmac.compare_digest(str(sent), caller.csrf):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page and try again")


def require(permission: str):
    """A dependency: the caller, who must hold ``permission`` (403 otherwise) and, on POST,
    send the CSRF token.

    Handlers and this dependency are ``async`` and call the store directly: each request's
    queries take well under a millisecond on an indexed store, and skipping the thread-pool hop
    per call is what lets one worker serve the phone's pages at hundreds of requests a second.
    """

    async def dependency(request: Request) -> Caller:
        caller = current(request)
        if not allowed(caller.account.role, permission):
            raise HTTPException(403, f"your role ({caller.account.role}) may not do this "
                                     f"({permission})")
        await check_csrf(request, caller)
        return caller

    dependency.permission = permission  # type: ignore[attr-defined]
    return Depends(dependency)


def route_permission(route) -> str | None:
    """The permission a route's dependencies require (None: public)."""
    for dep in getattr(route, "dependant", None).dependencies if hasattr(route, "dependant") else []:
        perm = getattr(dep.call, "permission", None)
        if perm:
            return perm
    return None
