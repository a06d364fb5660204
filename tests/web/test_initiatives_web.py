"""Initiatives web pages and API: who may see and change what (partners see aggregates only),
the forms, the detail page's resources, outcomes and evaluation."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from webkit import AS_OF, PASSWORD, sign_in, user_of

from guardian.config import Settings
from guardian.operations.accounts import service as accounts
from guardian.operations.initiatives import service as S
from guardian.web.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operations"))
from test_initiatives_seed import DS, add_events, seed  # noqa: E402

SOUTHEND = "Southend-on-Sea UA"
ROLES_USED = ("volunteer-coordinator", "supervisor", "partner", "analyst", "officer")


@pytest.fixture
def web(sqlite_engine, tmp_path):
    engine = sqlite_engine
    for role in ROLES_USED:  # a few roles: each password hash takes a while (argon2)
        accounts.add_user(engine, username=user_of(role), password=PASSWORD, role=role)
    ids = seed(engine)
    add_events(engine, [(1, "2026-02", "Burglary", 20), (1, "2026-03", "Burglary", 10),
                        (4, "2026-02", "Burglary", 30), (4, "2026-03", "Burglary", 33)], ids)
    app = create_app(Settings(home=tmp_path / "home", database_url=str(engine.url)),
                     engine=engine, as_of=AS_OF)
    return app, engine


def test_roles_and_partner_aggregates(web):
    app, engine = web
    coord, csrf = sign_in(app, "volunteer-coordinator")
    r = coord.post("/initiatives", data={
        "csrf": csrf, "dataset": DS, "kind": "street-week", "name": "SW Southend",
        "start": "2026-03-02", "place_kind": "districts", "place": SOUTHEND,
        "partners": "Council, Fire", "categories": "Burglary", "volunteer_hours": "120",
        "notes": "keyholder list from the council"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/initiatives/I-1"
    r = coord.post("/initiatives/I-1/outcome", data={"csrf": csrf, "measure": "referrals",
                                                     "detail": "Council ASB team", "value": "4"},
                   follow_redirects=False)
    assert r.status_code == 303
    r = coord.post("/initiatives/I-1/resources", data={"csrf": csrf, "officer_hours": "10"},
                   follow_redirects=False)
    assert r.status_code == 303
    page = coord.get("/initiatives/I-1")
    assert page.status_code == 200
    html = page.text
    assert "Council ASB team" in html and "keyholder list" in html
    assert "£1,800.00" in html and "£2,200.00" in html  # 120 h x £15 + 10 h x £40
    assert "deployment" in html and "2026-03-09" in html
    # evaluation from the store: Southend 20 -> 10, comparison Basildon 30 -> 33
    assert 'id="evaluation-counts"' in html and "Weighted displacement difference" in html
    assert "+3" in html and "-10" in html
    assert "outcome-form" in html
    # a bad outcome is refused with its reason, nothing stored
    r = coord.post("/initiatives/I-1/outcome", data={"csrf": csrf, "measure": "nhw-signups",
                                                     "value": "-2"})
    assert r.status_code == 400 and "between 0" in r.text
    # without the CSRF token: refused
    assert coord.post("/initiatives/I-1/outcome", data={"measure": "leaflets",
                                                        "value": "1"}).status_code == 403
    # the partner: aggregates only, no forms, no named referral partner, no notes
    partner, pcsrf = sign_in(app, "partner")
    html = partner.get("/initiatives/I-1").text
    assert "partner view: aggregates only" in html and "referrals (detail: to whom)" in html
    assert "Council ASB team" not in html and "outcome-form" not in html
    assert "keyholder" not in html
    api = partner.get("/api/initiatives/I-1?evaluation=true").json()
    assert api["aggregated"] and api["outcome_totals"] == {"referrals": 4.0}
    assert "outcomes" not in api and "notes" not in api and "place" not in api
    assert api["evaluation"]["counts"]["treated"] == {"before": 20, "after": 10}
    assert partner.post("/initiatives", data={"csrf": pcsrf, "name": "x"}).status_code == 403
    assert "I-1" in partner.get("/initiatives").text
    # roles without initiatives.view: refused everywhere
    officer, _ = sign_in(app, "officer")  # no initiatives.view (the platform test covers all)
    assert officer.get("/initiatives").status_code == 403
    assert officer.get("/api/initiatives").status_code == 403
    # analyst: sees everything, may not change
    analyst, acsrf = sign_in(app, "analyst")
    full = analyst.get("/api/initiatives/I-1").json()
    assert full["outcomes"][0]["detail"] == "Council ASB team" and full["notes"]
    assert analyst.post("/initiatives/I-1/outcome", data={"csrf": acsrf, "measure": "leaflets",
                                                          "value": "1"}).status_code == 403
    lst = analyst.get("/api/initiatives?from=2026-03-01&to=2026-03-31").json()
    assert [d["ref"] for d in lst] == ["I-1"]
    assert analyst.get("/api/initiatives?kind=festival").status_code == 400
    assert analyst.get("/api/initiatives/I-99").status_code == 404
    assert analyst.get("/api/initiatives/xyz").status_code == 400

    _zone_form_and_leaflets(app, engine)


def _zone_form_and_leaflets(app, engine):
    coord, csrf = sign_in(app, "supervisor")
    r = coord.post("/initiatives", data={
        "csrf": csrf, "dataset": DS, "kind": "cs-zone", "name": "CSZ", "start": "2026-03-02",
        "end": "2026-05-31", "place_kind": "cells", "place": "500:1170_372",
        "drop_days": "2026-03-07, 2026-03-21"}, follow_redirects=False)
    assert r.status_code == 303
    ref = r.headers["location"].rsplit("/", 1)[1]
    assert "leaflets-form" in coord.get(f"/initiatives/{ref}").text
    r = coord.post(f"/initiatives/{ref}/leaflets", data={"csrf": csrf, "team": "north"},
                   follow_redirects=False)
    assert r.status_code == 303
    d = S.get_initiative(engine, ref=ref)
    assert d["leaflet_tasks"] == {"open": 2, "done": 0, "total": 2}
    # a place outside the force is refused with the reason
    r = coord.post("/initiatives", data={
        "csrf": csrf, "dataset": DS, "kind": "day-of-action", "name": "Far away",
        "start": "2026-03-02", "place_kind": "area",
        "place": '{"type":"Polygon","coordinates":[[[-2.25,53.47],[-2.24,53.47],[-2.24,53.48],[-2.25,53.47]]]}'})
    assert r.status_code == 400 and "outside Essex" in r.text
