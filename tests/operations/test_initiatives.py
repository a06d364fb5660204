"""Initiatives: Street Week phases, planned events for the mobilisation plan, places inside the
force, validation, outcomes and resources, import with quarantine. Store tests run on SQLite and
PostgreSQL (``engine`` fixture)."""

from __future__ import annotations

from datetime import date

import pytest
from test_initiatives_seed import DS, seed

from guardian.errors import Conflict, InputError, NotFound
from guardian.operations.initiatives import service as S
from guardian.operations.initiatives.service import PlannedEvent, planned_events

SOUTHEND, BASILDON = "Southend-on-Sea UA", "Basildon"


def test_street_week_phases_hand_checked():
    ph = S.street_week_phases(date(2026, 3, 2))
    assert ph == {"pre-scoping": (date(2026, 3, 2), date(2026, 3, 8)),
                  "deployment": (date(2026, 3, 9), date(2026, 3, 15)),
                  "evaluation": (date(2026, 3, 16), date(2026, 3, 22))}
    last, days = S.schedule("street-week", date(2026, 3, 2))
    assert last == date(2026, 3, 22) and len(days) == 21
    assert [p for _, p in days].count("deployment") == 7
    assert days[6] == (date(2026, 3, 8), "pre-scoping") and days[7] == (date(2026, 3, 9), "deployment")
    with pytest.raises(InputError, match="three weeks"):
        S.schedule("street-week", date(2026, 3, 2), date(2026, 3, 20))


@pytest.mark.parametrize("kind,start,end,match", [
    ("day-of-action", "2026-03-05", "2026-03-04", "out of order"),
    ("campaign", "2026-11-01", None, "needs an end"),
    ("campaign", "2026-11-01", "2027-06-01", "at most 184"),
    ("day-of-action", "2026-03-05", "2026-03-20", "at most 7"),
    ("festival", "2026-03-05", None, "kind"),
    ("day-of-action", "2026-02-30", None, "YYYY-MM-DD"),
])
def test_schedule_rejects(kind, start, end, match):
    with pytest.raises(InputError, match=match):
        S.schedule(kind, start, end)


def test_cs_zone_drops_inside_dates():
    last, days = S.schedule("cs-zone", date(2026, 1, 5), drop_days=[date(2026, 1, 10)])
    assert last == date(2026, 4, 4) and days == [(date(2026, 1, 10), "deployment")]
    with pytest.raises(InputError, match="outside the zone"):
        S.schedule("cs-zone", date(2026, 1, 5), date(2026, 1, 31), drop_days=["2026-02-02"])


def test_planned_events_deployment_days_per_district(engine):
    seed(engine)
    sw = S.create_initiative(engine, dataset="essex", kind="street-week", name="SW Southend",
                             start="2026-03-02", districts=SOUTHEND, partners="Council,Fire")
    S.create_initiative(engine, dataset=DS, kind="day-of-action", name="DoA two districts",
                        start="2026-03-10", districts=[SOUTHEND, "basil"], band="16-24",
                        uplift=1.8)
    assert sw["phases"][1] == {"phase": "deployment", "first": "2026-03-09",
                               "last": "2026-03-15", "days": 7}
    got = planned_events(engine, "Essex", date(2026, 3, 1), date(2026, 3, 31))
    assert all(isinstance(e, PlannedEvent) for e in got)
    sw_days = [e for e in got if e.kind == "street-week"]
    assert [e.day for e in sw_days] == [date(2026, 3, d) for d in range(9, 16)]  # deployment only
    assert {(e.district, e.band, e.uplift) for e in sw_days} == {(SOUTHEND, None, 2.0)}
    doa = [e for e in got if e.kind == "day-of-action"]
    assert [(e.district, e.day, e.band, e.uplift) for e in doa] == [
        (BASILDON, date(2026, 3, 10), "16-24", 1.8), (SOUTHEND, date(2026, 3, 10), "16-24", 1.8)]
    # window edges inclusive; nothing outside; unknown force -> nothing
    assert len(planned_events(engine, DS, date(2026, 3, 15), date(2026, 3, 15))) == 1
    assert planned_events(engine, DS, date(2026, 4, 1), date(2026, 4, 30)) == []
    assert planned_events(engine, "Kent", date(2026, 3, 1), date(2026, 3, 31)) == []
    with pytest.raises(AttributeError):  # frozen
        got[0].uplift = 3.0  # type: ignore[misc]


def test_place_polygon_wgs84_and_bng_and_outside(sqlite_engine):
    engine = sqlite_engine
    seed(engine)
    # BNG square around places 1 and 2 (Southend)
    sq = {"type": "Polygon", "coordinates": [[[585000, 186000], [585400, 186000],
                                              [585400, 186400], [585000, 186400],
                                              [585000, 186000]]]}
    d = S.create_initiative(engine, dataset=DS, kind="day-of-action", name="DoA square",
                            start="2026-05-01", area=sq)
    assert d["districts"] == [SOUTHEND] and d["area_km2"] == pytest.approx(0.16)
    # the same square in WGS84 is recognised and projected
    wgs = {"type": "Feature", "geometry": d["place_wgs84"], "properties": {}}
    d2 = S.create_initiative(engine, dataset=DS, kind="day-of-action", name="DoA square wgs",
                             start="2026-05-01", area=wgs)
    assert d2["districts"] == [SOUTHEND] and d2["area_km2"] == pytest.approx(0.16, rel=1e-3)
    # a square in Manchester is outside the force
    far = {"type": "Polygon", "coordinates": [[[-2.25, 53.47], [-2.24, 53.47], [-2.24, 53.48],
                                               [-2.25, 53.48], [-2.25, 53.47]]]}
    with pytest.raises(InputError, match="outside Essex"):
        S.create_initiative(engine, dataset=DS, kind="day-of-action", name="DoA far",
                            start="2026-05-01", area=far)
    # lat/lon typed in the wrong order: also refused
    swapped = {"type": "Polygon", "coordinates": [[[51.54, 0.71], [51.55, 0.71], [51.55, 0.72],
                                                   [51.54, 0.71]]]}
    with pytest.raises(InputError, match="outside Essex"):
        S.create_initiative(engine, dataset=DS, kind="day-of-action", name="DoA swapped",
                            start="2026-05-01", area=swapped)
    # cells: 500 m cell (1172, 372) holds place 3 only
    d3 = S.create_initiative(engine, dataset=DS, kind="cs-zone", name="Zone cell",
                             start="2026-05-01", cells="500:1172_372")
    assert d3["place"] == {"cell_m": 500.0, "cells": [[1172, 372]]}
    assert d3["districts"] == [SOUTHEND] and d3["end"] == "2026-07-29"


BAD_CREATE = [
    ({"districts": "Narnia"}, InputError, "is not one of the districts"),
    ({"districts": SOUTHEND, "cells": "500:1_1"}, InputError, "exactly one"),
    ({}, InputError, "exactly one"),
    ({"districts": SOUTHEND, "volunteer_hours": -3}, InputError, "volunteer hours"),
    ({"districts": SOUTHEND, "band": "09-17"}, InputError, "band"),
    ({"districts": SOUTHEND, "uplift": 0.5}, InputError, "uplift"),
    ({"area": '{"type": "Point", "coordinates": [585100, 186100]}'}, InputError, "Polygon"),
    ({"area": "{not json"}, InputError, "not GeoJSON"),
    ({"cells": "500:1170_372,x"}, InputError, "CELL_M"),
    ({"cells": {"cell_m": 5, "cells": [[1, 1]]}}, InputError, "between 25 and 5000"),
    ({"cells": {"cell_m": 500, "cells": [[1.5, 1]]}}, InputError, "whole numbers"),
]


def test_create_validation(sqlite_engine):
    engine = sqlite_engine
    seed(engine)
    for kwargs, err, match in BAD_CREATE:
        with pytest.raises(err, match=match):
            S.create_initiative(engine, dataset=DS, kind="day-of-action", name="Bad one",
                                start="2026-05-01", **kwargs)
    assert S.list_initiatives(engine) == []  # nothing half-written
    with pytest.raises(NotFound):
        S.create_initiative(engine, dataset="Kent", kind="day-of-action", name="Bad one",
                            start="2026-05-01", districts="Maidstone")


def test_outcomes_resources_and_rates(sqlite_engine, tmp_path):
    engine = sqlite_engine
    seed(engine)
    d = S.create_initiative(engine, dataset=DS, kind="street-week", name="SW",
                            start="2026-03-02", districts=SOUTHEND, volunteer_hours=120,
                            officer_hours=10, cash_gbp=250)
    r = d["resources"]
    assert (r["volunteer_gbp"], r["officer_gbp"], r["total_gbp"]) == (1800.0, 400.0, 2450.0)
    assert "placeholder" in r["rates_source"]
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "forces.toml").write_text("[initiatives.essex]\nvolunteer_hour_gbp = 20.5\n")
    d = S.get_initiative(engine, ref=d["ref"])
    assert d["resources"]["volunteer_gbp"] == 2460.0 and d["resources"]["officer_gbp"] == 400.0
    assert "forces.toml" in d["resources"]["rates_source"]
    S.record_outcome(engine, ref=d["ref"], measure="residents-reached", value=340)
    S.record_outcome(engine, ref=d["ref"], measure="referrals", value=4, detail="Council ASB team")
    S.record_outcome(engine, ref=d["ref"], measure="referrals", value=2, detail="Fire service")
    d = S.record_outcome(engine, ref=d["ref"], measure="referrals", value=3, detail="Fire service")
    assert d["outcome_totals"] == {"referrals": 7.0, "residents-reached": 340.0}
    for bad, match in ((-1, "between 0"), (2.5, "whole number"), ("x", "number")):
        with pytest.raises(InputError, match=match):
            S.record_outcome(engine, ref=d["ref"], measure="nhw-signups", value=bad)
    with pytest.raises(InputError, match="needs its detail"):
        S.record_outcome(engine, ref=d["ref"], measure="referrals", value=1)
    with pytest.raises(InputError, match="measure"):
        S.record_outcome(engine, ref=d["ref"], measure="smiles", value=1)
    with pytest.raises(NotFound):
        S.record_outcome(engine, ref="I-999", measure="leaflets", value=1)
    d = S.set_resources(engine, ref=d["ref"], volunteer_hours=100)
    assert d["resources"]["volunteer_hours"] == 100.0 and d["resources"]["cash_gbp"] == 250.0
    p = S.for_partner(d)
    assert p["aggregated"] and "outcomes" not in p and "notes" not in p and "place" not in p
    assert p["outcome_totals"]["referrals"] == 7.0
    with pytest.raises(Conflict):
        S.create_initiative(engine, dataset=DS, kind="street-week", name="SW",
                            start="2026-04-06", districts=SOUTHEND)


def test_list_filters_quarter_and_categories(sqlite_engine):
    engine = sqlite_engine
    seed(engine)
    S.create_initiative(engine, dataset=DS, kind="campaign", name="Winter burglary",
                        start="2026-11-01", end="2027-02-28", districts=BASILDON,
                        categories="burglary")
    S.create_initiative(engine, dataset=DS, kind="day-of-action", name="DoA all crime",
                        start="2026-12-05", districts=SOUTHEND)
    S.create_initiative(engine, dataset=DS, kind="day-of-action", name="DoA drugs",
                        start="2026-12-06", districts=SOUTHEND, categories=["Drugs"])
    q = S.list_initiatives(engine, start="2027-01-01", end="2027-03-31")
    assert [d["name"] for d in q] == ["Winter burglary"]
    q4 = S.list_initiatives(engine, start="2026-10-01", end="2026-12-31", categories=["Burglary"])
    assert [d["name"] for d in q4] == ["DoA all crime", "Winter burglary"]
    assert [d["name"] for d in S.list_initiatives(engine, kind="campaign")] == ["Winter burglary"]


def test_import_toml_and_csv_with_quarantine_idempotent(sqlite_engine, tmp_path):
    engine = sqlite_engine
    seed(engine)
    t = tmp_path / "plan.toml"
    t.write_text('''
[[initiative]]
kind = "street-week"
name = "SW Basildon"
start = "2026-06-01"
districts = ["Basildon"]
partners = ["Council"]
volunteer_hours = 80

[[initiative]]
kind = "day-of-action"
name = "DoA backwards"
start = "2026-06-10"
end = "2026-06-09"
districts = ["Basildon"]

[[initiative]]
kind = "day-of-action"
name = "DoA typo"
start = "2026-06-10"
distrcts = ["Basildon"]
''')
    rep = S.import_initiatives(engine, t, dataset=DS)
    assert rep.rows_read == 3 and len(rep.created) == 1
    assert [(q.line, q.reason.split(":")[0]) for q in rep.quarantined] == [
        (2, "dates out of order"), (3, "unknown fields ['distrcts']")]
    again = S.import_initiatives(engine, t, dataset=DS)
    assert again.created == [] and again.unchanged == rep.created
    c = tmp_path / "plan.csv"
    c.write_text("kind,name,start,end,districts,volunteer_hours,drop_days,cells\n"
                 "day-of-action,DoA csv,2026-07-04,,Basildon;Southend,12,,\n"
                 "day-of-action,SW Basildon,2026-07-01,,Basildon,,,\n"
                 "cs-zone,Zone csv,2026-07-01,2026-07-31,,,2026-07-03;2026-07-17,500:1170_372\n"
                 "day-of-action,DoA neg,2026-07-04,,Basildon,-4,,\n")
    rep = S.import_initiatives(engine, c, dataset=DS)
    assert len(rep.created) == 2 and [q.line for q in rep.quarantined] == [3, 5]
    assert "already stored" in rep.quarantined[0].reason
    assert "volunteer hours" in rep.quarantined[1].reason
    ev = planned_events(engine, DS, date(2026, 7, 1), date(2026, 7, 31))
    assert {(e.name, e.day) for e in ev if e.kind == "cs-zone"} == {
        ("Zone csv", date(2026, 7, 3)), ("Zone csv", date(2026, 7, 17))}
    assert {e.district for e in ev if e.name == "DoA csv"} == {BASILDON, SOUTHEND}
    with pytest.raises(InputError, match="header"):
        bad = tmp_path / "bad.csv"
        bad.write_text("what,ever\n1,2\n")
        S.import_initiatives(engine, bad, dataset=DS)
