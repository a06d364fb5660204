"""The Street Safe routes through the app: the public page and form (no sign-in, no cookie),
the JSON submission, "received" only once stored, the analyst side behind its permissions, the
partner export aggregated only, and no raw address in the store or the log."""

from __future__ import annotations

import json
import logging
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from webkit import PASSWORD, sign_in, user_of

from guardian.config import Settings
from guardian.operations.accounts import service as accounts
from guardian.operations.streetsafe.models import StreetSafeReport
from guardian.operations.streetsafe.sample import BASILDON_CENTRE, LONDON, seed_force
from guardian.web.app import create_app

ADDRESSES = [f"203.0.113.{i}" for i in range(10, 16)]


def _app(engine, tmp_path, roles=()):
    for role in roles:  # only the users a test signs in as (each costs an argon2 hash)
        accounts.add_user(engine, username=user_of(role), password=PASSWORD, role=role)
    seed_force(engine, name="Essex Police (synthetic)", districts=("Basildon",))
    home = tmp_path / "home"
    home.mkdir()
    (home / "streetsafe.toml").write_text(
        '[streetsafe]\ndataset = "Essex Police (synthetic)"\nmin_seconds = 0.2\n'
        "trust_forwarded = true\n")
    return create_app(Settings(home=home, database_url=str(engine.url)), engine=engine)


@pytest.fixture
def app(engine, tmp_path):
    return _app(engine, tmp_path)


def _report(n: int, where=BASILDON_CENTRE, reasons=("badly-lit", "followed")) -> dict:
    return {"key": f"web-test-key-{n:05d}", "lat": where[0], "lon": where[1],
            "reasons": list(reasons), "when": "now", "daynight": "night"}


def _stored(engine) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(StreetSafeReport)).scalar_one()


def test_public_page_needs_no_sign_in_and_sets_no_cookie(sqlite_engine, tmp_path):
    app = _app(sqlite_engine, tmp_path)
    c = TestClient(app, base_url="https://testserver")
    r = c.get("/streetsafe")
    assert r.status_code == 200 and "set-cookie" not in r.headers
    assert "This is not a crime report" in r.text and 'href="tel:999"' in r.text
    assert 'href="tel:101"' in r.text and "police.uk" in r.text
    for code in ("no-cctv", "badly-lit", "harassed-group", "followed"):
        assert f'value="{code}"' in r.text
    assert 'name="website"' in r.text and 'name="comment"' not in r.text  # comment off


def test_submit_retry_refusals_and_form_without_javascript(app, engine, caplog):
    caplog.set_level(logging.DEBUG)
    c = TestClient(app, base_url="https://testserver")
    token = c.get("/api/streetsafe/token").json()["token"]
    body = _report(1) | {"token": token}
    hdr = {"X-Forwarded-For": ADDRESSES[0]}
    r = c.post("/api/streetsafe/reports", json=body, headers=hdr)
    assert r.status_code == 400 and r.json()["reason"] == "too-fast"
    assert _stored(engine) == 0
    time.sleep(0.25)
    r = c.post("/api/streetsafe/reports", json=body, headers=hdr)
    assert r.status_code == 200 and r.json() == {"status": "received", "key": body["key"],
                                                 "stored": "new"}
    assert _stored(engine) == 1  # committed before the answer
    r = c.post("/api/streetsafe/reports", json=body, headers=hdr)
    assert r.json()["stored"] == "replayed" and _stored(engine) == 1
    r = c.post("/api/streetsafe/reports", json=_report(2, where=LONDON) | {"token": token},
               headers=hdr)
    assert r.status_code == 400 and "outside the Essex Police (synthetic) area" in r.text
    r = c.post("/api/streetsafe/reports", json=_report(3) | {"token": token,
                                                            "website": "x"}, headers=hdr)
    assert r.json()["reason"] == "honeypot"
    # the form without JavaScript: same checks, a page that says received
    page = c.get("/streetsafe").text
    tok = page.split('name="token" id="ss-token" value="')[1].split('"')[0]
    key = page.split('name="key" id="ss-key" value="')[1].split('"')[0]
    time.sleep(0.25)
    r = c.post("/streetsafe", data={"token": tok, "key": key, "lat": BASILDON_CENTRE[0],
                                    "lon": BASILDON_CENTRE[1], "reasons": ["no-cctv", "isolated"],
                                    "when": "earlier", "daynight": "day"},
               headers={"X-Forwarded-For": ADDRESSES[1]})
    assert r.status_code == 200 and "Received" in r.text and _stored(engine) == 2
    r = c.post("/streetsafe", data={"token": tok, "key": "k" * 20, "lat": "51.5", "lon": "-0.12",
                                    "reasons": "no-cctv", "daynight": "day"},
               headers={"X-Forwarded-For": ADDRESSES[1]})
    assert r.status_code == 400 and "outside" in r.text and _stored(engine) == 2
    # no raw address anywhere: not in any table, not in the log
    with engine.connect() as conn:
        for t in conn.dialect.get_table_names(conn):
            for row in conn.execute(text(f'SELECT * FROM "{t}"')):
                assert not any(a in str(v) for v in row for a in ADDRESSES), (t, row)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(a in logged for a in ADDRESSES)


def test_analyst_side_permissions_and_min_count(sqlite_engine, tmp_path):
    engine = sqlite_engine
    app = _app(engine, tmp_path, ("analyst", "partner", "supervisor"))
    c = TestClient(app, base_url="https://testserver")
    token = c.get("/api/streetsafe/token").json()["token"]
    time.sleep(0.25)
    analyst, _ = sign_in(app, "analyst")
    for i in range(5):
        r = c.post("/api/streetsafe/reports", json=_report(10 + i) | {"token": token},
                   headers={"X-Forwarded-For": ADDRESSES[i]})
        assert r.status_code == 200, r.text
        cells = analyst.get("/api/streetsafe/cells").json()
        # the report shows on the layer only once its cell holds min_count (5) reports
        assert len(cells["cells"]) == (1 if i == 4 else 0)
        assert cells["withheld"]["reports"] == (0 if i == 4 else i + 1)
    cell = cells["cells"][0]
    assert (cell["reports"], cell["district"]) == (5, "Basildon")
    assert cell["reasons"] == {"badly-lit": 5, "followed": 5}
    s = analyst.get("/api/streetsafe/summary").json()
    key = s["clusters"][0]["key"]
    partner, pcsrf = sign_in(app, "partner")
    assert partner.get("/api/streetsafe/cells").status_code == 403
    exp = partner.get("/api/streetsafe/export.csv")
    assert exp.status_code == 200 and exp.headers["content-type"].startswith("text/csv")
    lines = exp.text.splitlines()
    assert len(lines) == 2 and ",5," in lines[1] and str(BASILDON_CENTRE[0]) not in exp.text
    acsrf = analyst.get("/api/me").json()["csrf"]
    r = analyst.post("/api/streetsafe/actions", headers={"X-CSRF-Token": acsrf},
                     json={"cluster": key, "kind": "patrol", "note": "Evening patrols",
                           "done_on": "2026-12-02"})
    assert r.status_code == 403  # analysts see, supervisors act
    sup, scsrf = sign_in(app, "supervisor")
    r = sup.post("/streetsafe/analysis/actions", follow_redirects=False,
                 data={"csrf": scsrf, "cluster": key, "kind": "patrol",
                       "note": "Evening patrols on the footpath", "done_on": "2026-12-02"})
    assert r.status_code == 303
    pub = c.get("/api/streetsafe/public").json()
    assert pub["areas"] == [{"area": "Basildon", "places": 1, "reports": 5, "actions": [
        {"kind": "Police patrols", "note": "Evening patrols on the footpath",
         "done_on": "2026-12-02"}]}]
    assert "Evening patrols on the footpath" in c.get("/streetsafe").text
    page = sup.get("/streetsafe/analysis")
    assert page.status_code == 200 and key in page.text and 'id="ss-act"' in page.text
    assert 'id="streetsafe-layer"' in sup.get("/dashboard").text


def test_report_fast_path_answers_as_the_route_and_hands_on_the_rest(sqlite_engine, tmp_path):
    import guardian.web.streetsafe as web_ss
    from guardian.web.streetsafe import REPORTS_PATH

    app = _app(sqlite_engine, tmp_path)
    c = TestClient(app, base_url="https://testserver")
    token = c.get("/api/streetsafe/token").json()["token"]
    time.sleep(0.25)
    bad = {"key": "short", "lat": 95, "lon": 0.4, "reasons": [], "daynight": "night"}
    routed = c.post(REPORTS_PATH, json=bad)
    assert routed.status_code == 422 and isinstance(routed.json()["detail"], list)
    # the middleware alone, before an inner app that only records what reaches it: a good
    # report is stored and answered without the inner app; what the fast path does not take
    # reaches it with the body replayed byte for byte
    reached = []

    async def inner(scope, receive, send):
        reached.append((scope["path"], (await receive())["body"]))
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    fast = web_ss.ReportFastPath(inner)

    async def outer(scope, receive, send):
        scope["app"] = app  # as Starlette sets it before its middleware
        await fast(scope, receive, send)

    raw = TestClient(outer, base_url="https://testserver")
    r = raw.post(REPORTS_PATH, json=_report(40) | {"token": token},
                 headers={"X-Forwarded-For": ADDRESSES[0]})
    assert r.status_code == 200 and r.json() == {"status": "received", "key": "web-test-key-00040",
                                                 "stored": "new"}
    assert r.headers["content-type"] == "application/json" and reached == []
    assert _stored(sqlite_engine) == 1
    r = raw.post(REPORTS_PATH, json=_report(41, where=LONDON) | {"token": token},
                 headers={"X-Forwarded-For": ADDRESSES[1]})
    assert r.status_code == 400 and r.json()["reason"] == "outside-area" and reached == []
    bad_body = json.dumps(bad).encode()
    assert raw.post(REPORTS_PATH, content=bad_body,
                    headers={"content-type": "application/json"}).status_code == 418
    assert raw.post(REPORTS_PATH, content=b"not json",
                    headers={"content-type": "text/plain"}).status_code == 418
    assert raw.get("/streetsafe").status_code == 418
    assert reached == [(REPORTS_PATH, bad_body), (REPORTS_PATH, b"not json"), ("/streetsafe", b"")]


def test_public_view_is_cached_and_an_action_refreshes_it(sqlite_engine, tmp_path, monkeypatch):
    import guardian.web.streetsafe as web_ss

    app = _app(sqlite_engine, tmp_path, ("supervisor",))
    c = TestClient(app, base_url="https://testserver")
    assert c.get("/api/streetsafe/public").json()["areas"] == []  # computed and kept
    token = c.get("/api/streetsafe/token").json()["token"]
    time.sleep(0.25)
    for i in range(5):
        assert c.post("/api/streetsafe/reports", json=_report(50 + i) | {"token": token},
                      headers={"X-Forwarded-For": ADDRESSES[i]}).status_code == 200
    assert c.get("/api/streetsafe/public").json()["areas"] == []  # within the TTL: as kept
    monkeypatch.setattr(web_ss, "PUBLIC_TTL_S", 0.0)
    pub = c.get("/api/streetsafe/public").json()
    assert [(a["area"], a["places"], a["reports"]) for a in pub["areas"]] == [("Basildon", 1, 5)]
    monkeypatch.setattr(web_ss, "PUBLIC_TTL_S", 3600.0)
    sup, scsrf = sign_in(app, "supervisor")
    key = sup.get("/api/streetsafe/summary").json()["clusters"][0]["key"]
    r = sup.post("/streetsafe/analysis/actions", follow_redirects=False,
                 data={"csrf": scsrf, "cluster": key, "kind": "patrol",
                       "note": "Evening patrols", "done_on": "2026-12-02"})
    assert r.status_code == 303
    acts = c.get("/api/streetsafe/public").json()["areas"][0]["actions"]
    assert [a["note"] for a in acts] == ["Evening patrols"]  # at once, despite the hour's TTL
