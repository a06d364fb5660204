"""The tag-hit review pages: reviewers only, every view and decision audited, outcomes kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest  # noqa: F401
from sqlalchemy import select
from webkit import AS_OF, seed, sign_in

from guardian.analysis.tagmatch import match_tags
from guardian.config import Settings
from guardian.operations.accounts.roles import ROLES, allowed
from guardian.operations.audit.models import AuditEntry
from guardian.operations.tagmatch import service
from guardian.operations.tagmatch.config import TagmatchConfig
from guardian.web.app import create_app


@pytest.fixture
def web(engine, tmp_path):
    seed(engine)
    crimes = pd.DataFrame({"crime_id": ["c1", "c2"], "category": ["Burglary", "Robbery"],
                           "t_start": [1_600_000_000, 1_600_050_000],
                           "t_end": [1_600_003_600, 1_600_050_000],
                           "x": [560_000.0, 561_000.0], "y": [200_000.0, 200_500.0]})
    t = np.arange(1_599_990_000, 1_600_060_000, 300)
    pts = pd.DataFrame({"subject": "tag-0001", "t": t,
                        "x": np.interp(t, [t[0], t[-1]], [559_990.0, 561_010.0]),
                        "y": np.interp(t, [t[0], t[-1]], [200_000.0, 200_500.0]),
                        "accuracy_m": 10.0})
    hits = match_tags(pts, crimes)
    assert len(hits) >= 1
    service.store_hits(engine, "Essex Police", crimes, hits, TagmatchConfig())
    app = create_app(Settings(home=tmp_path / "home", database_url=str(engine.url)),
                     engine=engine, as_of=AS_OF)
    return app, engine


def _audit(engine):
    with engine.connect() as c:
        return c.execute(select(AuditEntry.username, AuditEntry.operation, AuditEntry.record)
                         .order_by(AuditEntry.id)).all()


def test_only_reviewers_see_hits(web):
    app, engine = web
    # every other role first: refused, and nothing of the hits read (so nothing audited)
    for role in sorted(ROLES, key=lambda r: allowed(r, "tagmatch.review")):
        client, csrf = sign_in(app, role)
        may = allowed(role, "tagmatch.review")
        for url in ("/review?status=all", "/review/1"):
            r = client.get(url)
            if may:
                assert r.status_code == 200 and "tag-0001" in r.text
            else:
                assert r.status_code == 403 and "tag-0001" not in r.text, role
        r = client.post("/review/1/decision", data={"outcome": "passed", "reason": "was there",
                                                    "csrf": csrf}, follow_redirects=False)
        assert (r.status_code == 403) == (not may)
        if not may:
            assert not any("tagmatch" in rec for _, _, rec in _audit(engine))
    assert "reviewer" in [r for r in ROLES if allowed(r, "tagmatch.review")]


def test_review_flow_is_audited(web):
    app, engine = web
    client, csrf = sign_in(app, "reviewer")
    assert "Intelligence for review, never evidence" in client.get("/review").text
    page = client.get("/review/1")
    assert "Closest approach" in page.text and "Trail before" in page.text
    r = client.post("/review/1/decision", data={"outcome": "passed", "reason": "", "csrf": csrf})
    assert r.status_code == 400
    r = client.post("/review/1/decision", data={"outcome": "passed", "csrf": "wrong",
                                                "reason": "route matches the offender's"})
    assert r.status_code == 403
    r = client.post("/review/1/decision", data={"outcome": "passed", "csrf": csrf,
                                                "reason": "route matches the offender's"},
                    follow_redirects=False)
    assert r.status_code == 303
    again = client.post("/review/1/decision", data={"outcome": "discounted", "csrf": csrf,
                                                    "reason": "changed my mind"})
    assert again.status_code == 409
    assert client.get("/review/999").status_code == 404
    assert "route matches" in client.get("/review/1").text
    log = [(op, rec) for u, op, rec in _audit(engine) if u == "reviewer"]
    ops = [op for op, rec in log if "tagmatch" in rec]
    assert ops == ["consult", "consult", "alter", "consult"]
    assert "/review?status=passed" in client.get("/review?status=passed").text
