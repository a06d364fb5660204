"""Web test helpers: a store with users of every role and tasks, and a signed-in client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import insert

from guardian.operations.accounts import service as accounts
from guardian.operations.accounts.roles import ROLES
from guardian.operations.tasks.models import Task
from guardian.store.models import Dataset

PASSWORD = "correct horse battery"
AS_OF = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
VICTIM_PLACE = "12 Acacia Avenue, Basildon"


def user_of(role: str) -> str:
    return role.replace("-", "")


def seed(engine) -> dict[str, int]:
    """Users of every role (officer and supervisor on team 'north') and three tasks: the
    officer's victim visit, the officer's street briefing, and one of nobody's."""
    for role in ROLES:
        accounts.add_user(engine, username=user_of(role), password=PASSWORD, role=role,
                          team="north" if role in ("officer", "supervisor") else None)
    now = AS_OF.replace(tzinfo=None)
    with engine.begin() as conn:
        ds = conn.execute(insert(Dataset).values(name="Essex Police", kind="police.uk",
                                                 crs="EPSG:27700", timezone="Europe/London",
                                                 created_at=now)
                          .returning(Dataset.id)).scalar_one()
        base = dict(dataset_id=ds, district="Basildon", x=572000.0, y=189000.0, lon=0.46,
                    lat=51.57, window_start=now - timedelta(hours=2), due_at=now + timedelta(
                        hours=6), status="open", detail={}, area="Basildon: zone")
        ids = {}
        for name, extra in {
            "victim": dict(kind="street-briefing", source_ref="S-1", place=VICTIM_PLACE,
                           sensitive=True, assignee="officer", why="the victim's address"),
            "briefing": dict(kind="street-briefing", source_ref="S-2", place="High Street",
                             sensitive=False, assignee="officer", why="street briefing"),
            "other": dict(kind="street-briefing", source_ref="S-3", place="Mill Lane",
                          sensitive=False, assignee=None, team=None, why="unassigned"),
        }.items():
            ids[name] = conn.execute(insert(Task).values(**base, **extra)
                                     .returning(Task.id)).scalar_one()
    return ids


def sign_in(app, role: str) -> tuple[TestClient, str]:
    """A client signed in as the user of ``role``, and its CSRF token."""
    c = TestClient(app, base_url="https://testserver")
    page = c.get("/login")
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    r = c.post("/login", data={"username": user_of(role), "password": PASSWORD, "csrf": token,
                               "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return c, c.get("/api/me").json()["csrf"]
