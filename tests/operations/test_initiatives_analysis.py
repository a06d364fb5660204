"""Initiatives: the Crime Stoppers Zone ranking (hand-checked), the campaign's district choice
(hand-checked), the evaluation link (WDD and E-test on store counts, recomputed by hand) and
leaflet drops published as tasks. Store tests run on SQLite and PostgreSQL where marked."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest
from test_initiatives_seed import DS, add_events, seed

from guardian.errors import InputError
from guardian.operations.initiatives import campaigns as C
from guardian.operations.initiatives import evaluation as EV
from guardian.operations.initiatives import service as S
from guardian.operations.initiatives import zones as Z

SOUTHEND, BASILDON = "Southend-on-Sea UA", "Basildon"


def _sf(k: int, n: int, p: float) -> float:
    """P(X >= k), X ~ Binomial(n, p), summed term by term (independent of scipy)."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def _cells_frame() -> pd.DataFrame:
    # 500 m cells along y = 0: (cell, category, count)
    spec = [(0, "Drugs", 12), (0, "Burglary", 18),
            (1, "Drugs", 2), (1, "Violence and sexual offences", 38),
            (2, "Possession of weapons", 10), (2, "Vehicle crime", 15),
            (3, "Burglary", 5), (4, "Shoplifting", 10)]
    rows = []
    for cell, cat, k in spec:
        rows += [{"category": cat, "x": cell * 500 + 100.0, "y": 100.0, "district": "D"}] * k
    return pd.DataFrame(rows)


W = {"Drugs": 10, "Burglary": 50, "Violence and sexual offences": 100,
     "Possession of weapons": 20, "Vehicle crime": 10, "Shoplifting": 5}


def test_zone_ranking_hand_checked():
    # harm: cell1 3820, cell0 1020, cell2 350, cell3 250, cell4 50; top 60% = cells 1, 0, 2.
    # force proactive share 24 / (24 + 76) = 0.24 (shoplifting is in neither group).
    out = Z.rank_zones(_cells_frame(), weights=W, cell_m=500, top_share=0.6, min_crimes=20)
    assert out["force_share"] == pytest.approx(0.24) and out["considered"] == 3
    assert out["cells_with_crime"] == 5
    (z,) = out["zones"]  # cell 1 has a low share; cell 2's p = 0.056 misses 0.05
    assert z.cell == (0, 0) and z.rank == 1 and z.harm == 1020 and z.harm_rank == 2
    assert (z.proactive, z.public_reported, z.crimes) == (12, 18, 30)
    assert z.share == pytest.approx(0.4) and z.reporting_index == pytest.approx(0.4 / 0.24)
    assert z.p_value == pytest.approx(_sf(12, 30, 0.24)) == pytest.approx(0.038056, abs=1e-6)
    assert "harm rank 2 of 5" in z.why and "12 of 30" in z.why
    # Wilson interval by its formula
    zc, n, p = 1.959963984540054, 30, 0.4
    mid = (p + zc**2 / (2 * n)) / (1 + zc**2 / n)
    half = zc * math.sqrt(p * (1 - p) / n + zc**2 / (4 * n * n)) / (1 + zc**2 / n)
    assert (z.share_low, z.share_high) == pytest.approx((mid - half, mid + half))
    # a looser alpha adds cell 2 (p = 0.056), ranked by harm after cell 0
    out = Z.rank_zones(_cells_frame(), weights=W, cell_m=500, top_share=0.6, min_crimes=20,
                       alpha=0.1)
    assert [(z.cell, z.rank) for z in out["zones"]] == [((0, 0), 1), ((2, 0), 2)]
    assert out["zones"][1].p_value == pytest.approx(_sf(10, 25, 0.24))
    # min_crimes above 25 drops cell 2 from the candidates
    out = Z.rank_zones(_cells_frame(), weights=W, top_share=0.6, min_crimes=26, alpha=0.1)
    assert [z.cell for z in out["zones"]] == [(0, 0)] and out["considered"] == 2
    with pytest.raises(InputError):
        Z.rank_zones(_cells_frame(), weights=W, top_share=0)


def test_campaign_district_choice_hand_checked():
    ref = ["2025-11", "2025-12"]
    rows = [("X", "2025-11", 6), ("X", "2025-12", 4), ("X", "2025-03", 20),
            ("Y", "2025-11", 4), ("Y", "2025-12", 4), ("Y", "2025-05", 40),
            ("Z", "2025-11", 2), ("Z", "2025-06", 10),
            ("X", "2024-11", 99)]  # outside the 12 months: ignored
    counts = pd.DataFrame(rows, columns=["district", "month", "count"])
    out = C.choose_districts(counts, {"X": 1000, "Y": 2000, "Z": 1000}, ref, n=3)
    # rates per 1,000 households a month: X 10/2/1000 = 5.0, Y 8/2/2000 = 2.0, Z 1.0;
    # force 20/2/4000 = 2.5 -> only X; X's other months: 20/10/1000 = 2.0 -> uplift 2.5
    assert out["force_per_1000_month"] == pytest.approx(2.5)
    assert [r["district"] for r in out["ranking"]] == ["X", "Y", "Z"]
    assert [r["per_1000_month"] for r in out["ranking"]] == pytest.approx([5.0, 2.0, 1.0])
    (x,) = out["chosen"]
    assert x["district"] == "X" and x["uplift"] == pytest.approx(2.5) and x["burglaries"] == 10
    assert "5.00 per 1,000 households a month against 2.50" in x["why"]
    # only March loaded besides the reference months: X's uplift is against March alone
    out = C.choose_districts(counts, {"X": 1000, "Y": 2000, "Z": 1000}, ref,
                             loaded=["2025-03", *ref])
    assert out["chosen"][0]["uplift"] == pytest.approx(5.0 / 20.0)


def test_campaign_from_store_with_cocooning(sqlite_engine, tmp_path):
    engine = sqlite_engine
    ids = seed(engine)
    year = [f"2025-{m:02d}" for m in range(1, 13)]
    # Southend: 30 burglaries in Nov-Dec 2025, Basildon 2; one a month elsewhere in both.
    add_events(engine, [(1, "2025-11", "Burglary", 18), (2, "2025-12", "Burglary", 12),
                        (4, "2025-11", "Burglary", 2)]
               + [(p, m, "Burglary", 1) for m in year[:10] for p in (1, 4)], ids)
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "forces.toml").write_text("[cocoons.essex]\nneighbour_visits = 8\n")
    plan = C.campaign_plan(engine, dataset="essex", start="2026-11-01", end="2026-12-31", n=2)
    assert plan["reference"] == ["2025-11", "2025-12"]
    assert [r["district"] for r in plan["chosen"]] == [SOUTHEND]
    assert plan["cocooning"]["neighbour_visits"] == 8
    assert plan["cocooning"]["expected_visits_month"] == pytest.approx(15 * 9)
    d = C.create_campaign(engine, dataset=DS, name="Winter burglary 2026", start="2026-11-01",
                          end="2026-12-31", n=2, volunteer_hours=300)
    assert d["districts"] == [SOUTHEND] and d["categories"] == ["Burglary"]
    assert d["details"]["cocooning"]["neighbour_visits"] == 8
    assert "per 1,000 households" in d["details"]["chosen"][0]["why"]
    assert plan["uplift_months"] == year[:10]
    with pytest.raises(InputError, match="lacks the campaign's months"):
        C.campaign_plan(engine, dataset=DS, start="2030-11-01", end="2030-12-31")


def test_evaluation_link_districts_and_cells(engine, monkeypatch):
    ids = seed(engine)
    add_events(engine, [(1, "2026-02", "Burglary", 20), (1, "2026-03", "Burglary", 10),
                        (4, "2026-02", "Burglary", 30), (4, "2026-03", "Burglary", 33),
                        (3, "2026-02", "Burglary", 5), (3, "2026-03", "Burglary", 8),
                        (1, "2026-03", "Drugs", 4)], ids)
    sw = S.create_initiative(engine, dataset=DS, kind="street-week", name="SW", start="2026-03-02",
                             districts=SOUTHEND, categories=["Burglary"])
    ev = EV.evaluate_initiative(engine, ref=sw["ref"])
    assert ev["status"] == "ok" and ev["periods"] == {"before": ["2026-02"], "after": ["2026-03"]}
    # treated = Southend (places 1 and 3): 25 -> 18; comparison = Basildon: 30 -> 33
    assert ev["counts"] == {"treated": {"before": 25, "after": 18},
                            "comparison": {"before": 30, "after": 33}}
    wdd = (18 - 25) - (33 - 30)
    se = math.sqrt(25 + 18 + 30 + 33)
    assert ev["wdd"]["estimate"] == pytest.approx(wdd)
    assert ev["wdd"]["ci_low"] == pytest.approx(wdd - 1.959963984540054 * se)
    assert ev["wdd"]["p_value"] == pytest.approx(math.erfc(abs(wdd / se) / math.sqrt(2)))
    from guardian.analysis.evaluation import etest

    assert ev["etest"] == etest(25, 1.0, 18, 1.0).to_dict()
    assert ev["comparison"]["units"] == [BASILDON]
    # DiD (saturated 2 x 2 Poisson): IRR = (18/25) / (33/30), log-scale se from the four counts
    irr, lse = (18 / 25) / (33 / 30), math.sqrt(1 / 25 + 1 / 18 + 1 / 30 + 1 / 33)
    assert ev["did"]["estimate"] == pytest.approx(irr, rel=1e-6)
    assert ev["did"]["ci_low"] == pytest.approx(irr * math.exp(-1.959963984540054 * lse), rel=1e-4)
    # cells place with a 700 m buffer: treated = cell (1170, 372) = place 1 (20 -> 10 burglaries),
    # buffer holds place 3 (600 m east: 5 -> 8), comparison = Basildon (30 -> 33)
    doa = S.create_initiative(engine, dataset=DS, kind="day-of-action", name="DoA",
                              start="2026-03-12", cells="500:1170_372", categories=["Burglary"])
    S.record_outcome(engine, ref=doa["ref"], measure="cs-reports", detail="before", value=3)
    S.record_outcome(engine, ref=doa["ref"], measure="cs-reports", detail="after", value=9)
    ev = EV.evaluate_initiative(engine, ref=doa["ref"], buffer_m=700)
    assert ev["counts"] == {"treated": {"before": 20, "after": 10},
                            "buffer": {"before": 5, "after": 8},
                            "comparison": {"before": 30, "after": 33}}
    assert ev["wdd"]["estimate"] == pytest.approx((10 - 20) - (33 - 30) + (8 - 5))
    assert ev["comparison"]["units"] == ["1140_378"]  # the one cell elsewhere (Basildon)
    assert ev["cs_reports"] == etest(3, 1.0, 9, 1.0).to_dict()
    # harm-weighted: one category, so the estimate is the count WDD times its weight
    from guardian.data.harm_table import load_harm_weights

    w = load_harm_weights("harm_index_v1").weight("Burglary")
    evh = EV.evaluate_initiative(engine, ref=doa["ref"], buffer_m=700, harm_table="harm_index_v1")
    assert evh["wdd"]["estimate"] == pytest.approx(w * -10)
    # months missing from the store: not yet, saying which
    later = S.create_initiative(engine, dataset=DS, kind="day-of-action", name="DoA later",
                                start="2026-06-01", districts=SOUTHEND)
    nv = EV.evaluate_initiative(engine, ref=later["ref"])
    assert nv["status"] == "not-yet" and "2026-05, 2026-06" in nv["reason"]
    # the statistics module absent: said so, no numbers
    monkeypatch.setattr(EV, "_analysis", lambda: None)
    un = EV.evaluate_initiative(engine, ref=sw["ref"])
    assert un == {"status": "unavailable", "reason": "evaluation not available yet",
                  "ref": sw["ref"]}
    monkeypatch.undo()
    board = EV.board_initiatives(engine, dataset=DS, start="2026-01-01", end="2026-03-31",
                                 categories=["Burglary"])
    assert [b["name"] for b in board] == ["DoA", "SW"]
    assert board[0]["evaluation"]["status"] == "ok" and "resources" in board[0]


def test_evaluation_periods():
    assert EV.evaluation_periods("2026-11", "2027-02") == (
        ["2026-07", "2026-08", "2026-09", "2026-10"], ["2026-11", "2026-12", "2027-01", "2027-02"])
    assert EV.evaluation_periods("2026-03", "2026-03", 3) == (
        ["2025-12", "2026-01", "2026-02"], ["2026-03"])


def test_zone_from_store_and_leaflet_tasks(sqlite_engine):
    engine = sqlite_engine
    ids = seed(engine)
    # cell (1170, 372): places 1, 2 - 12 drugs, 18 burglary; cell (1140, 378): place 4 - 2 drugs,
    # 38 violence; cell (1172, 372): place 3 - 5 burglary.
    add_events(engine, [(1, "2026-01", "Drugs", 12), (2, "2026-01", "Burglary", 18),
                        (4, "2026-01", "Drugs", 2),
                        (4, "2026-01", "Violence and sexual offences", 38),
                        (3, "2026-01", "Burglary", 5)], ids)
    rk = Z.zone_ranking(engine, dataset=DS, months=1, top_share=1.0, min_crimes=20)
    assert rk["months"] == ["2026-01", "2026-01"]
    assert [z["cell"] for z in rk["zones"]] == [[1170, 372]]
    assert rk["zones"][0]["district"] == SOUTHEND
    assert rk["force_share"] == pytest.approx(14 / 75)
    zone = Z.create_zone(engine, dataset=DS, name="CSZ Southend", start="2026-02-02",
                         end="2026-04-30", drop_days=["2026-02-07", "2026-02-21"],
                         months=1, top_share=1.0, min_crimes=20)
    assert zone["kind"] == "cs-zone" and zone["place"]["cells"] == [[1170, 372]]
    assert "12 of 30 crimes found by police" in zone["details"]["why"]
    pub = Z.publish_leaflet_drops(engine, ref=zone["ref"], team="volunteers")
    assert pub["created"] == 2 and pub["existing"] == 0 and len(pub["refs"]) == 2
    again = Z.publish_leaflet_drops(engine, ref=zone["ref"], team="volunteers")
    assert again["created"] == 0 and again["existing"] == 2 and again["refs"] == pub["refs"]
    from sqlalchemy import select

    from guardian.operations.tasks.models import Task

    with engine.connect() as conn:
        t = conn.execute(select(Task.__table__).order_by(Task.id)).all()
    assert [x.kind for x in t] == ["leaflet-drop"] * 2 and {x.team for x in t} == {"volunteers"}
    assert (t[0].x, t[0].y) == (1170.5 * 500, 372.5 * 500) and not t[0].sensitive
    assert t[0].window_start.isoformat() == "2026-02-07T09:00:00"  # GMT in February
    assert S.get_initiative(engine, ref=zone["ref"])["leaflet_tasks"] == {
        "open": 2, "done": 0, "total": 2}
    # a volunteer team member records the drop: delivered / not-delivered only
    from datetime import UTC, datetime

    from guardian.errors import InputError
    from guardian.operations.accounts.service import Account
    from guardian.operations.tasks import service as task_service

    member = Account(0, "vol1", "", "volunteer", "volunteers", True)
    at = datetime(2026, 2, 7, 12, tzinfo=UTC)
    with pytest.raises(InputError, match="delivered"):
        task_service.record_outcome(engine, member, t[0].id, outcome="patrolled",
                                    key="leaflet-key-0", at=at)
    task_service.record_outcome(engine, member, t[0].id, outcome="delivered",
                                key="leaflet-key-1", at=at)
    assert S.get_initiative(engine, ref=zone["ref"])["leaflet_tasks"] == {
        "open": 1, "done": 1, "total": 2}
    doa = S.create_initiative(engine, dataset=DS, kind="day-of-action", name="Not a zone",
                              start=date(2026, 2, 2), districts=SOUTHEND)
    with pytest.raises(InputError, match="leaflet drops belong"):
        Z.publish_leaflet_drops(engine, ref=doa["ref"])


def test_matched_comparison_nearest_before_counts():
    rows = []
    for d, n_before, n_after in (("A", 10, 4), ("B", 9, 9), ("C", 30, 2), ("D", 11, 1)):
        rows += [{"month": "2026-01", "category": "Burglary", "x": 1.0, "y": 1.0,
                  "district": d}] * n_before
        rows += [{"month": "2026-02", "category": "Burglary", "x": 1.0, "y": 1.0,
                  "district": d}] * n_after
    ev = pd.DataFrame(rows)
    treated = (ev["district"] == "A").to_numpy()
    mask, info = EV.matched_comparison(ev, ~treated, treated, ["2026-01"], "districts", ["A"])
    assert info["units"] == ["B"] and info["before_counts"] == [9]  # |9-10| = |11-10|: by name
    assert int(mask.sum()) == 18
    ev2 = ev.assign(district=ev["district"].replace({"A": "A1"}))
    t2 = (ev2["district"].isin(["A1", "C"])).to_numpy()  # two districts, 40 before: 20 each
    _, info = EV.matched_comparison(ev2, ~t2, t2, ["2026-01"], "districts", ["A1", "C"])
    assert info["units"] == ["D", "B"]  # |11-20| = 9 < |9-20| = 11
