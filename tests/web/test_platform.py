"""The web platform: roles per route, CSRF, throttling, the audit log, idempotent outcomes."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import func, select, text
from webkit import AS_OF, PASSWORD, VICTIM_PLACE, seed, sign_in

from guardian.config import Settings
from guardian.errors import Forbidden
from guardian.operations.accounts import service as accounts
from guardian.operations.accounts.roles import ROLES, allowed
from guardian.operations.audit.models import AuditEntry
from guardian.operations.tasks.models import Submission
from guardian.web.app import create_app
from guardian.web.security import route_permission


@pytest.fixture
def web(engine, tmp_path):
    """(app, task ids) on SQLite and PostgreSQL."""
    ids = seed(engine)
    app = create_app(Settings(home=tmp_path / "home", database_url=str(engine.url)),
                     engine=engine, as_of=AS_OF)
    return app, ids


# Routes anyone may reach (signing in) or any signed-in user (their own identity, signing out).
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/health"), ("GET", "/streetsafe"), ("POST", "/streetsafe"), ("POST", "/api/streetsafe/reports"), ("GET", "/api/streetsafe/token"), ("GET", "/api/streetsafe/public")}  # noqa: E501
SIGNED_IN = {("GET", "/api/me"), ("POST", "/logout"), ("GET", "/")}


def _routes(app):
    for r in app.routes:
        if isinstance(r, APIRoute):
            for m in r.methods - {"HEAD"}:
                yield m, r.path, route_permission(r)


def _fill(path: str, ids) -> str:
    return path.replace("{task_id}", str(ids["briefing"]))


def _body(path: str, ids) -> dict | None:
    if path.endswith("/outcome"):
        return {"outcome": "briefed", "key": "k-" + "x" * 10}
    if path.endswith("/assign"):
        return {"tasks": [ids["other"]], "assignee": "officer"}
    return None


def test_every_route_declares_who_may_use_it(web):
    app, _ = web
    for method, path, perm in _routes(app):
        if (method, path) in PUBLIC | SIGNED_IN or path.startswith(("/openapi", "/docs",
                                                                    "/redoc")):
            continue
        assert perm is not None, f"{method} {path} has no permission dependency"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_only_its_routes(web, role):
    app, ids = web
    client, csrf = sign_in(app, role)
    for method, path, perm in _routes(app):
        if perm is None:
            continue
        url = _fill(path, ids)
        if method == "GET":
            r = client.get(url)
        else:
            r = client.request(method, url, json=_body(path, ids), headers={"X-CSRF-Token": csrf},
                               data=None if _body(path, ids) else {"outcome": "briefed",
                                                                   "key": "k" * 12,
                                                                   "csrf": csrf})
        refused = r.status_code == 403 and "may not do this" in r.text
        assert refused == (not allowed(role, perm)), (role, method, path, r.status_code, r.text)


def test_signed_out_is_sent_to_sign_in(web):
    app, _ = web
    from fastapi.testclient import TestClient

    c = TestClient(app, base_url="https://testserver")
    assert c.get("/api/tasks/mine").status_code == 401
    r = c.get("/my", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_posts_without_csrf_are_refused(web):
    app, ids = web
    client, csrf = sign_in(app, "officer")
    r = client.post(f"/api/tasks/{ids['briefing']}/outcome",
                    json={"outcome": "briefed", "key": "abcdefgh12"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = client.post(f"/my/tasks/{ids['briefing']}/outcome",
                    data={"outcome": "briefed", "key": "abcdefgh12"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = client.post(f"/my/tasks/{ids['briefing']}/outcome",
                    data={"outcome": "briefed", "key": "abcdefgh12", "csrf": "forged"})
    assert r.status_code == 403
    from fastapi.testclient import TestClient

    fresh = TestClient(app, base_url="https://testserver")
    r = fresh.post("/login", data={"username": "officer", "password": PASSWORD, "csrf": "x"})
    assert r.status_code == 403
    ok = client.post(f"/my/tasks/{ids['briefing']}/outcome", follow_redirects=False,
                     data={"outcome": "briefed", "key": "abcdefgh12", "csrf": csrf})
    assert ok.status_code == 303


def test_cookie_is_secure_httponly_samesite(web):
    app, _ = web
    from fastapi.testclient import TestClient

    c = TestClient(app, base_url="https://testserver")
    token = c.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    r = c.post("/login", data={"username": "officer", "password": PASSWORD, "csrf": token},
               follow_redirects=False)
    cookie = [h for h in r.headers.get_list("set-cookie") if h.startswith("guardian_session=")][0]
    low = cookie.lower()
    assert "httponly" in low and "secure" in low and "samesite=strict" in low


def test_partner_never_receives_a_victim_location(web):
    app, ids = web
    client, _ = sign_in(app, "partner")
    for path in ("/api/dashboard", "/dashboard", "/api/tasks", "/api/tasks/mine",
                 f"/api/tasks/{ids['victim']}?justification=analysis%20for%20tasking"):
        r = client.get(path)
        assert VICTIM_PLACE not in r.text and "51.57" not in r.text, path


def test_reading_a_victim_address_writes_exactly_one_audit_entry(web):
    app, ids = web
    engine = app.state.engine
    client, _ = sign_in(app, "officer")

    def count():
        with engine.connect() as c:
            return c.execute(select(func.count()).select_from(AuditEntry)).scalar_one()

    r = client.get(f"/api/tasks/{ids['victim']}")
    assert r.json()["place"] is None and count() == 0
    r = client.get(f"/api/tasks/{ids['victim']}", params={"justification": "victim contact"})
    assert r.json()["place"] == VICTIM_PLACE and count() == 1
    client.get(f"/api/tasks/{ids['briefing']}", params={"justification": "victim contact"})
    assert count() == 1  # not a victim's address: nothing to log
    e = client.get("/api/tasks/mine").json()
    assert all(t["place"] is None for t in e if t["sensitive"])
    assert count() == 1
    admin, _ = sign_in(app, "admin")
    rows = admin.get("/api/audit").json()
    assert [(x["username"], x["operation"], x["justification"]) for x in rows] == [
        ("officer", "consult", "victim contact")]
    assert f"task T-{ids['victim']} (victim address)" == rows[0]["record"]


def test_audit_log_is_append_only_in_the_database(web):
    app, ids = web
    engine = app.state.engine
    client, _ = sign_in(app, "officer")
    client.get(f"/api/tasks/{ids['victim']}", params={"justification": "victim contact"})
    for sql in ("UPDATE audit_log SET justification = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text(sql))
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == 1


def test_outcome_is_recorded_once_per_key(web):
    app, ids = web
    engine = app.state.engine
    client, csrf = sign_in(app, "officer")
    url = f"/api/tasks/{ids['briefing']}/outcome"
    body = {"outcome": "briefed", "key": "phone-key-0001", "note": "spoke to shop owners"}
    first = client.post(url, json=body, headers={"X-CSRF-Token": csrf})
    again = client.post(url, json=body, headers={"X-CSRF-Token": csrf})
    assert first.status_code == again.status_code == 200
    assert first.json()["replayed"] is False and again.json()["replayed"] is True
    assert again.json()["task"] == first.json()["task"]
    other = client.post(url, json=body | {"key": "phone-key-0002"}, headers={"X-CSRF-Token": csrf})
    assert other.status_code == 409
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(Submission)).scalar_one() == 1
        notes = c.execute(select(AuditEntry.record)).scalars().all()
    assert notes == [f"task T-{ids['briefing']} (visit note)"]
    mine = client.get("/api/tasks/mine").json()
    assert ids["briefing"] not in [t["id"] for t in mine]


def test_officer_cannot_record_someone_elses_task(web):
    app, ids = web
    client, csrf = sign_in(app, "officer")
    r = client.post(f"/api/tasks/{ids['other']}/outcome", headers={"X-CSRF-Token": csrf},
                    json={"outcome": "briefed", "key": "abcdefgh99"})
    assert r.status_code == 403 and "not assigned to you" in r.text


def test_login_throttling_and_lockout(web):
    app, _ = web
    engine = app.state.engine
    key = b"k" * 32
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(Exception, match="wrong username or password"):
            accounts.authenticate(engine, username="analyst", password="nope", address="a1",
                                  key=key)
    with pytest.raises(Exception, match="locked"):
        accounts.authenticate(engine, username="analyst", password=PASSWORD, address="a2",
                              key=key)
    # another account from a fresh address still signs in
    assert accounts.authenticate(engine, username="partner", password=PASSWORD, address="a3",
                                 key=key).role == "partner"
    for i in range(accounts.MAX_ADDRESS_FAILURES):
        with pytest.raises(Forbidden):
            accounts.authenticate(engine, username=f"nobody{i}", password="x", address="a9",
                                  key=key)
    with pytest.raises(Exception, match="too many failed sign-ins from this address"):
        accounts.authenticate(engine, username="partner", password=PASSWORD, address="a9",
                              key=key)


def test_disabled_and_role_change_end_sessions(web):
    app, _ = web
    client, _ = sign_in(app, "analyst")
    assert client.get("/api/tasks").status_code == 200
    accounts.set_role(app.state.engine, username="analyst", role="partner")
    assert client.get("/api/tasks").status_code == 401
    client, _ = sign_in(app, "officer")
    accounts.disable_user(app.state.engine, username="officer")
    assert client.get("/api/tasks/mine").status_code == 401


def test_openapi_documents_the_api(web):
    app, _ = web
    from fastapi.testclient import TestClient

    doc = TestClient(app, base_url="https://testserver").get("/openapi.json").json()
    for p in ("/api/tasks/mine", "/api/tasks/{task_id}/outcome", "/api/dashboard", "/api/audit"):
        assert p in doc["paths"]
