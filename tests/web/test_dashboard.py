"""The district dashboard: the latest briefing's headline from the store, and one district."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from webkit import AS_OF, seed, sign_in

from guardian.config import Settings
from guardian.operations.tasks.models import Task
from guardian.store.ingest import ingest
from guardian.store.models import Event
from guardian.web.app import create_app

MONTH = "2021-12"


@pytest.fixture
def web(engine, tmp_path, repo_root):
    ids = seed(engine)
    ingest(engine, [repo_root / "data/police_uk_street_essex/2021-12-essex-street.csv.gz"])
    app = create_app(Settings(home=tmp_path / "home", database_url=str(engine.url)),
                     engine=engine, as_of=AS_OF)
    return app, ids, engine


def test_headline_is_the_briefings_count_of_the_latest_month(web):
    app, _, engine = web
    with engine.connect() as conn:  # independent count: every crime row of the month
        crimes = conn.execute(select(func.count()).select_from(Event).where(
            Event.month == MONTH, Event.category != "Anti-social behaviour")).scalar_one()
        asb = conn.execute(select(func.count()).select_from(Event).where(
            Event.month == MONTH, Event.category == "Anti-social behaviour")).scalar_one()
    client, _ = sign_in(app, "partner")  # aggregated figures: partners see them too
    data = client.get("/api/dashboard").json()
    (h,) = data["headlines"]
    assert h["force"] == "Essex Police" and h["month"] == MONTH
    assert (h["crime"], h["asb"]) == (crimes, asb)
    assert h["sentences"][0].startswith(f"{crimes:,} crimes in December 2021")
    page = client.get("/dashboard").text
    assert f"{crimes:,} crimes" in page and "December 2021" in page


def test_headline_is_worked_out_once_per_state_of_the_data(web, monkeypatch):
    app, _, engine = web
    from guardian.web import dashboard

    calls = []
    real = dashboard.briefing_headlines
    monkeypatch.setattr(dashboard, "briefing_headlines",
                        lambda e: calls.append(1) or real(e))
    client, _ = sign_in(app, "supervisor")
    client.get("/api/dashboard")
    client.get("/dashboard")
    assert len(calls) == 1
    # a month loaded (or republished) changes the key: the headline is worked out again
    from guardian.store.models import SourceFile

    with engine.begin() as conn:
        conn.execute(update(SourceFile).values(superseded_at=AS_OF.replace(tzinfo=None)))
    client.get("/api/dashboard")
    assert len(calls) == 2


def test_one_district(web):
    app, ids, engine = web
    with engine.begin() as conn:
        conn.execute(update(Task).where(Task.id == ids["other"]).values(district="Colchester"))
    client, _ = sign_in(app, "supervisor")
    everything = client.get("/api/dashboard").json()
    assert {"Basildon", "Colchester"} <= set(everything["districts"])
    one = client.get("/api/dashboard", params={"district": "Colchester"}).json()
    assert one["district"] == "Colchester"
    assert sum(r["tasks"] for r in one["tasks"]) == 1
    assert sum(r["tasks"] for r in everything["tasks"]) == 3
    page = client.get("/dashboard", params={"district": "Colchester"}).text
    assert "Colchester: district dashboard" in page
