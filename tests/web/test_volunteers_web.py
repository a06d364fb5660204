"""The coordinator's plan page and a volunteer's shifts page: role isolation through the app,
and both pages in real headless Chromium (Playwright, as tests/web/test_phone_browser.py)."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import ESSEX
from guardian.config import Settings
from guardian.operations.accounts import service as accounts
from guardian.operations.audit.models import AuditEntry
from guardian.operations.volunteers.models import Volunteer
from headless import CHROMIUM

FIX = Path(__file__).parents[1] / "fixtures"
PASSWORD = "correct horse battery"
AS_OF = datetime(2021, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A store with Essex 2021-11, the fixture roster and availability, a December plan for
    Basildon and Chelmsford, and accounts: coordinator, casey (a cadet, linked), alex (linked),
    kim (a volunteer account linked to no record). Each deployment needs 4, so every free
    person is used and the plan is unique (no ties)."""
    from guardian.operations.volunteers import availability, plans, registry
    from guardian.store.db import get_engine
    from guardian.store.ingest import ingest
    from guardian.web.app import create_app

    home = tmp_path_factory.mktemp("vol")
    engine = get_engine(f"sqlite:///{home / 'store.db'}")
    ingest(engine, [ESSEX / "2021-11-essex-street.csv.gz"])
    m = FIX / "volunteers-mapping.toml"
    registry.import_registry(engine, path=FIX / "volunteers-roster.csv", mapping=m,
                             today=AS_OF.date())
    availability.import_availability(engine, path=FIX / "volunteers-availability.csv", mapping=m)
    plan = plans.create_plan(engine, dataset="Essex Police", month="2021-12", lookback_months=1,
                             districts=["Basildon", "Chelmsford"], need=4, max_people=4,
                             time_limit_s=20)
    accounts.add_user(engine, username="coord", password=PASSWORD, role="volunteer-coordinator",
                      display_name="Coordinator")
    for u in ("casey", "alex", "kim"):
        accounts.add_user(engine, username=u, password=PASSWORD, role="volunteer",
                          display_name=u.title())
    app = create_app(Settings(home=home, database_url=str(engine.url)), engine=engine,
                     as_of=AS_OF)
    return app, engine, plan


def _client(app, user: str) -> tuple[TestClient, str]:
    c = TestClient(app, base_url="https://testserver")
    token = c.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    r = c.post("/login", data={"username": user, "password": PASSWORD, "csrf": token,
                               "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return c, c.get("/api/me").json()["csrf"]


def _vid(engine, source_id: str) -> str:
    with engine.connect() as c:
        return "V-" + str(c.execute(select(Volunteer.id).where(
            Volunteer.source_id == source_id)).scalar_one())


def test_a_volunteer_sees_only_their_own_shifts(site):
    app, engine, plan = site
    casey = _vid(engine, "VC001")
    c, csrf = _client(app, "casey")
    mine = c.get("/api/my/shifts").json()
    want = sorted(a["day"] for a in plan["assignments"] if a["volunteer"] == casey)
    assert sorted(s["day"] for s in mine["shifts"]) == want and want
    assert mine["volunteer"]["age_band"] == "under 13"
    assert "date_of_birth" not in mine["volunteer"]
    page = c.get("/my/shifts").text
    assert "Casey Cadet" in page and "Alex Citizen" not in page and "Sam Special" not in page
    for path in (f"/mobilise/{plan['ref']}", "/volunteers", f"/api/mobilise/{plan['ref']}",
                 f"/volunteers/{casey}/availability", f"/mobilise/{plan['ref']}/export.csv"):
        r = c.get(path)
        assert r.status_code == 403 and "may not do this" in r.text, path
    # her own availability, by the form; never someone else's
    r = c.post("/my/availability", data={"csrf": csrf, "month": "2021-12",
                                         "free": ["2021-12-05/0", "2021-12-12/0"]})
    assert r.status_code == 200 and 'value="2021-12-05/0" aria-label="2021-12-05 08-16" checked' in r.text
    alex = _vid(engine, "AC001")
    r = c.post(f"/volunteers/{alex}/availability", data={"csrf": csrf, "month": "2021-12"})
    assert r.status_code == 403
    ics = c.get("/my/shifts.ics")
    assert ics.status_code == 200 and ics.text.count("BEGIN:VEVENT") == len(want)


def test_an_unlinked_account_sees_nothing(site):
    app, _, _ = site
    c, _ = _client(app, "kim")
    assert c.get("/api/my/shifts").json() == {"volunteer": None, "shifts": []}
    assert "not linked" in c.get("/my/shifts").text
    assert c.get("/my/availability").status_code == 404


def test_the_coordinator_sees_the_plan_and_is_audited(site):
    app, engine, plan = site
    c, csrf = _client(app, "coord")
    assert c.get("/my/shifts").status_code == 403  # the coordinator has no shifts of their own
    page = c.get(f"/mobilise/{plan['ref']}")
    assert page.status_code == 200
    assert 'id="grid"' in page.text and "Largest gaps" in page.text
    assert page.text.count('data-key="') == 2 * 31 * 3
    with engine.connect() as conn:
        rows = conn.execute(select(AuditEntry.record).where(AuditEntry.username == "coord")).all()
    assert (f"mobilisation plan {plan['ref']}",) in [tuple(r) for r in rows]
    csv_text = c.get(f"/mobilise/{plan['ref']}/export.csv").text
    assert csv_text.splitlines()[0].startswith("plan,volunteer,name")
    assert c.get("/mobilise/M-999").status_code == 404
    assert c.get("/api/mobilise/nonsense").status_code == 400


pw = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(site):
    import uvicorn

    app, engine, plan = site
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://localhost:{port}", engine, plan
    srv.should_exit = True
    t.join(timeout=10)


@pytest.fixture
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _sign_in(page, base: str, user: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


@pytest.mark.browser
def test_coordinator_plan_page_in_a_browser(server, browser):
    base, engine, plan = server
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    _sign_in(page, base, "coord")
    page.wait_for_url(f"{base}/dashboard")
    page.goto(f"{base}/mobilise/{plan['ref']}")
    grid = page.locator("#grid")
    assert grid.locator("tbody tr").count() == 2  # Basildon, Chelmsford
    sam = _vid(engine, "SC001")
    cell = page.locator('[data-key="Basildon|2021-12-11|0"]')
    assert cell.inner_text() == "3" and "part" in cell.get_attribute("class")  # 3 of 4 needed
    assert "full" in page.locator('[data-key="Basildon|2021-12-04|0"]').get_attribute("class")
    assert "demand" in cell.get_attribute("title")
    assert page.locator("#gaps tbody tr").count() == 15
    # a Special drops out: re-solve from the page
    page.fill("#resolve-form input[name=drop]", sam)
    page.click("#resolve-form button")
    page.wait_for_url(f"{base}/mobilise/M-*")
    assert f"re-solve of {plan['ref']}" in page.locator("#summary").inner_text()
    cell = page.locator('[data-key="Basildon|2021-12-11|0"]')
    assert cell.inner_text() == ""  # the cadet may not go without the Special; PSV alone < 2


@pytest.mark.browser
def test_volunteer_shifts_page_in_a_browser(server, browser):
    base, engine, plan = server
    page = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                               has_touch=True).new_page()
    _sign_in(page, base, "alex")
    page.goto(f"{base}/my/shifts")
    alex = _vid(engine, "AC001")
    items = page.locator("#shifts li.task")
    mine = plans_of(engine, alex)
    assert items.count() == len(mine) and mine
    assert "Alex Citizen" in page.locator("#me").inner_text()
    first = items.first.inner_text()
    assert mine[0] in first and "team of" in first
    page.click("text=When am I free?")
    page.wait_for_selector("#availability-form")
    page.check('input[aria-label="2021-12-20 16-24"]')
    page.click("#availability-form button")
    page.wait_for_selector("#availability-form")
    assert page.is_checked('input[aria-label="2021-12-20 16-24"]')


def plans_of(engine, ref: str) -> list[str]:
    """Days of ``ref``'s shifts in the latest plan (read from the store, not the page)."""
    from guardian.operations.volunteers.plans import get_plan, list_plans

    latest = list_plans(engine)[0]["ref"]
    return sorted(a["day"] for a in get_plan(engine, plan_id=latest)["assignments"]
                  if a["volunteer"] == ref)
