"""The officer's phone in real headless Chromium (Playwright driving the system Chromium) at a
390x844 viewport, on real Essex data: sign in, see the tasks, record a visit in two taps, and
record one with the network off that reaches the server exactly once when it is back."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from conftest import ESSEX
from guardian.config import Settings
from guardian.operations.accounts import service as accounts
from guardian.operations.tasks.models import Submission, Task
from headless import CHROMIUM

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")]
playwright = pytest.importorskip("playwright.sync_api")
PASSWORD = "correct horse battery"
# Screenshots go to a temporary folder; GUARDIAN_SCREENSHOTS=docs/img refreshes the docs' copies.
SHOTS = Path(os.environ.get("GUARDIAN_SCREENSHOTS") or tempfile.mkdtemp(prefix="shots-"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Uvicorn on loopback over a store with Essex 2021-11..12, the December cocoons, a patrol
    plan for Basildon and their tasks, ten cocoon visits assigned to officer pc1234."""
    import uvicorn

    from guardian.operations.cocoons.service import open_cocoons
    from guardian.operations.patrols.service import create_plan
    from guardian.operations.tasks.service import sync_tasks
    from guardian.store.db import get_engine
    from guardian.store.ingest import ingest
    from guardian.web.app import create_app

    home = tmp_path_factory.mktemp("phone")
    engine = get_engine(f"sqlite:///{home / 'store.db'}")
    ingest(engine, [ESSEX / "2021-11-essex-street.csv.gz", ESSEX / "2021-12-essex-street.csv.gz"])
    as_of = datetime(2021, 12, 31, 18, 0, tzinfo=UTC)
    open_cocoons(engine, dataset="Essex Police", as_of=as_of, start_month="2021-12")
    create_plan(engine, dataset="Essex Police", district="Basildon", week="2021-12-27",
                lookback_months=1)
    sync_tasks(engine)
    accounts.add_user(engine, username="pc1234", password=PASSWORD, role="officer",
                      display_name="PC 1234", team="basildon-a")
    accounts.add_user(engine, username="csp", password=PASSWORD, role="partner")
    accounts.add_user(engine, username="insp", password=PASSWORD, role="supervisor")
    with engine.begin() as conn:
        ids = conn.execute(select(Task.id).where(Task.kind == "cocoon-visit")
                           .order_by(Task.due_at.desc(), Task.id).limit(10)).scalars().all()
        conn.execute(update(Task).where(Task.id.in_(ids)).values(assignee="pc1234"))
    app = create_app(Settings(home=home, database_url=str(engine.url)), engine=engine,
                     as_of=as_of)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://localhost:{port}", engine
    srv.should_exit = True
    t.join(timeout=10)


@pytest.fixture
def phone(server):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
        yield ctx.new_page(), ctx
        browser.close()


def _sign_in(page, base: str, user: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def _done(engine, task_id: int) -> tuple[str, str | None, int]:
    with engine.connect() as c:
        st, outcome = c.execute(select(Task.status, Task.outcome).where(Task.id == task_id)).one()
        subs = c.execute(select(func.count()).select_from(Submission)
                         .where(Submission.task_id == task_id)).scalar_one()
    return st, outcome, subs


def test_two_taps_record_a_visit(server, phone):
    base, engine = server
    page, _ = phone
    _sign_in(page, base, "pc1234")
    page.wait_for_url(f"{base}/my")
    items = page.locator("#tasks li.task a")
    assert items.count() == 10
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "phone-my-tasks.png"))
    task_id = int(items.first.get_attribute("data-task"))
    items.first.tap()  # tap 1: open the task
    page.wait_for_selector("#outcome-form")
    page.screenshot(path=str(SHOTS / "phone-task.png"))
    page.locator("button[value=advice]").tap()  # tap 2: the outcome
    page.wait_for_url(f"{base}/my")
    assert _done(engine, task_id) == ("done", "advice", 1)
    assert page.locator("#tasks li.task a").count() == 9


def test_offline_visit_is_sent_once_when_back_online(server, phone):
    base, engine = server
    page, ctx = phone
    _sign_in(page, base, "pc1234")
    page.wait_for_url(f"{base}/my")
    first = page.locator("#tasks li.task a").first
    task_id = int(first.get_attribute("data-task"))
    first.tap()
    page.wait_for_selector("#outcome-form")
    ctx.set_offline(True)
    page.locator("button[value=spoke]").tap()
    page.wait_for_function("document.getElementById('queue').textContent.includes('1 visit')")
    assert _done(engine, task_id) == ("open", None, 0)
    ctx.set_offline(False)
    page.wait_for_function("document.getElementById('queue').textContent === ''", timeout=10000)
    assert _done(engine, task_id) == ("done", "spoke", 1)
    # the phone resends (e.g. the answer was lost): the server still holds it once
    page.reload()
    status = page.evaluate("""() => fetch('/api/tasks/TASK_ID/outcome', {method: 'POST',
        headers: {'Content-Type': 'application/json',
                  'X-CSRF-Token': document.querySelector('meta[name=csrf]').content},
        body: JSON.stringify({outcome: 'spoke',
                              key: JSON.parse(localStorage.getItem('guardian-last') || 'null')
                                   || 'never-used-key'})}).then(r => r.status)"""
                  .replace("TASK_ID", str(task_id)))
    assert status == 200  # the same key: answered with the first answer, not a 409
    assert _done(engine, task_id)[2] == 1


def test_partner_dashboard_has_no_victim_address(server, phone):
    base, engine = server
    page, _ = phone
    _sign_in(page, base, "csp")
    page.wait_for_url(f"{base}/dashboard")
    with engine.connect() as c:
        places = c.execute(select(Task.place).where(Task.sensitive.is_(True)).limit(50)).scalars()
        places = [p for p in places if p]
    html = page.content()
    assert "Live cocoons" in html and not any(p in html for p in places)
    spots = page.locator("#spots tbody tr")
    assert spots.count() > 0 and "harm" in spots.first.inner_text().lower()
    assert page.locator("#assign-form").count() == 0  # partners do not assign
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(SHOTS / "dashboard-partner.png"), full_page=True)
    assert page.goto(f"{base}/api/tasks").status == 403


def test_supervisor_assigns_a_task_from_the_dashboard(server, phone):
    base, engine = server
    page, _ = phone
    page.set_viewport_size({"width": 1280, "height": 900})  # a commander's desk
    _sign_in(page, base, "insp")
    page.wait_for_url(f"{base}/dashboard")
    box = page.locator("#assign-form input[name=task]").first
    task_id = int(box.get_attribute("value"))
    box.check()
    page.fill("#assignee", "pc1234")
    page.click("#assign-form button[type=submit]")
    page.wait_for_url(f"{base}/dashboard")
    with engine.connect() as c:
        assert c.execute(select(Task.assignee).where(Task.id == task_id)).scalar_one() == "pc1234"


def test_patrol_visit_records_start_end_and_interactions(server, phone):
    from datetime import timedelta

    from guardian.operations.patrols.models import PatrolVisit

    base, engine = server
    page, _ = phone
    with engine.begin() as conn:
        tid = conn.execute(select(Task.id).where(
            Task.kind == "patrol-visit", Task.window_start <= datetime(2021, 12, 31, 18),
            Task.due_at > datetime(2021, 12, 31, 18)).order_by(Task.id)).scalars().first()
        conn.execute(update(Task).where(Task.id == tid).values(assignee="pc1234"))
    _sign_in(page, base, "pc1234")
    page.wait_for_url(f"{base}/my")
    page.locator(f"a[data-task='{tid}']").tap()
    page.wait_for_selector("#outcome-form")
    page.fill("#business_checks", "2")
    page.fill("#engagements", "5")
    page.fill("#minutes", "20")
    page.locator("button[value=patrolled]").tap()
    page.wait_for_url(f"{base}/my")
    with engine.connect() as c:
        v = c.execute(select(PatrolVisit.__table__)).one()
    assert (v.business_checks, v.engagements, v.arrests, v.officer) == (2, 5, 0, "pc1234")
    assert v.end_at - v.start_at == timedelta(minutes=20)
    assert _done(engine, tid)[:2] == ("done", "patrolled")


def test_tasks_are_ordered_nearest_first_from_the_phones_position(server):
    base, engine = server
    with engine.connect() as c:
        rows = c.execute(select(Task.id, Task.lat, Task.lon).where(
            Task.assignee == "pc1234", Task.status == "open", Task.kind == "cocoon-visit")).all()
    far = max(rows, key=lambda r: r.lat)  # stand at the northernmost task
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  geolocation={"latitude": far.lat, "longitude": far.lon},
                                  permissions=["geolocation"])
        page = ctx.new_page()
        _sign_in(page, base, "pc1234")
        page.wait_for_url(f"{base}/my")
        page.wait_for_function("document.querySelector('#tasks li.task').dataset.dist !== undefined")
        shown = [int(a.get_attribute("data-task")) for a in page.locator("#tasks li.task a").all()]
        browser.close()
    import math

    def dist(r):  # brute force, same great-circle formula
        la, lo = math.radians(far.lat), math.radians(far.lon)
        b, c = math.radians(r.lat), math.radians(r.lon)
        h = math.sin((b - la) / 2) ** 2 + math.cos(la) * math.cos(b) * math.sin((c - lo) / 2) ** 2
        return 12742000 * math.asin(math.sqrt(h))

    want = [r.id for r in sorted([r for r in rows if r.id in shown], key=dist)]
    assert shown[0] == far.id and [dist(next(r for r in rows if r.id == i)) for i in shown] == \
        sorted(dist(next(r for r in rows if r.id == i)) for i in shown)
    assert set(shown) == set(want)
