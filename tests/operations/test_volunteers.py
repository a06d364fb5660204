"""The volunteer registry, availability, demand and the stored monthly plan, on both stores,
against the hand-made fixtures (tests/fixtures/README-volunteers.md) and Essex November 2021."""

from __future__ import annotations

import functools
from datetime import date

import pandas as pd
import pytest
from sqlalchemy import func, select

from conftest import ESSEX
from guardian.data.geography import districts_for
from guardian.data.harm_table import load_harm_weights
from guardian.errors import Conflict, InputError, NotFound
from guardian.operations.volunteers import availability as av
from guardian.operations.volunteers import demand, exports, plans, registry
from guardian.operations.volunteers.models import Volunteer

FIX = __import__("pathlib").Path(__file__).parents[1] / "fixtures"
ROSTER, AVAIL, MAPPING = (FIX / "volunteers-roster.csv", FIX / "volunteers-availability.csv",
                          FIX / "volunteers-mapping.toml")
TODAY = date(2021, 12, 1)


@pytest.fixture
def store(engine):
    from guardian.store.ingest import ingest

    ingest(engine, [ESSEX / "2021-11-essex-street.csv.gz"])
    registry.import_registry(engine, path=ROSTER, mapping=MAPPING, today=TODAY)
    av.import_availability(engine, path=AVAIL, mapping=MAPPING)
    return engine


def _ref(engine, source_id):
    with engine.connect() as c:
        return f"V-{c.execute(select(Volunteer.id).where(Volunteer.source_id == source_id)).scalar_one()}"


def test_import_quarantines_bad_rows_and_is_idempotent(sqlite_engine):
    e = sqlite_engine
    r = registry.import_registry(e, path=ROSTER, mapping=MAPPING, today=TODAY)
    assert (r.read, r.added, r.updated, r.unchanged, r.quarantined) == (14, 8, 0, 0, 6)
    text = "\n".join(r.reasons)
    for why in ("line 10: no volunteer id", "line 11: type 'Sergeant'",
                "line 12: a cadet needs a date of birth",
                "line 13: an accredited person (CSAS) needs an accreditation",
                "line 14: accreditation date '2021-03-15' is not a date in the format %d/%m/%Y",
                "line 15: volunteer id 'SC001' appears twice"):
        assert why in text
    again = registry.import_registry(e, path=ROSTER, mapping=MAPPING, today=TODAY)
    assert (again.added, again.updated, again.unchanged, again.quarantined) == (0, 0, 8, 6)
    assert len(registry.quarantined(e, what="registry")) == 6
    a = av.import_availability(e, path=AVAIL, mapping=MAPPING)
    assert (a.read, a.added, a.quarantined) == (19, 16, 3)
    assert "volunteer id 'NOPE1' is not in the registry" in a.reasons[0]
    assert "'31/02/2021'" in a.reasons[1] and "'Lunch'" in a.reasons[2]
    a2 = av.import_availability(e, path=AVAIL, mapping=MAPPING)
    assert (a2.added, a2.unchanged, a2.quarantined) == (0, 16, 3)
    assert len(registry.quarantined(e)) == 9


def test_registry_shows_age_band_never_birth_date_and_refresher(sqlite_engine):
    e = sqlite_engine
    registry.import_registry(e, path=ROSTER, mapping=MAPPING, today=TODAY)
    people = {p["source_id"]: p for p in registry.list_volunteers(e, today=TODAY)}
    assert len(people) == 8
    casey = people["VC001"]
    assert casey["age_band"] == "under 13" and "date_of_birth" not in casey
    assert casey["needs_supervision"] and casey["type"] == "Volunteer Police Cadet"
    assert people["VC002"]["needs_supervision"]  # a cadet always, whatever the column says
    # accredited 2021-03-15: refresher due 2024-03-15, before the card's expiry in 2027
    cs = people["CS001"]
    assert (cs["refresher_due"], cs["accredited_until"], cs["accreditation_valid"]) == (
        "2024-03-15", "2024-03-15", True)
    jo = people["CS002"]  # refresher fell due 2021-01-01 though the card says 2030
    assert (jo["accredited_until"], jo["accreditation_valid"]) == ("2021-01-01", False)
    assert people["PS001"]["also_districts"] == ["Basildon"]
    assert people["SC001"]["skills"] == ["driving", "first aid"]
    assert registry.refresher_due(date(2020, 2, 29)) == date(2023, 2, 28)
    assert [p["source_id"] for p in registry.list_volunteers(e, kind="cadet")] == ["VC001", "VC002"]
    with pytest.raises(InputError, match="type 'x'"):
        registry.list_volunteers(e, kind="x")


def test_link_user_and_mapping_errors(sqlite_engine, tmp_path):
    from guardian.operations.accounts import service as accounts

    e = sqlite_engine
    registry.import_registry(e, path=ROSTER, mapping=MAPPING, today=TODAY)
    accounts.add_user(e, username="pat", password="correct horse battery", role="volunteer")
    ref = _ref(e, "SC002")
    assert registry.link_user(e, ref=ref, username="Pat")["username"] == "pat"
    assert registry.volunteer_of_user(e, "pat")["source_id"] == "SC002"
    with pytest.raises(NotFound):
        registry.link_user(e, ref=ref, username="nobody")
    accounts.add_user(e, username="sam", password="correct horse battery", role="volunteer")
    with pytest.raises(Conflict, match="already linked"):
        registry.link_user(e, ref=ref, username="sam")
    bad = tmp_path / "m.toml"
    bad.write_text('[columns]\nid = "x"\n')
    with pytest.raises(InputError, match="must name the export's column"):
        registry.load_mapping(bad)
    bad.write_text('[columns]\nid="a"\nname="b"\ntype="c"\ndistrict="d"\n[types]\nX = "pcso"\n')
    with pytest.raises(InputError, match="not Guardian types"):
        registry.load_mapping(bad)
    with pytest.raises(InputError, match="does not exist"):
        registry.load_mapping(tmp_path / "none.toml")


def test_set_availability_by_form(sqlite_engine):
    e = sqlite_engine
    registry.import_registry(e, path=ROSTER, mapping=MAPPING, today=TODAY)
    ref = _ref(e, "AC001")
    n = av.set_availability(e, ref=ref, month="2021-12",
                            shifts=[(date(2021, 12, 2), 0), (date(2021, 12, 2), "16-24")])
    assert n == 2
    assert [(x["day"], x["band_label"]) for x in av.availability(e, month="2021-12", ref=ref)] == [
        ("2021-12-02", "08-16"), ("2021-12-02", "16-24")]
    with pytest.raises(InputError, match="not in 2021-12"):
        av.set_availability(e, ref=ref, month="2021-12", shifts=[(date(2022, 1, 1), 0)])
    with pytest.raises(InputError, match="time band"):
        av.set_availability(e, ref=ref, month="2021-12", shifts=[(date(2021, 12, 1), "noon")])


@functools.cache
def _hand_harm_table() -> pd.Series:
    """Harm per district of Essex November 2021, straight from the published CSV."""
    raw = pd.read_csv(ESSEX / "2021-11-essex-street.csv.gz", usecols=["LSOA code", "Crime type"])
    raw = raw[raw["LSOA code"].notna()]
    raw["district"] = districts_for(raw["LSOA code"].astype("string"), "essex").to_numpy()
    hw = load_harm_weights("harm_index_v1")
    return raw["Crime type"].map(hw.weight).groupby(raw["district"]).sum()


def _hand_harm(district: str) -> float:
    return float(_hand_harm_table()[district])


def test_demand_is_month_level_with_calendar_and_initiative_uplifts(store):
    from guardian.operations.initiatives.service import create_initiative

    create_initiative(store, dataset="Essex Police", kind="day-of-action", name="Basildon DoA",
                      start="2021-12-11", districts=["Basildon"], band="08-16", uplift=2.0)
    frame, basis = demand.district_demand(store, dataset="Essex Police", month="2021-12",
                                          lookback_months=1, districts=["Basildon", "Chelmsford"])
    assert len(frame) == 2 * 31 * 3
    assert any("month-level" in b for b in basis)
    assert any("initiatives: 1 planned" in b for b in basis)
    base = _hand_harm("Basildon") / 30 / 3  # November has 30 days; three bands a day
    got = frame.set_index(["district", "day", "band"])["demand"]
    assert got[("Basildon", date(2021, 12, 1), 0)] == pytest.approx(base, rel=1e-9)
    assert got[("Basildon", date(2021, 12, 18), 1)] == pytest.approx(1.25 * base)  # Saturday
    assert got[("Basildon", date(2021, 12, 31), 1)] == pytest.approx(1.25 * 1.75 * base)  # NYE Fri
    assert got[("Basildon", date(2021, 12, 11), 0)] == pytest.approx(2.0 * base)  # the DoA
    assert got[("Chelmsford", date(2021, 12, 11), 0)] == pytest.approx(
        _hand_harm("Chelmsford") / 90)
    reason = frame[(frame["district"] == "Basildon") & (frame["day"] == date(2021, 12, 11))
                   & (frame["band"] == 0)]["reason"].iloc[0]
    assert "day-of-action Basildon DoA (x2)" in reason


def test_calendar_validation(tmp_path):
    p = tmp_path / "cal.toml"
    p.write_text('[[weekly]]\nname = "x"\nweekday = "Funday"\n')
    with pytest.raises(InputError, match="weekday 'Funday'"):
        demand.load_calendar(p)
    p.write_text('[[day]]\nname = "x"\ndate = "31/12"\n')
    with pytest.raises(InputError, match="not YYYY-MM-DD or MM-DD"):
        demand.load_calendar(p)
    p.write_text('[[day]]\nname = "x"\ndate = "12-31"\nuplift = -1\n')
    with pytest.raises(InputError, match="uplift -1"):
        demand.load_calendar(p)
    entries, _ = demand.load_calendar()
    assert any(e.name.startswith("weekly national event") for e in entries)


def test_plan_keeps_every_rule_resolve_publish_export(store, tmp_path):
    plan = plans.create_plan(store, dataset="Essex Police", month="2021-12", lookback_months=1,
                             districts=["Basildon", "Chelmsford"], need=3, min_people=2,
                             max_people=4, time_limit_s=20, created_by="coord")
    assert plan["status"] == "optimal"
    by_key = {(g["district"], g["day"], g["band"]): set(g["volunteers"]) for g in plan["grid"]}
    sc1, vc1, vc2, ps1, ac1, cs1, cs2 = (_ref(store, s) for s in (
        "SC001", "VC001", "VC002", "PS001", "AC001", "CS001", "CS002"))
    # 11 Dec daytime: the only three free in Basildon, the cadet with the Special
    assert by_key[("Basildon", "2021-12-11", 0)] == {sc1, vc2, ps1}
    # 19 Dec night: three adults (the PSV crosses from Chelmsford)
    assert by_key[("Basildon", "2021-12-19", 2)] == {ac1, cs1, ps1}
    who = [a["volunteer"] for a in plan["assignments"]]
    assert cs2 not in who  # refresher overdue: never assigned
    assert all(a["band"] == 0 for a in plan["assignments"] if a["volunteer"] == vc1)
    assert all("covers" in a["why"] and "allowed" in a["why"] for a in plan["assignments"])
    cadet_why = next(a["why"] for a in plan["assignments"] if a["volunteer"] == vc2)
    assert f"supervised by {sc1}" in cadet_why
    chelm = next(d for d in plan["by_district"] if d["district"] == "Chelmsford")
    assert chelm["shifts"] == 0 and plan["gaps"]
    # re-solve after the Special drops out: the cadet cannot go alone, the rest is kept
    again = plans.resolve_plan(store, plan_id=plan["ref"], drop=[sc1], time_limit_s=20)
    assert again["parent"] == plan["ref"]
    assert sc1 not in {a["volunteer"] for a in again["assignments"]}
    new = {(g["district"], g["day"], g["band"]): set(g["volunteers"]) for g in again["grid"]}
    assert vc2 not in new[("Basildon", "2021-12-11", 0)]
    assert new[("Basildon", "2021-12-19", 2)] == {ac1, cs1, ps1}
    assert all(a["fixed"] for a in again["assignments"] if a["day"] == "2021-12-19")
    # board figures: the latest plan of the month only
    hours = plans.volunteer_hours(store, dataset="Essex Police", start_month="2021-12",
                                  end_month="2021-12")
    assert hours["hours"].sum() == 8 * len(again["assignments"])
    # publish: one task per shift of a volunteer with a login, once
    res = plans.publish_tasks(store, plan_id=again["ref"])
    with_login = sum(1 for a in again["assignments"] if a["volunteer"] in {ac1, vc1})
    assert res["published"] == with_login and res["published"] > 0
    assert plans.publish_tasks(store, plan_id=again["ref"])["published"] == 0
    from guardian.operations.tasks.models import Task

    with store.connect() as c:
        assert c.execute(select(func.count()).select_from(Task)).scalar_one() == with_login
        shift = c.execute(select(Task.__table__).order_by(Task.id)).first()
    # the volunteer records attendance on their own shift, and only attendance
    from datetime import UTC, datetime

    from guardian.errors import InputError
    from guardian.operations.accounts.service import Account
    from guardian.operations.tasks import service as task_service

    assert shift.kind == "volunteer-shift"
    me = Account(0, shift.assignee, "", "volunteer", None, True)
    at = datetime(2021, 12, 20, tzinfo=UTC)
    with pytest.raises(InputError, match="attended"):
        task_service.record_outcome(store, me, shift.id, outcome="briefed", key="shift-key-0",
                                    at=at)
    done = task_service.record_outcome(store, me, shift.id, outcome="attended",
                                       key="shift-key-1", at=at)
    assert done["task"]["outcome"] == "attended" and not done["replayed"]
    # exports: CSV rows and a calendar per volunteer
    out = exports.export_plan(store, plan_id=again["ref"], out_dir=tmp_path)
    csv_text = open(out["csv"]).read().splitlines()
    assert len(csv_text) == 1 + len(again["assignments"])
    ics = exports.volunteer_ics(store, plan_id=again["ref"], volunteer=ac1)
    assert ics.startswith("BEGIN:VCALENDAR\r\n")
    # 19 Dec 24-08 is 20 Dec 00:00-08:00 GMT
    assert "DTSTART:20211220T000000Z" in ics and "DTEND:20211220T080000Z" in ics
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))
    mine = plans.my_shifts(store, username="alex")
    assert {s["day"] for s in mine["shifts"]} == {
        a["day"] for a in again["assignments"] if a["volunteer"] == ac1}
    assert plans.my_shifts(store, username="nobody") == {"volunteer": None, "shifts": []}
    with pytest.raises(NotFound):
        plans.get_plan(store, plan_id="M-999")
    with pytest.raises(InputError, match="no shift"):
        plans.resolve_plan(store, plan_id=again["ref"], drop=[cs2])


def test_cli_import_plan_show_export(tmp_path):
    from typer.testing import CliRunner

    from guardian.cli import _register, app
    from guardian.store.db import get_engine
    from guardian.store.ingest import ingest

    ingest(get_engine(), [ESSEX / "2021-11-essex-street.csv.gz"])
    _register()
    run = CliRunner()

    def ok(*args):
        r = run.invoke(app, list(args))
        assert r.exit_code == 0, r.output
        return r.output

    assert "8 added, 0 updated, 0 unchanged, 6 quarantined" in ok(
        "volunteers", "import", str(ROSTER), "--mapping", str(MAPPING))
    assert "16 added" in ok("volunteers", "availability", str(AVAIL), "--mapping", str(MAPPING))
    out = ok("mobilise", "plan", "--force", "essex", "--month", "2021-12", "--lookback", "1",
             "--district", "Basildon", "--district", "Chelmsford", "--need", "4",
             "--max-people", "4", "--time-limit", "20")
    assert "cp-sat optimal" in out and "month-level demand" in out
    assert "Sat 11" in out and "3/./." in out  # three people on the 11th, daytime
    assert "supervised by" in ok("mobilise", "show", "M-1", "--why")
    out = ok("mobilise", "export", "M-1", "--out", str(tmp_path / "x"), "--publish")
    # every free person is used (need 4) except CS002, whose refresher is overdue: 7 calendars;
    # sam 3 + alex 3 + casey 1 shifts have a login, the other 7 shifts have none
    assert "and 7 calendars" in out
    assert "tasks: 7 published, 0 already, 7 shifts of volunteers without" in out
    assert "Casey Cadet" in ok("volunteers", "list", "--type", "cadet")
    r = run.invoke(app, ["mobilise", "show", "M-9"])
    assert r.exit_code != 0
