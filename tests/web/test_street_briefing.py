"""Street briefings: a supervisor turns a harm spot into a task for an officer or a team."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, insert, select
from webkit import AS_OF, seed, sign_in

from guardian.config import Settings
from guardian.errors import Conflict, Forbidden, NotFound
from guardian.operations.accounts import service as accounts
from guardian.operations.patrols.models import PatrolPlan, PatrolSpot
from guardian.operations.tasks import service as tasks
from guardian.operations.tasks.models import Task
from guardian.store.models import Dataset
from guardian.web.app import create_app


def _plan(engine) -> int:
    with engine.begin() as conn:
        ds = conn.execute(select(Dataset.id)).scalar_one()
        pid = conn.execute(insert(PatrolPlan).values(
            dataset_id=ds, district="Basildon", week_start=date(2026, 11, 30),
            created_at=AS_OF.replace(tzinfo=None), cell_m=150.0, spots_requested=2,
            visits_per_day=3, minutes=15.0, design="every-day", patrol_days=7, seed=None,
            start_month="2026-09", end_month="2026-11", categories=[], excluded_categories=[],
            harm_basis="css", precision="approximate", hours={}, summary={}, notes=[])
            .returning(PatrolPlan.id)).scalar_one()
        for rank, street, why in ((1, "High Road", "7.1% of the district's harm in 0.1% "
                                   "of its area"), (2, "Mill Lane", "4.0% of harm")):
            conn.execute(insert(PatrolSpot).values(
                plan_id=pid, rank=rank, gx=3800 + rank, gy=1260, x=570000.0 + 150 * rank,
                y=189075.0, lon=0.45, lat=51.57, offences=20 - rank, harm=900.0 / rank,
                share_harm=0.071 / rank, share_offences=0.02, share_area=0.001,
                streets=street, why=why))
    return pid


@pytest.fixture
def web(engine, tmp_path):
    seed(engine)
    pid = _plan(engine)
    app = create_app(Settings(home=tmp_path / "home", database_url=str(engine.url)),
                     engine=engine, as_of=AS_OF)
    return app, pid, engine


def test_supervisor_briefs_a_spot_and_the_officer_sees_it_with_its_why(web):
    app, pid, engine = web
    sup, csrf = sign_in(app, "supervisor")
    r = sup.post("/api/tasks/street-briefings", headers={"X-CSRF-Token": csrf},
                 json={"plan": f"P-{pid}", "spot": 1, "assignee": "officer", "hours": 48})
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["kind"] == "street-briefing" and t["place"] == "High Road"
    assert t["why"] == (f"street briefing at harm spot 1 of plan P-{pid} (Basildon): 7.1% of "
                        "the district's harm in 0.1% of its area")
    assert t["due_at"] == (AS_OF + timedelta(hours=48)).strftime("%Y-%m-%dT%H:%M:%SZ")
    officer, _ = sign_in(app, "officer")
    mine = officer.get("/api/tasks/mine").json()
    assert [m["why"] for m in mine if m["id"] == t["id"]] == [t["why"]]
    # the same spot twice while the first is open: refused, nothing added
    again = sup.post("/api/tasks/street-briefings", headers={"X-CSRF-Token": csrf},
                     json={"plan": f"P-{pid}", "spot": 1, "team": "north"})
    assert again.status_code == 409
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Task).where(
            Task.source_ref == f"P-{pid}#1")).scalar_one() == 1


def test_dashboard_button_creates_an_unassigned_or_team_briefing(web):
    app, pid, engine = web
    sup, csrf = sign_in(app, "supervisor")
    page = sup.get("/dashboard").text
    assert "Brief these streets" in page
    r = sup.post("/dashboard/briefing", follow_redirects=False,
                 data={"csrf": csrf, "plan": f"P-{pid}", "spot": "2", "team": "north"})
    assert r.status_code == 303
    with engine.connect() as conn:
        row = conn.execute(select(Task.__table__).where(Task.source_ref == f"P-{pid}#2")).one()
    assert (row.team, row.assignee, row.district, row.sensitive) == ("north", None, "Basildon",
                                                                     False)
    analyst, _ = sign_in(app, "analyst")  # sees spots but may not create tasks
    assert "Brief these streets" not in analyst.get("/dashboard").text


def test_refusals(web):
    app, pid, engine = web
    officer = accounts.get_user(engine, "officer")
    sup = accounts.get_user(engine, "supervisor")
    with pytest.raises(Forbidden):
        tasks.add_street_briefing(engine, officer, plan=f"P-{pid}", spot=1, start=AS_OF,
                                  due_at=AS_OF + timedelta(days=1))
    with pytest.raises(NotFound, match="no spot 9"):
        tasks.add_street_briefing(engine, sup, plan=f"P-{pid}", spot=9, start=AS_OF,
                                  due_at=AS_OF + timedelta(days=1))
    tasks.add_street_briefing(engine, sup, plan=f"P-{pid}", spot=1, start=AS_OF,
                              due_at=AS_OF + timedelta(days=1))
    with pytest.raises(Conflict):
        tasks.add_street_briefing(engine, sup, plan=f"p-{pid}", spot=1, start=AS_OF,
                                  due_at=AS_OF + timedelta(days=1))
