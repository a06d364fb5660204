"""The officer's task page is rendered once per unchanged list: every change shows at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from webkit import AS_OF, seed, sign_in

from guardian.config import Settings
from guardian.operations.tasks.models import Task
from guardian.web.app import PageCache, create_app


@pytest.fixture
def web(engine, tmp_path):
    ids = seed(engine)
    app = create_app(Settings(home=tmp_path / "home", database_url=str(engine.url)),
                     engine=engine, as_of=AS_OF)
    return app, ids, engine


def _refs(html: str) -> list[str]:
    return [part.split('"')[0] for part in html.split('data-task="')[1:]]


def test_a_change_to_any_row_shows_on_the_next_load(web):
    app, ids, engine = web
    client, csrf = sign_in(app, "officer")
    first = client.get("/my").text
    assert client.get("/my").text == first  # unchanged list: the same page
    assert len(app.state.page_cache._items) == 1
    assert sorted(_refs(first)) == sorted(str(i) for i in (ids["victim"], ids["briefing"]))

    # a task assigned outside the app (the CLI, another worker) appears at once
    with engine.begin() as conn:
        conn.execute(update(Task).where(Task.id == ids["other"]).values(assignee="officer"))
    assert str(ids["other"]) in _refs(client.get("/my").text)

    # so does a change of wording on a row already listed
    with engine.begin() as conn:
        conn.execute(update(Task).where(Task.id == ids["briefing"]).values(why="changed why"))
    assert "changed why" in client.get("/my").text

    # and a visit recorded through the app removes it
    r = client.post(f"/api/tasks/{ids['briefing']}/outcome", headers={"X-CSRF-Token": csrf},
                    json={"outcome": "briefed", "key": "cache-test-1"})
    assert r.status_code == 200
    assert str(ids["briefing"]) not in _refs(client.get("/my").text)


def test_overdue_marks_follow_the_clock(web):
    app, ids, engine = web
    client, _ = sign_in(app, "officer")
    assert "overdue" not in client.get("/my").text
    # the same rows, later than their due time: same minute key would be wrong, so the page
    # must be rendered again with the overdue marks
    app.state.fixed_now = AS_OF + timedelta(hours=7)
    assert "· overdue" in client.get("/my").text


def test_another_session_never_gets_someone_elses_page(web):
    app, _, _ = web
    a, csrf_a = sign_in(app, "officer")
    b, csrf_b = sign_in(app, "supervisor")  # same team, different person and session
    page_a, page_b = a.get("/my").text, b.get("/my").text
    assert csrf_a in page_a and csrf_a not in page_b
    assert csrf_b in page_b and "supervisor" in page_b.lower()


def test_page_cache_keeps_the_most_recent_entries():
    c = PageCache(size=2)
    c.put("a", b"1")
    c.put("b", b"2")
    assert c.get("a") == b"1"  # a is now the most recent
    c.put("c", b"3")
    assert c.get("b") is None and c.get("a") == b"1" and c.get("c") == b"3"


def test_sessions_are_trusted_for_a_second_and_revocations_here_apply_at_once(web,
                                                                             monkeypatch):
    from sqlalchemy import update as sql_update

    from guardian.operations.accounts import service as accounts
    from guardian.operations.accounts.models import WebSession
    from guardian.web import security

    clock = [1000.0]  # the cache's clock, moved by hand so the test does not depend on speed
    monkeypatch.setattr(security, "_clock", lambda: clock[0])
    app, _, engine = web
    client, _ = sign_in(app, "officer")
    assert client.get("/api/me").status_code == 200
    # another process revokes every session: this one notices within SESSION_FRESH_S
    with engine.begin() as conn:
        conn.execute(sql_update(WebSession).values(revoked=True))
    clock[0] += security.SESSION_FRESH_S * 0.9
    assert client.get("/api/me").status_code == 200  # still fresh in this process
    clock[0] += security.SESSION_FRESH_S * 0.2
    assert client.get("/api/me").status_code == 401
    # a revocation made by this process (role change, disabling, sign-out) applies at once
    other, _ = sign_in(app, "supervisor")
    assert other.get("/api/me").status_code == 200
    accounts.set_role(engine, username="supervisor", role="analyst")
    assert other.get("/api/me").status_code == 401
