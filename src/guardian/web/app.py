"""The app factory: settings built when asked, one place mapping domain errors to HTTP."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from guardian.config import Settings, get_settings
from guardian.errors import Conflict, Forbidden, GuardianError, InputError, NotFound
from guardian.web.cache import PageCache
from guardian.web.security import NotSignedIn

# 400 for input Guardian refuses (422 stays FastAPI's: a request that does not fit the schema).
_STATUS = {InputError: 400, NotFound: 404, Forbidden: 403, Conflict: 409}


def _throttle_key(home: Path) -> bytes:
    """The key of the address hashes used for sign-in throttling, kept in ``home``."""
    path = home / "web_secret.key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(secrets.token_bytes(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_bytes()


def create_app(settings: Settings | None = None, *, engine=None, as_of: datetime | None = None,
               secure_cookies: bool = True) -> FastAPI:
    """Build the app.

    Parameters
    ----------
    settings : Settings, optional
        Default: from the environment.
    engine : sqlalchemy.Engine, optional
        Default: the store of ``settings`` (migrated).
    as_of : datetime, optional
        The app's clock for task windows and visit times (the demo on historical data runs "as
        of" the end of its latest month); default: real time.
    secure_cookies : bool
        Mark the session cookie Secure (default; browsers accept it on http://localhost).
    """
    from guardian.store.db import get_engine
    from guardian.web import api, initiatives, pages, review, streetsafe, volunteers

    settings = settings or get_settings()
    app = FastAPI(title="Guardian", version="0.1.0",
                  description="Crime-prevention coordination: tasks, dashboard, officer's phone.")
    app.state.engine = engine or get_engine(settings.database_url)
    app.state.settings = settings
    app.state.fixed_now = as_of.astimezone(UTC) if as_of else None
    app.state.throttle_key = _throttle_key(settings.home)
    app.state.secure_cookies = secure_cookies
    app.state.page_cache = PageCache()
    app.state.sessions = PageCache(4096)  # token -> (fresh until, revocations seen, caller)
    from guardian.web.dashboard import HeadlineCache

    app.state.headlines = HeadlineCache()
    tdir = resources.files("guardian.web") / "templates"
    app.state.templates = Jinja2Templates(directory=str(tdir))
    from guardian.operations.accounts.roles import allowed

    # pages show a room's link only to the roles that may enter it (the same table as routes)
    app.state.templates.env.globals["can"] = allowed
    app.state.templates.env.globals["kind_label"] = {
        "cocoon-visit": "Cocoon visit", "patrol-visit": "Patrol", "street-briefing":
        "Street briefing", "volunteer-shift": "Volunteer shift", "leaflet-drop":
        "Leaflet drop"}.get
    app.mount("/static", StaticFiles(directory=str(resources.files("guardian.web") / "static")),
              name="static")
    from guardian.reports.interactive import leaflet_dir

    leaflet = leaflet_dir()
    app.state.leaflet = leaflet is not None
    if leaflet is not None:
        app.mount("/vendor/leaflet", StaticFiles(directory=str(leaflet)), name="leaflet")
    app.include_router(api.router)
    app.include_router(pages.router)
    for extra in (streetsafe, volunteers, initiatives, review):
        app.include_router(extra.router)
    app.add_middleware(streetsafe.ReportFastPath)

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, exc: NotSignedIn):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(GuardianError)
    async def _domain(request: Request, exc: GuardianError):
        code = next((c for k, c in _STATUS.items() if isinstance(exc, k)), 400)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=code)
        return app.state.templates.TemplateResponse(
            request, "error.html", {"message": str(exc), "code": code}, status_code=code)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if request.url.path.startswith("/api/") or request.url.path.startswith("/static/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return app.state.templates.TemplateResponse(
            request, "error.html", {"message": exc.detail, "code": exc.status_code},
            status_code=exc.status_code)

    @app.get("/health", include_in_schema=False)
    def health() -> dict:
        return {"ok": True}

    return app


def app_from_environment() -> FastAPI:
    """The app of ``guardian serve --workers N``: one per worker process, its clock and cookie
    setting handed over in ``GUARDIAN_SERVE_AS_OF`` / ``GUARDIAN_SERVE_INSECURE_COOKIES``."""
    import os

    at = os.environ.get("GUARDIAN_SERVE_AS_OF") or None
    return create_app(as_of=datetime.fromisoformat(at) if at else None,
                      secure_cookies=not os.environ.get("GUARDIAN_SERVE_INSECURE_COOKIES"))


def now(request: Request) -> datetime:
    """The app's clock (aware UTC)."""
    return request.app.state.fixed_now or datetime.now(UTC)
