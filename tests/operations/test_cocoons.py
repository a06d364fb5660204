"""Cocoons: merging, expiry, near repeats, overdue, idempotence, places, delivery, real data.

Runs on SQLite and on PostgreSQL (the ``engine`` fixture). Hand-made cases use a small force
extract in British National Grid metres with times in UTC, loaded through the real ingest path.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from conftest import CHICAGO_BE, ESSEX, REPO
from guardian.data.extract import ExtractMapping
from guardian.errors import Conflict, InputError, NotFound
from guardian.operations.cocoons import service as svc
from guardian.operations.cocoons.models import Cocoon, CocoonMember, CocoonVisit
from guardian.store.ingest import ingest

DS = "test_force"
X0, Y0 = 550_000.0, 180_000.0
T0 = datetime(2016, 1, 4, 10, 0, tzinfo=UTC)
MAPPING = ExtractMapping.from_dict({
    "dataset": {"name": DS, "timezone": "UTC"},
    "columns": {"id": "id", "date": "date", "date_format": "%Y-%m-%d", "time": "time",
                "x": "x", "y": "y", "category": "code"},
    "coordinates": {"crs": "EPSG:27700"},
    "categories": {"map": {
        "BDW": {"category": "Burglary", "dwelling": True},
        "BNDW": {"category": "Burglary", "dwelling": False},
        "THEFT": {"category": "Other theft"},
    }},
})


def at(days: float = 0.0, hours: float = 0.0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def load(engine, tmp_path, rows):
    """rows: (id, days after T0, dx metres, dy metres[, code]) -> ingested into the store."""
    path = tmp_path / f"extract-{uuid.uuid4().hex[:8]}.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "date", "time", "x", "y", "code"])
        for r in rows:
            eid, days, dx, dy = r[:4]
            code = r[4] if len(r) > 4 else "BDW"
            t = at(days)
            w.writerow([eid, t.strftime("%Y-%m-%d"), t.strftime("%H:%M"), X0 + dx, Y0 + dy, code])
    reports = ingest(engine, [path], mapping=MAPPING, workers=1)
    assert reports[0].status == "loaded", reports[0]
    return path


def open_(engine, as_of, **kw):
    return svc.open_cocoons(engine, dataset=DS, as_of=as_of, **kw)


def members(engine):
    """{event_key: (cocoon_id, near_repeat_of event_key or None)}."""
    m = CocoonMember
    with engine.connect() as c:
        rows = c.execute(select(m.id, m.event_key, m.cocoon_id, m.near_repeat_of_id)).all()
    key = {r.id: r.event_key for r in rows}
    return {r.event_key: (r.cocoon_id, key.get(r.near_repeat_of_id)) for r in rows}


def groups(engine):
    out: dict[int, set[str]] = {}
    for k, (cid, _) in members(engine).items():
        out.setdefault(cid, set()).add(k)
    return sorted(map(frozenset, out.values()), key=sorted)


# --------------------------------------------------------------------------------------------
# Merging and near repeats
# --------------------------------------------------------------------------------------------


def test_300_m_apart_within_window_merge_and_900_m_do_not(engine, tmp_path):
    load(engine, tmp_path, [("A", 0, 0, 0), ("B", 5, 300, 0), ("C", 6, 900, 0)])
    rep = open_(engine, at(10))
    # A-B: 300 m <= 400 m: B is inside A's disc -> same cocoon, near repeat of A.
    # A-C: 900 m > 800 m: discs do not overlap. B-C: 600 m <= 800 m: overlap -> merge.
    assert groups(engine) == [frozenset({"A", "B", "C"})]
    mem = members(engine)
    assert mem["B"][1] == "A"
    assert mem["C"][1] is None  # overlapping zone, not inside a disc (600 m from B)
    assert (rep.added, rep.cocoons_opened, rep.near_repeats) == (3, 1, 1)


def test_900_m_apart_do_not_merge(engine, tmp_path):
    load(engine, tmp_path, [("A", 0, 0, 0), ("C", 6, 900, 0)])
    open_(engine, at(10))
    assert groups(engine) == [frozenset({"A"}), frozenset({"C"})]


def test_chain_merge_a_b_c_in_two_runs_merges_existing_cocoons(engine, tmp_path):
    load(engine, tmp_path, [("A", 0, 0, 0), ("C", 1, 1400, 0)])
    open_(engine, at(1, 1))
    assert len(groups(engine)) == 2
    mem = members(engine)
    ca, cc = mem["A"][0], mem["C"][0]
    load(engine, tmp_path, [("B", 2, 700, 0)])  # 700 m from both: joins them
    rep = open_(engine, at(2, 1))
    assert rep.cocoons_merged == 1 and rep.cocoons_opened == 0 and rep.joined_existing == 1
    assert groups(engine) == [frozenset({"A", "B", "C"})]
    assert all(cid == min(ca, cc) for cid, _ in members(engine).values())
    with engine.connect() as c:
        merged = c.execute(select(Cocoon.__table__).where(Cocoon.id == max(ca, cc))).one()
        assert merged.state == "merged" and merged.merged_into_id == min(ca, cc)
        # Visits moved with their burglaries.
        assert c.execute(select(func.count()).select_from(CocoonVisit)
                         .where(CocoonVisit.cocoon_id == max(ca, cc))).scalar_one() == 0
    lst = svc.list_cocoons(engine, as_of=at(3), dataset=DS, statuses=None)
    assert {c["status"] for c in lst} == {"open", "merged"}
    # The old reference leads to the surviving cocoon.
    got = svc.get_cocoon(engine, ref=f"C-{max(ca, cc)}", as_of=at(3))
    assert got["id"] == min(ca, cc) and got["followed_from"] == f"C-{max(ca, cc)}"
    assert got["members"] == 3


@pytest.mark.parametrize("runs", [[40], [1.5, 4, 40], [0.5, 3.5, 5.5, 40]])
def test_same_result_in_one_run_or_several(engine, tmp_path, runs):
    rows = [("A", 0, 0, 0), ("B", 3, 700, 0), ("C", 5, 1400, 0), ("D", 1, 5000, 0),
            ("E", 30, 5300, 0)]
    load(engine, tmp_path, rows)
    for day in runs:
        open_(engine, at(day))
    assert groups(engine) == [frozenset({"A", "B", "C"}), frozenset({"D", "E"})]
    nr = {k: v[1] for k, v in members(engine).items()}
    assert nr == {"A": None, "B": None, "C": None, "D": None, "E": "D"}


def test_late_arriving_older_burglary_is_attributed_in_time_order(engine, tmp_path):
    load(engine, tmp_path, [("B", 5, 100, 0)])
    open_(engine, at(6))
    load(engine, tmp_path, [("A", 1, 0, 0)])  # older report, loaded later
    open_(engine, at(6))
    mem = members(engine)
    assert mem["A"][0] == mem["B"][0]
    assert mem["B"][1] == "A" and mem["A"][1] is None  # B is the near repeat, not A


def test_near_repeat_extends_the_cocoon_and_after_expiry_opens_a_new_one(engine, tmp_path):
    load(engine, tmp_path, [("A", 0, 0, 0), ("B", 30, 100, 0), ("C", 72, 50, 0)])
    open_(engine, at(80))
    mem = members(engine)
    assert mem["B"] == (mem["A"][0], "A")
    # End = B + 42 days = day 72 exactly; C at day 72 is after expiry: a new cocoon.
    assert mem["C"][0] != mem["A"][0] and mem["C"][1] is None
    lst = {c["ref"]: c for c in svc.list_cocoons(engine, as_of=at(71), dataset=DS)}
    ca = lst[f"C-{mem['A'][0]}"]
    assert ca["ends_at"] == at(72).isoformat()
    assert "1 near repeat within 400 m/42 days" in ca["why"]


def test_near_repeat_of_the_most_recent_earlier_burglary(engine, tmp_path):
    load(engine, tmp_path, [("A", 0, 0, 0), ("B", 5, 100, 0), ("C", 10, 50, 0),
                            ("D", 12, 350, 0)])
    open_(engine, at(13))
    mem = members(engine)
    # C is inside A's and B's discs: attributed to B (more recent). D is 250 m from B, 300 m
    # from C, 350 m from A: attributed to C (the most recent).
    assert (mem["B"][1], mem["C"][1], mem["D"][1]) == ("A", "B", "C")


def test_same_report_time_is_not_a_near_repeat(engine, tmp_path):
    load(engine, tmp_path, [("A", 0, 0, 0), ("B", 0, 50, 0)])
    open_(engine, at(1))
    mem = members(engine)
    assert mem["A"][0] == mem["B"][0] and mem["A"][1] is None and mem["B"][1] is None


def test_non_dwelling_burglary_and_other_crime_are_not_cocooned(engine, tmp_path):
    load(engine, tmp_path, [("A", 0, 0, 0), ("N", 0, 50, 0, "BNDW"), ("T", 0, 60, 0, "THEFT")])
    rep = open_(engine, at(1))
    assert rep.considered == 1 and rep.non_dwelling_excluded == 1 and rep.added == 1
    assert rep.burglary_basis == "dwelling burglary (dwelling flag true)"


# --------------------------------------------------------------------------------------------
# Status, expiry, overdue
# --------------------------------------------------------------------------------------------


def test_status_open_active_expired(engine, tmp_path):
    load(engine, tmp_path, [("A", 0, 0, 0)])
    open_(engine, at(0, 1))
    (c,) = svc.list_cocoons(engine, as_of=at(1), dataset=DS)
    assert c["status"] == "open" and c["ends_at"] == at(42).isoformat()
    svc.record_visit(engine, ref=c["ref"], outcome="spoke", at=at(1), by="PC 4512")
    assert svc.list_cocoons(engine, as_of=at(2), dataset=DS)[0]["status"] == "active"
    # A visit recorded later than the as-of time does not count yet.
    assert svc.list_cocoons(engine, as_of=at(0, 12), dataset=DS)[0]["status"] == "open"
    end = at(42)
    assert svc.list_cocoons(engine, as_of=end - timedelta(seconds=1), dataset=DS)[0]["status"] == "active"
    assert svc.list_cocoons(engine, as_of=end, dataset=DS) == []
    (e,) = svc.list_cocoons(engine, as_of=end, dataset=DS, statuses=["expired"])
    assert e["status"] == "expired"


def test_overdue_lists_missed_48_hours_not_completed_visits(engine, tmp_path):
    # A's neighbours: two other (theft) points 100 m and 200 m away -> 3 visits.
    load(engine, tmp_path, [("A", 0, 0, 0), ("P1", -30, 100, 0, "THEFT"),
                            ("P2", -30, 0, 200, "THEFT")])
    open_(engine, at(0, 1))
    assert svc.overdue_visits(engine, as_of=at(2) - timedelta(minutes=1), dataset=DS) == []
    over = svc.overdue_visits(engine, as_of=at(2, 1), dataset=DS)
    assert len(over) == 3 and over[0]["is_victim"] and over[0]["hours_overdue"] == 1.0
    assert over[0]["timing"] == "exact"
    done = svc.record_visit(engine, ref=over[1]["ref"], outcome="advice", at=at(1), by="PCSO 77")
    assert done["on_time"]
    late = svc.record_visit(engine, ref=over[2]["ref"], outcome="no-answer", at=at(3))
    assert not late["on_time"]
    left = svc.overdue_visits(engine, as_of=at(3, 1), dataset=DS)
    assert [v["ref"] for v in left] == [over[0]["ref"]]
    # After expiry the missed visit is no longer actionable, but is listed with include_expired.
    assert svc.overdue_visits(engine, as_of=at(50), dataset=DS) == []
    gone = svc.overdue_visits(engine, as_of=at(50), dataset=DS, include_expired=True)
    assert [(v["ref"], v["cocoon_status"]) for v in gone] == [(over[0]["ref"], "expired")]


def test_record_visit_checks(engine, tmp_path):
    load(engine, tmp_path, [("A", 0, 0, 0), ("P1", -30, 100, 0, "THEFT")])
    open_(engine, at(0, 1))
    (c,) = svc.list_cocoons(engine, as_of=at(1), dataset=DS)
    with pytest.raises(InputError, match="outcome 'maybe'"):
        svc.record_visit(engine, ref=c["ref"], outcome="maybe", at=at(1))
    with pytest.raises(InputError, match="before the burglary was reported"):
        svc.record_visit(engine, ref=c["ref"], outcome="spoke", at=at(-1))
    with pytest.raises(Conflict, match="expired"):
        svc.record_visit(engine, ref=c["ref"], outcome="spoke", at=at(43))
    with pytest.raises(InputError, match="no timezone"):
        svc.record_visit(engine, ref=c["ref"], outcome="spoke", at=datetime(2016, 1, 5))
    with pytest.raises(InputError, match="not a valid assignee"):
        svc.record_visit(engine, ref=c["ref"], outcome="spoke", at=at(1), by="Mrs Smith; DROP")
    with pytest.raises(InputError, match="C-12 for cocoon"):
        svc.record_visit(engine, ref="12", outcome="spoke", at=at(1))
    with pytest.raises(NotFound, match="V-999999"):
        svc.record_visit(engine, ref="V-999999", outcome="spoke", at=at(1))
    first = svc.record_visit(engine, ref=c["ref"], outcome="no answer", at=at(1))
    assert first["is_victim"] and first["outcome"] == "no-answer"  # victim first
    second = svc.record_visit(engine, ref=c["ref"], outcome="declined", at=at(1))
    assert second["rank"] == 1
    with pytest.raises(Conflict, match="no pending visit"):
        svc.record_visit(engine, ref=c["ref"], outcome="spoke", at=at(1))
    with pytest.raises(Conflict, match="already has outcome"):
        svc.record_visit(engine, ref=first["ref"], outcome="spoke", at=at(1))
    r = svc.assign_cocoon(engine, ref=c["ref"], owner="Harlow NPT")
    assert r == {"ref": c["ref"], "owner": "Harlow NPT", "previous_owner": None}
    with pytest.raises(InputError, match="owners are set on cocoons"):
        svc.assign_cocoon(engine, ref=first["ref"], owner="x")


# --------------------------------------------------------------------------------------------
# Idempotence
# --------------------------------------------------------------------------------------------


def _counts(engine):
    with engine.connect() as c:
        return tuple(c.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (Cocoon, CocoonMember, CocoonVisit))


def test_opening_twice_and_reingesting_opens_nothing_new(engine, tmp_path):
    path = load(engine, tmp_path, [("A", 0, 0, 0), ("B", 2, 150, 0), ("C", 3, 4000, 0)])
    first = open_(engine, at(5))
    before = _counts(engine)
    assert before[:2] == (2, 3)
    again = open_(engine, at(5))
    assert again.added == 0 and again.already_cocooned == 3 and _counts(engine) == before
    assert ingest(engine, [path], mapping=MAPPING, workers=1)[0].status == "unchanged"
    # The same burglaries in a new file (a re-extract): duplicates at ingest, nothing new here.
    copy = tmp_path / "copy.csv"
    copy.write_text(path.read_text() + f"D,{at(4):%Y-%m-%d},{at(4):%H:%M},{X0},{Y0 + 5000},BDW\n")
    ingest(engine, [copy], mapping=MAPPING, workers=1)
    third = open_(engine, at(5))
    assert third.added == 1 and third.already_cocooned == 3
    assert first.added == 3
    # The store itself refuses a second membership of the same burglary.
    with engine.connect() as c:
        row = c.execute(select(CocoonMember.__table__).where(CocoonMember.event_key == "A")).first()
        dup = {k: v for k, v in row._mapping.items() if k != "id"}
        with pytest.raises(IntegrityError):
            c.execute(insert(CocoonMember.__table__).values(**dup))
        c.rollback()


def test_burglaries_after_as_of_wait(engine, tmp_path):
    load(engine, tmp_path, [("A", 0, 0, 0), ("B", 10, 100, 0)])
    rep = open_(engine, at(5))
    assert rep.added == 1 and rep.after_as_of == 1
    rep = open_(engine, at(11))
    assert rep.added == 1 and rep.near_repeats == 1


# --------------------------------------------------------------------------------------------
# Places
# --------------------------------------------------------------------------------------------


def test_places_nearest_first_victim_first(engine, tmp_path):
    # Known places: points of other events. Distances from A (hand-computed):
    # P1 (30, 40) -> 50 m; P2 (0, -120) -> 120 m; P3 (240, 320) -> 400 m (on the edge: inside);
    # P4 (300, 300) -> 424.3 m (outside); P0 at A's own point (the victim's, not listed twice).
    load(engine, tmp_path, [
        ("A", 0, 0, 0), ("P0", -40, 0, 0, "THEFT"), ("P1", -40, 30, 40, "THEFT"),
        ("P2", -40, 0, -120, "THEFT"), ("P3", -40, 240, 320, "THEFT"),
        ("P4", -40, 300, 300, "THEFT")])
    rep = open_(engine, at(1))
    assert rep.visits_planned == 4
    (c,) = svc.list_cocoons(engine, as_of=at(1), dataset=DS)
    got = svc.get_cocoon(engine, ref=c["ref"], as_of=at(1))
    vis = [(v["is_victim"], v["distance_m"], v["place"]) for v in got["visits_list"]]
    assert vis == [
        (True, 0.0, f"point ({X0:.0f}, {Y0:.0f})"),
        (False, 50.0, f"point ({X0 + 30:.0f}, {Y0 + 40:.0f})"),
        (False, 120.0, f"point ({X0:.0f}, {Y0 - 120:.0f})"),
        (False, 400.0, f"point ({X0 + 240:.0f}, {Y0 + 320:.0f})"),
    ]
    places = svc.cocoon_places(engine, ref=c["ref"], as_of=at(1))
    assert places["distance_m"].round(1).tolist() == [0.0, 50.0, 120.0, 400.0]


def test_places_in_zone_distance_to_nearest_member():
    members = pd.DataFrame({"x": [0.0, 600.0], "y": [0.0, 0.0], "radius_m": [400.0, 400.0],
                            "event_key": ["A", "B"]})
    places = pd.DataFrame({"x": [300.0, 550.0, 0.0, 1100.0, -450.0],
                           "y": [0.0, 0.0, 390.0, 0.0, 0.0],
                           "place": ["mid", "nearB", "northA", "farB", "outside"]})
    out = svc.places_in_zone(members, places)
    # mid: 300 to both; nearB: 50 to B; northA: 390 to A; farB: 500 > 400 from B -> out.
    assert out["place"].tolist() == ["nearB", "mid", "northA"]
    assert out["distance_m"].tolist() == [50.0, 300.0, 390.0]
    assert out["nearest"].tolist() == [1, 0, 0]
    zone = svc.zone_geometry(members)
    assert zone.area == pytest.approx(2 * math.pi * 400**2 - _lens(400, 600), rel=2e-3)


def _lens(r: float, d: float) -> float:
    """Area of the intersection of two discs of radius r whose centres are d apart."""
    return 2 * r * r * math.acos(d / (2 * r)) - d / 2 * math.sqrt(4 * r * r - d * d)


def _brute_nearest(places: pd.DataFrame, x: float, y: float, r: float) -> list[tuple]:
    """Every known place within r metres of (x, y), the victim's own point (< 1 m) left out,
    sorted by distance, then place text, x, y: a plain-Python scan of all places (no tree)."""
    near = []
    for px, py, name in places[["x", "y", "place"]].itertuples(index=False, name=None):
        d = math.hypot(px - x, py - y)
        if 1.0 <= d <= r:
            near.append((d, name, px, py))
    return sorted(near)


@pytest.mark.parametrize("cap", [0, 2, svc.DEFAULT_NEIGHBOUR_VISITS, None])
def test_neighbour_visits_are_capped_to_the_nearest_places(engine, tmp_path, cap):
    # Twelve theft points scattered within 400 m of burglary A and three outside it: A plans
    # the victim plus the `cap` nearest of the twelve (None: all of them); the other places of
    # the zone are counted as covered by the zone itself.
    rng = np.random.default_rng(7)
    ang = rng.uniform(0, 2 * math.pi, 12)
    rad = rng.uniform(20, 390, 12)
    rows = [("A", 0, 0, 0)]
    rows += [(f"P{k}", -30, float(rad[k] * math.cos(ang[k])), float(rad[k] * math.sin(ang[k])),
              "THEFT") for k in range(12)]
    rows += [(f"F{k}", -30, 450.0 + 100 * k, 0.0, "THEFT") for k in range(3)]
    load(engine, tmp_path, rows)
    rep = open_(engine, at(1), neighbour_visits=cap)
    n = 12 if cap is None else min(cap, 12)
    assert (rep.visits_planned, rep.victim_visits, rep.neighbour_visits_planned) == (1 + n, 1, n)
    assert rep.neighbour_visits == cap
    (c,) = svc.list_cocoons(engine, as_of=at(1), dataset=DS)
    got = svc.get_cocoon(engine, ref=c["ref"], as_of=at(1))
    want = _brute_nearest(svc.known_places(engine, dataset=DS), X0, Y0, 400.0)[:n]
    vis = got["visits_list"]
    assert vis[0]["is_victim"] and vis[0]["why"] == "victim's address (burglary A)"
    assert [(v["place"], v["distance_m"]) for v in vis[1:]] == [
        (name, round(d, 1)) for d, name, _, _ in want]
    assert [v["why"] for v in vis[1:]] == [
        f"{o} nearest of 12 places within 400 m of burglary A"
        for o in ["1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th",
                  "11th", "12th"][:n]]
    # In the zone: the twelve points and A's own point; visited: the victim and n neighbours.
    assert (got["places_in_zone"], got["places_visited"], got["places_covered_by_zone"]) \
        == (13, 1 + n, 12 - n)
    assert (rep.places_in_zones, rep.places_visited, rep.places_covered_by_zone) \
        == (13, 1 + n, 12 - n)
    assert got["members_list"][0]["places_within"] == 12
    over = svc.overdue_visits(engine, as_of=at(3), dataset=DS)
    assert [v["why"] for v in over] == [v["why"] for v in vis]
    # the officer's tasks say why in the planner's words, with the distance
    from sqlalchemy import select

    from guardian.operations.tasks.models import Task
    from guardian.operations.tasks.service import sync_tasks

    sync_tasks(engine)
    with engine.connect() as conn:
        whys = conn.execute(select(Task.why).where(Task.kind == "cocoon-visit")
                            .order_by(Task.id)).scalars().all()
    assert whys[0] == "victim's address (burglary A): first visit of the cocoon"
    assert [w.split(" (")[0] for w in whys[1:]] == [
        f"{o} nearest place within 400 m of burglary A"
        for o in ["1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th", "10th",
                  "11th", "12th"][:n]]
    assert [f"({v['distance_m']:.0f} m away" in w for v, w in zip(vis[1:], whys[1:],
                                                                   strict=True)] == [True] * n


def test_visit_reason_and_cap_checks():
    assert svc.visit_reason(rank=1, is_victim=False, n_within=1, radius_m=400.0,
                            event_key="A") == "1st nearest of 1 place within 400 m of burglary A"
    assert svc.visit_reason(rank=22, is_victim=False, n_within=30, radius_m=250.0,
                            event_key="B").startswith("22nd nearest of 30 places within 250 m")
    # A place list smaller than the rank (planned from another list): no count is claimed.
    assert svc.visit_reason(rank=3, is_victim=False, n_within=2, radius_m=400.0,
                            event_key="x" * 64) == (
        "3rd nearest place within 400 m of burglary xxxxxxxxxx…")
    assert svc.check_neighbour_visits("all") is None and svc.check_neighbour_visits("7") == 7
    for bad in (-1, 2.5, "some", True):
        with pytest.raises(InputError, match="neighbour_visits must be a whole number"):
            svc.check_neighbour_visits(bad)


def test_neighbour_visits_per_force_from_forces_toml(tmp_path):
    home = tmp_path / "fhome"
    home.mkdir()
    names = ("Essex Police", "essex")
    assert svc.resolve_neighbour_visits(names=names, home=home) == (
        svc.DEFAULT_NEIGHBOUR_VISITS, "default")
    conf = home / "forces.toml"
    conf.write_text('[cocoons.essex]\nneighbour_visits = 8\n[cocoons.kent]\nneighbour_visits = 1\n')
    assert svc.resolve_neighbour_visits(names=names, home=home) == (
        8, f"{conf} [cocoons.essex]")
    # Matched through the force short name too ("Kent Police" -> "Kent").
    assert svc.resolve_neighbour_visits(names=("Kent Police",), home=home)[0] == 1
    # The run's own value wins over the file.
    assert svc.resolve_neighbour_visits(names=names, given="all", home=home) == (
        None, "--neighbour-visits")
    conf.write_text('[cocoons.essex]\nneighbour_visits = -2\n')
    with pytest.raises(InputError, match=r"\[cocoons.essex\] must be a whole number"):
        svc.resolve_neighbour_visits(names=names, home=home)
    conf.write_text('[cocoons.essex]\nradius = 3\n')
    with pytest.raises(InputError, match="needs neighbour_visits"):
        svc.resolve_neighbour_visits(names=names, home=home)
    conf.write_text("[cocoons.essex\n")
    with pytest.raises(InputError, match="not a TOML file"):
        svc.resolve_neighbour_visits(names=names, home=home)


def test_cli_open_reads_the_force_cap_and_the_option_overrides_it(tmp_path):
    import os

    from typer.testing import CliRunner

    from guardian.cli import _register, app
    from guardian.store.db import get_engine

    _register()
    runner = CliRunner()
    home = tmp_path / "home"  # GUARDIAN_HOME of this test (conftest)
    assert os.environ["GUARDIAN_HOME"] == str(home)
    neighbours = [(f"P{k}", -30, 30.0 * (k + 1), 0.0, "THEFT") for k in range(8)]
    load(get_engine(), tmp_path, [("A", 0, 0, 0), *neighbours])
    (home / "forces.toml").write_text("[cocoons.test_force]\nneighbour_visits = 2\n")
    r = runner.invoke(app, ["cocoons", "open", "--force", DS, "--as-of", "2016-01-05", "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["visits_planned"] == 3 and rep["neighbour_visits"] == 2
    assert rep["neighbour_visits_source"].endswith("forces.toml [cocoons.test_force]")
    assert rep["places_covered_by_zone"] == 6
    load(get_engine(), tmp_path, [("B", 10, 9000, 0),
                                  *[(f"Q{k}", -30, 9000 + 30.0 * (k + 1), 0.0, "THEFT")
                                    for k in range(8)]])
    r = runner.invoke(app, ["cocoons", "open", "--force", DS, "--as-of", "2016-01-15",
                            "--neighbour-visits", "4"])
    assert r.exit_code == 0, r.output
    assert "nearest 4 places within the radius per burglary (--neighbour-visits)" in r.output
    assert "covered by the zone (leaflets, patrol)" in r.output
    show = runner.invoke(app, ["cocoons", "show", "C-2", "--as-of", "2016-01-15"])
    assert show.exit_code == 0, show.output
    assert "covered by the zone itself (leaflets, patrol): 4" in show.output
    doc = json.loads(runner.invoke(app, ["cocoons", "show", "C-2", "--as-of", "2016-01-15",
                                         "--json"]).output)
    assert [v["why"] for v in doc["visits_list"]][-1] == (
        "4th nearest of 8 places within 400 m of burglary B")
    r = runner.invoke(app, ["cocoons", "open", "--force", DS, "--neighbour-visits", "few"])
    assert isinstance(r.exception, InputError)


def test_address_file_and_max_visits(engine, tmp_path):
    load(engine, tmp_path, [("A", 0, 0, 0)])
    addr = tmp_path / "addresses.csv"
    addr.write_text("x,y,address\n"
                    f"{X0 + 10},{Y0},1 High St\n{X0 + 20},{Y0},3 High St\n"
                    f"{X0 + 5},{Y0},Victim's house\n{X0 + 500},{Y0},far\n")
    rep = open_(engine, at(1), addresses=addr, max_visits=3)
    assert rep.visits_planned == 3
    (c,) = svc.list_cocoons(engine, as_of=at(1), dataset=DS)
    got = svc.get_cocoon(engine, ref=c["ref"], as_of=at(1))
    assert [v["place"] for v in got["visits_list"]] == [
        f"point ({X0:.0f}, {Y0:.0f})", "Victim's house", "1 High St"]
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y,address\n1,two,here\n")
    with pytest.raises(InputError, match="line 2"):
        svc.read_addresses(bad)
    with pytest.raises(InputError, match="needs columns x, y, address"):
        bad.write_text("a,b\n1,2\n")
        svc.read_addresses(bad)


# --------------------------------------------------------------------------------------------
# Delivery figures
# --------------------------------------------------------------------------------------------


def test_delivery_figures_hand_made(engine, tmp_path):
    # Four burglaries 5 km apart, each with two neighbours (theft points 100 m, 200 m away):
    # 3 visits each. As of day 10:
    #   A: victim visited at +10 h (on time), both neighbours on day 5 -> started, completed, not on time
    #   B: all three visited on day 3 (late) -> not started on time, completed
    #   C: nothing -> neither
    #   D: reported at day 9.9 -> deadline not passed: in progress, not judged
    rows = []
    for k, (name, day) in enumerate([("A", 0), ("B", 0), ("C", 0), ("D", 9.9)]):
        dx = 5000.0 * k
        rows += [(name, day, dx, 0), (f"{name}1", -20, dx + 100, 0, "THEFT"),
                 (f"{name}2", -20, dx, 200, "THEFT")]
    load(engine, tmp_path, rows)
    open_(engine, at(10))
    visits = {}
    for c in svc.list_cocoons(engine, as_of=at(10), dataset=DS):
        got = svc.get_cocoon(engine, ref=c["ref"], as_of=at(10))
        visits[got["members_list"][0]["event_key"]] = [v["ref"] for v in got["visits_list"]]
    a, b = visits["A"], visits["B"]
    svc.record_visit(engine, ref=a[0], outcome="spoke", at=at(0, 10), by="PC1")
    svc.record_visit(engine, ref=a[1], outcome="advice", at=at(5))
    svc.record_visit(engine, ref=a[2], outcome="no-answer", at=at(5))
    for ref, outcome in zip(b, ["declined", "spoke", "advice"], strict=True):
        svc.record_visit(engine, ref=ref, outcome=outcome, at=at(3))
    d = svc.delivery_figures(engine, dataset=DS, as_of=at(10))
    assert (d["burglaries"], d["judged"], d["in_progress"]) == (4, 3, 1)
    assert (d["started_on_time"], d["share_started_on_time"]) == (1, round(1 / 3, 4))
    assert (d["completed"], d["share_completed"]) == (2, round(2 / 3, 4))
    assert (d["completed_on_time"], d["share_completed_on_time"]) == (0, 0.0)
    assert (d["visits_planned"], d["visits_done"], d["visits_reached"]) == (12, 6, 4)
    assert (d["visits_no_answer"], d["visits_declined"]) == (1, 1)
    assert d["share_reached"] == round(4 / 6, 4)
    # Overdue: C's three (due day 2) ; D's are not yet due.
    assert d["visits_overdue"] == 3 and d["visits_pending"] == 6
    # "at least N": with one visit enough, A and B complete; A's first visit was on time.
    d1 = svc.delivery_figures(engine, dataset=DS, as_of=at(10), min_visits=1)
    assert (d1["completed"], d1["completed_on_time"]) == (2, 1)
    # As of day 4 the day-5 visits have not happened yet: A not complete.
    d4 = svc.delivery_figures(engine, dataset=DS, as_of=at(4))
    assert (d4["judged"], d4["started_on_time"], d4["completed"]) == (3, 1, 1)
    with pytest.raises(InputError, match="min_visits"):
        svc.delivery_figures(engine, dataset=DS, as_of=at(4), min_visits=0)


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


def _knox_doc(hot: set[tuple[int, int]]) -> dict:
    ns, nt = 3, 3  # bands 0-100-200-300 m x 0-7-14-21 days (no open-ended bands here)
    ratio = [[2.0 if (i, j) in hot else 1.0 for j in range(nt)] for i in range(ns)]
    p = [[0.001 if (i, j) in hot else 0.5 for j in range(nt)] for i in range(ns)]
    return {"space_bands": [0, 100, 200, 300], "time_bands": [0, 7, 14, 21],
            "observed": [[10] * nt for _ in range(ns)], "knox_ratio": ratio, "p_value": p,
            "seed": 1234, "same_location": False,
            "input": {"dataset": "chicago_be", "from": "2016-01", "to": "2016-06"}}


def test_parameters_from_knox_result(engine, tmp_path):
    p = svc.knox_parameters(_knox_doc({(0, 0), (1, 0), (0, 1), (2, 2)}))
    assert (p.radius_m, p.window_days) == (200.0, 14.0)
    assert p.source == "knox: chicago_be 2016-01..2016-06, seed 1234"
    with pytest.raises(InputError, match="no near-repeat pattern"):
        svc.knox_parameters(_knox_doc({(1, 1)}))
    with pytest.raises(InputError, match="not a Knox result"):
        svc.knox_parameters({"space_bands": [0, 100]})
    load(engine, tmp_path, [("A", 0, 0, 0), ("B", 10, 150, 0), ("C", 20, 450, 0)])
    open_(engine, at(30), parameters=p)
    mem = members(engine)
    # 200 m / 14 days: B is within 200 m of A but 10 days later -> near repeat; C is 300 m
    # from B (<= 400 m, discs overlap) and 10 days after B -> same cocoon, not inside.
    assert groups(engine) == [frozenset({"A", "B", "C"})]
    assert mem["B"][1] == "A" and mem["C"][1] is None
    (c,) = svc.list_cocoons(engine, as_of=at(30), dataset=DS)
    assert c["params_source"] == p.source and c["ends_at"] == at(34).isoformat()
    sec = svc.cocoon_section_data(engine, dataset=DS, as_of=at(30))
    assert sec["parameters"] == [{"radius_m": 200.0, "window_days": 14.0, "visit_hours": 48.0,
                                  "source": p.source}]


def test_parameters_from_real_knox_result():
    from guardian.analysis.nearrepeat import knox_test

    rng = np.random.default_rng(0)
    n = 300
    x, y, t = rng.uniform(0, 5000, n), rng.uniform(0, 5000, n), rng.uniform(0, 365, n)
    # Plant near repeats: each of 100 events has a follower 50 m / 3 days away.
    x = np.concatenate([x, x[:100] + 50])
    y = np.concatenate([y, y[:100]])
    t = np.concatenate([t, t[:100] + 3])
    res = knox_test(x, y, t, space_bands=[0, 100, 200, 400], time_bands=[0, 7, 14, 28],
                    permutations=99, random_state=7)
    p = svc.knox_parameters(res, dataset="synthetic", dates="2016")
    assert p.radius_m == 100.0 and p.window_days == 7.0
    assert p.source == "knox: synthetic 2016, seed 7"
    # The JSON round trip (what `--from-knox FILE` reads) gives the same parameters.
    doc = json.loads(json.dumps(res.to_dict()))
    assert svc.knox_parameters(doc).radius_m == 100.0


def test_parameter_and_input_validation(engine, tmp_path):
    with pytest.raises(InputError, match="radius_m -5"):
        svc.CocoonParameters(radius_m=-5)
    with pytest.raises(InputError, match="window_days 1000"):
        svc.CocoonParameters(window_days=1000)
    load(engine, tmp_path, [("A", 0, 0, 0)])
    with pytest.raises(InputError, match="no timezone"):
        open_(engine, datetime(2016, 2, 1))
    with pytest.raises(NotFound, match="no dataset 'nope'"):
        svc.open_cocoons(engine, dataset="nope", as_of=at(1))
    with pytest.raises(InputError, match="start_month '2016-13'"):
        open_(engine, at(1), start_month="2016-13")
    with pytest.raises(InputError, match="max_visits"):
        open_(engine, at(1), max_visits=0)
    with pytest.raises(InputError, match="status \\['closed'\\]"):
        svc.list_cocoons(engine, as_of=at(1), statuses=["closed"])
    open_(engine, at(1))
    (c,) = svc.list_cocoons(engine, as_of=at(1), dataset=DS)
    with pytest.raises(NotFound, match="had not been opened"):
        svc.get_cocoon(engine, ref=c["ref"], as_of=at(-1))
    with pytest.raises(NotFound, match="no cocoon C-999"):
        svc.get_cocoon(engine, ref="C-999", as_of=at(1))
    with pytest.raises(InputError, match="is a visit"):
        svc.get_cocoon(engine, ref="V-1", as_of=at(1))
    # "now" inside the loaded data: the default as-of is now.
    now = at(0, 5)
    assert svc.default_as_of(engine, dataset=DS, now=now) == (now, "now")


# --------------------------------------------------------------------------------------------
# Month-resolution police.uk data
# --------------------------------------------------------------------------------------------


def test_police_uk_month_resolution_is_flagged_everywhere(engine):
    ingest(engine, [ESSEX / "2021-11-essex-street.csv.gz", ESSEX / "2021-12-essex-street.csv.gz"],
           workers=1)
    ds = "Essex Police"
    as_of, why = svc.default_as_of(engine, dataset=ds, now=datetime(2026, 11, 24, tzinfo=UTC))
    assert as_of == datetime(2022, 1, 1, tzinfo=UTC) and "end of 2021-12" in why
    rep = svc.open_cocoons(engine, dataset=ds, as_of=as_of)
    flag = "approximate (month-resolution data)"
    assert rep.timing == flag and "residential-or-unknown" in rep.burglary_basis
    assert rep.added + rep.no_location == rep.considered == 557 + 610
    # The cap on real data: each burglary plans its victim and the nearest min(5, N) of the N
    # map points within 400 m, checked against a scan of every known place (no k-d tree).
    places = svc.known_places(engine, dataset=ds)
    px, py = places["x"].to_numpy(float), places["y"].to_numpy(float)
    pn = places["place"].to_numpy(object)
    with engine.connect() as c:
        mem = c.execute(select(CocoonMember.id, CocoonMember.x, CocoonMember.y)).all()
        vis = pd.DataFrame(c.execute(select(
            CocoonVisit.member_id, CocoonVisit.rank, CocoonVisit.place, CocoonVisit.x,
            CocoonVisit.y).where(CocoonVisit.rank > 0)).all(),
            columns=["member", "rank", "place", "x", "y"]).sort_values(["member", "rank"])
    planned = vis.groupby("member")[["place", "x", "y"]].apply(
        lambda g: list(g.itertuples(index=False, name=None)))
    k = svc.DEFAULT_NEIGHBOUR_VISITS
    total = 0
    for mid, mx, my in mem:
        d = np.hypot(px - mx, py - my)
        sel = np.flatnonzero((d >= 1.0) & (d <= 400.0))
        order = sel[np.lexsort((py[sel], px[sel], pn[sel], d[sel]))][:k]
        assert planned.get(mid, []) == [(pn[i], px[i], py[i]) for i in order], mid
        total += 1 + len(order)
    assert rep.visits_planned == total
    assert rep.places_in_zones == rep.places_visited + rep.places_covered_by_zone
    # Report time = first of the month (00:00 local, GMT in winter): visits due 2 days later.
    with engine.connect() as c:
        first = c.execute(select(func.min(CocoonMember.reported_at))).scalar_one()
        assert first == datetime(2021, 11, 1, 0, 0)
        due = c.execute(select(func.min(CocoonVisit.due_at))).scalar_one()
        assert due == datetime(2021, 11, 3, 0, 0)
    # Within one month nothing is a near repeat (same report time); December burglaries can be
    # near repeats of November ones (30 days < 42).
    with engine.connect() as c:
        nr_months = set(c.execute(select(CocoonMember.month)
                                  .where(CocoonMember.near_repeat_of_id.is_not(None))).scalars())
    assert nr_months == {"2021-12"}
    sec = svc.cocoon_section_data(engine, dataset=ds, as_of=as_of)
    assert sec["timing"] == flag
    assert all(c["timing"] == flag for c in sec["cocoons"])
    assert all(v["timing"] == flag for v in sec["overdue"])
    assert sec["delivery"]["timing"] == flag
    assert any("first of its month" in c for c in sec["caveats"])
    assert any("map points" in c for c in sec["caveats"])
    # Places are police.uk map points with their street names.
    c0 = sec["cocoons"][0]
    got = svc.get_cocoon(engine, ref=c0["ref"], as_of=as_of)
    assert got["visits_list"][0]["place"].startswith("On or near")
    assert c0["places"] >= 1 and c0["why"].startswith("opened by burglary in 20")
    assert "(month only)" in c0["why"]


# --------------------------------------------------------------------------------------------
# Real data: Chicago January 2016 against a brute-force oracle
# --------------------------------------------------------------------------------------------


def _oracle(frame: pd.DataFrame, r: float, w: float):
    """Plain-Python union-find over all pairs within 2r metres and < w days; near repeats by
    definition (later, within r, within w of an earlier burglary)."""
    pts = list(frame[["event_key", "x", "y", "day"]].itertuples(index=False, name=None))
    parent = {k: k for k, *_ in pts}

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    near = set()
    for (ka, xa, ya, ta), (kb, xb, yb, tb) in itertools.combinations(pts, 2):
        d = math.hypot(xa - xb, ya - yb)
        gap = abs(ta - tb)
        if d <= 2 * r and gap < w:
            parent[find(ka)] = find(kb)
        if d <= r and 0 < gap < w:
            near.add(kb if tb > ta else ka)
    comps: dict[str, set[str]] = {}
    for k, *_ in pts:
        comps.setdefault(find(k), set()).add(k)
    return sorted(map(frozenset, comps.values()), key=sorted), near


def test_chicago_january_2016_matches_brute_force(engine):
    mapping = ExtractMapping.from_toml(REPO / "mappings" / "chicago_be.toml")
    ingest(engine, [CHICAGO_BE], mapping=mapping, workers=1)
    as_of = datetime(2016, 2, 1, 6, tzinfo=UTC)  # midnight in Chicago
    rep = svc.open_cocoons(engine, dataset="chicago_be", as_of=as_of,
                           start_month="2016-01", end_month="2016-01")
    with engine.connect() as c:
        rows = c.execute(select(CocoonMember.event_key, CocoonMember.x, CocoonMember.y,
                                CocoonMember.reported_local, CocoonMember.cocoon_id,
                                CocoonMember.near_repeat_of_id)).all()
    got = pd.DataFrame(rows, columns=["event_key", "x", "y", "local", "cocoon", "nr"])
    # Independent input for the oracle: the CSV itself (dates < 2016-02-01, in January).
    raw = pd.read_csv(CHICAGO_BE)
    jan = raw[raw["date"].str.startswith("2016-01")]
    assert rep.added == len(jan) == len(got) == 969 and rep.timing.startswith("approximate")
    assert sorted(zip(got["x"].round(3), got["y"].round(3), strict=True)) == sorted(
        zip(jan["X"].round(3), jan["Y"].round(3), strict=True))
    got["day"] = (pd.to_datetime(got["local"]) - pd.Timestamp("2016-01-01")).dt.days
    comps, near = _oracle(got[["event_key", "x", "y", "day"]], 400.0, 42.0)
    mine = sorted(map(frozenset, got.groupby("cocoon")["event_key"].apply(set)), key=sorted)
    assert len(mine) == len(comps) == rep.cocoons_opened
    assert mine == comps
    assert set(got.loc[got["nr"].notna(), "event_key"]) == near
    assert rep.near_repeats == len(near)
    # Every planned visit is within 400 m of its burglary, victim first, nearest first.
    with engine.connect() as c:
        v = pd.DataFrame(c.execute(select(CocoonVisit.member_id, CocoonVisit.rank,
                                          CocoonVisit.distance_m, CocoonVisit.is_victim)).all(),
                         columns=["member", "rank", "d", "victim"])
    assert v["d"].max() <= 400.0
    # Capped: the victim and at most DEFAULT_NEIGHBOUR_VISITS neighbours (reached here).
    assert (v.loc[v["rank"] == 0, "victim"]).all()
    assert v.groupby("member")["rank"].max().max() == svc.DEFAULT_NEIGHBOUR_VISITS
    assert (v.sort_values(["member", "rank"]).groupby("member")["d"].apply(
        lambda s: s.is_monotonic_increasing)).all()
    # Nothing done yet: every judged burglary missed its 48 hours.
    d = svc.delivery_figures(engine, dataset="chicago_be", as_of=as_of)
    assert d["share_started_on_time"] == 0.0 and d["judged"] + d["in_progress"] == 969
    # Burglaries of 31 January are still within their 48 hours at midnight 1 Feb (those of
    # 30 January reach their deadline exactly then: judged).
    assert d["in_progress"] == int((jan["date"] == "2016-01-31").sum())


# --------------------------------------------------------------------------------------------
# CLI (SQLite under the test's GUARDIAN_HOME)
# --------------------------------------------------------------------------------------------


def test_cli_end_to_end_on_chicago(tmp_path):
    from typer.testing import CliRunner

    from guardian.cli import _register, app

    _register()
    runner = CliRunner()

    def run(*args, ok=True):
        r = runner.invoke(app, [str(a) for a in args])
        if ok:
            assert r.exit_code == 0, r.output
        return r

    run("ingest", CHICAGO_BE, "--mapping", REPO / "mappings" / "chicago_be.toml", "--json")
    r = run("cocoons", "list", ok=False)
    assert isinstance(r.exception, NotFound) and "no cocoons yet" in str(r.exception)
    r = run("cocoons", "open", "--force", "chicago", "--as-of", "soon", ok=False)
    assert isinstance(r.exception, InputError) and "--as-of 'soon'" in str(r.exception)
    r = run("cocoons", "open", "--force", "chicago", "--from", "2016-01", "--to", "2016-01",
            "--as-of", "2016-02-01", "--owner", "District 7", "--json")
    rep = json.loads(r.output)
    assert rep["added"] == 969 and rep["as_of"] == "2016-02-01T06:00:00+00:00"
    assert rep["timing"] == "approximate (day-resolution data)"
    r = run("cocoons", "open", "--force", "chicago", "--from", "2016-01", "--to", "2016-01",
            "--as-of", "2016-02-01")
    assert "already cocooned (left alone)" in r.output and "969" in r.output
    assert "timing: approximate (day-resolution data)" in r.output
    # Without --as-of, historical data stand at the end of the latest loaded month.
    lst = json.loads(run("cocoons", "list", "--json", "--status", "all").output)
    assert lst["as_of"] == "2017-01-01T06:00:00+00:00" and "end of 2016-12" in lst["as_of_reason"]
    assert {c["status"] for c in lst["cocoons"]} == {"expired"}
    lst = json.loads(run("cocoons", "list", "--json", "--as-of", "2016-01-05").output)
    c = lst["cocoons"][-1]  # oldest first opened
    assert c["status"] == "open" and c["owner"] == "District 7"
    show = json.loads(run("cocoons", "show", c["ref"], "--as-of", "2016-01-05", "--json").output)
    v0 = show["visits_list"][0]
    assert v0["is_victim"] and v0["state"] == "overdue"
    due = pd.Timestamp(v0["due_at"]).tz_convert("America/Chicago")
    at_ = (due - pd.Timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    r = run("cocoons", "visit", v0["ref"], "--outcome", "spoke", "--by", "PC 4512", "--at", at_)
    assert "on time" in r.output
    r = run("cocoons", "visit", v0["ref"], "--outcome", "spoke", "--at", at_, ok=False)
    assert r.exit_code != 0
    over = json.loads(run("cocoons", "overdue", "--as-of", "2016-01-05", "--json").output)
    assert v0["ref"] not in {o["ref"] for o in over["overdue"]} and over["overdue"]
    assert over["timing"] == "approximate (day-resolution data)"
    st = json.loads(run("cocoons", "stats", "--as-of", "2016-02-01", "--json").output)
    assert st["started_on_time"] == 1 and st["visits_done"] == 1
    run("cocoons", "assign", c["ref"], "--to", "PCSO 2231")
    for args in (("list", "--as-of", "2016-01-05"), ("overdue", "--as-of", "2016-01-05"),
                 ("stats", "--as-of", "2016-02-01"), ("show", c["ref"], "--as-of", "2016-01-05")):
        out = run("cocoons", *args).output
        assert "timing: approximate (day-resolution data)" in out
    r = run("cocoons", "open", "--force", "chicago", "--radius", "300", "--from-knox",
            tmp_path / "k.json", ok=False)
    assert r.exit_code != 0


def test_link_burglaries_matches_union_find_on_chicago_first_quarter():
    raw = pd.read_csv(CHICAGO_BE).dropna()
    q1 = raw[raw["date"].between("2016-01-01", "2016-03-31")].reset_index(drop=True)
    q1 = q1.assign(event_key=[f"e{i}" for i in range(len(q1))],
                   day=(pd.to_datetime(q1["date"]) - pd.Timestamp("2016-01-01")).dt.days,
                   x=q1["X"], y=q1["Y"])
    label = svc.link_burglaries(q1["day"].to_numpy(float), q1["x"].to_numpy(),
                                q1["y"].to_numpy(), 400.0, 42.0)
    mine = sorted(map(frozenset, q1.groupby(label)["event_key"].apply(set)), key=sorted)
    comps, _ = _oracle(q1[["event_key", "x", "y", "day"]], 400.0, 42.0)
    assert len(q1) == 2507 and mine == comps
    # Existing groups are glued together; only links touching a new burglary are looked for.
    glued = svc.link_burglaries(np.array([0.0, 100.0, 1.0]), np.array([0.0, 0.0, 5000.0]),
                                np.zeros(3), 400.0, 42.0, is_new=np.array([False, False, True]),
                                group=np.array([7, 7, -1]))
    assert glued[0] == glued[1] != glued[2]


# --------------------------------------------------------------------------------------------
# The briefing section's fast path against a brute-force recount from every row
# --------------------------------------------------------------------------------------------


def _brute_section(engine, as_of: datetime, limit: int) -> dict:
    """Live cocoons, overdue visits and delivery recomputed in plain Python from all rows
    (dataset timezone UTC, so local report time = UTC report time)."""
    a = as_of.astimezone(UTC).replace(tzinfo=None)
    with engine.connect() as c:
        coc = {r.id: r for r in c.execute(select(Cocoon.__table__))}
        mem = {r.id: r for r in c.execute(select(CocoonMember.__table__))}
        vis = list(c.execute(select(CocoonVisit.__table__)))
    live = {}
    for cid, r in coc.items():
        ms = [m for m in mem.values() if m.cocoon_id == cid and m.reported_at <= a]
        if r.state != "live" or not ms:
            continue
        end = max(m.reported_local + timedelta(days=m.window_days) for m in ms)
        if a < end:
            live[cid] = ms

    def done(v):
        return v.outcome is not None and v.visited_at is not None and v.visited_at <= a

    counted = [v for v in vis if mem[v.member_id].reported_at <= a]
    overdue = sorted((v for v in counted if v.cocoon_id in live and v.due_at < a and not done(v)),
                     key=lambda v: (v.due_at, v.cocoon_id, v.member_id, v.rank))
    per_cocoon = {cid: {"members": len(ms), "planned": 0, "done": 0, "overdue": 0}
                  for cid, ms in live.items()}
    for v in counted:
        if v.cocoon_id in per_cocoon:
            pc = per_cocoon[v.cocoon_id]
            pc["planned"] += 1
            pc["done"] += done(v)
            pc["overdue"] += (v.due_at < a and not done(v))
    per_member: dict[int, list] = {}
    for v in counted:
        per_member.setdefault(v.member_id, []).append(v)
    judged = {k: vs for k, vs in per_member.items() if max(v.due_at for v in vs) <= a}
    n_done = sum(done(v) for v in counted)
    delivery = {
        "burglaries": len(per_member), "judged": len(judged),
        "started_on_time": sum(any(done(v) and v.visited_at <= v.due_at for v in vs)
                               for vs in judged.values()),
        "completed": sum(all(done(v) for v in vs) for vs in judged.values()),
        "completed_on_time": sum(all(done(v) and v.visited_at <= v.due_at for v in vs)
                                 for vs in judged.values()),
        "visits_planned": len(counted), "visits_done": n_done,
        "visits_reached": sum(done(v) and v.outcome in ("spoke", "advice") for v in counted),
        "visits_no_answer": sum(done(v) and v.outcome == "no-answer" for v in counted),
        "visits_declined": sum(done(v) and v.outcome == "declined" for v in counted),
        "visits_pending": len(counted) - n_done,
        "visits_overdue": sum(v.due_at < a and not done(v) for v in counted),
    }
    return {"live": live, "per_cocoon": per_cocoon, "overdue": overdue, "delivery": delivery}


def test_section_fast_path_equals_brute_force_recount(engine, tmp_path):
    rng = np.random.default_rng(20261124)
    n = 60
    rows = [(f"B{k}", float(rng.uniform(0, 100)), float(rng.uniform(0, 3000)),
             float(rng.uniform(0, 3000))) for k in range(n)]
    rows += [(f"P{k}", -30.0, float(rng.uniform(-400, 3400)), float(rng.uniform(-400, 3400)),
              "THEFT") for k in range(150)]
    load(engine, tmp_path, rows)
    for day in (30, 60, 101):  # three runs: later burglaries join and merge earlier cocoons
        open_(engine, at(day))
    # Outcomes on about half of the visits, at times before and after the deadline.
    with engine.begin() as c:
        vis = c.execute(select(CocoonVisit.id, CocoonMember.reported_at)
                        .join(CocoonMember, CocoonMember.id == CocoonVisit.member_id)
                        .order_by(CocoonVisit.id)).all()
        outcomes = ["spoke", "advice", "no-answer", "declined"]
        for vid, rep in vis:
            if rng.uniform() < 0.5:
                c.execute(CocoonVisit.__table__.update().where(CocoonVisit.id == vid).values(
                    outcome=outcomes[int(rng.integers(4))],
                    visited_at=rep + timedelta(hours=float(rng.uniform(1, 120)))))
    with engine.connect() as c:
        assert c.execute(select(func.count()).where(Cocoon.state == "merged")).scalar_one() > 0
    places = svc.known_places(engine, dataset=DS)
    for day in (20, 45, 70, 99):
        as_of = at(day, 7)
        limit = 7
        sec = svc.cocoon_section_data(engine, dataset=DS, as_of=as_of, overdue_limit=limit)
        bf = _brute_section(engine, as_of, limit)
        assert {c["id"] for c in sec["cocoons"]} == set(bf["live"])
        for c in sec["cocoons"]:
            pc = bf["per_cocoon"][c["id"]]
            assert (c["members"], c["visits_planned"], c["visits_done"], c["visits_overdue"]) \
                == (pc["members"], pc["planned"], pc["done"], pc["overdue"])
            mframe = pd.DataFrame([{"x": m.x, "y": m.y, "radius_m": m.radius_m}
                                   for m in bf["live"][c["id"]]])
            assert c["places"] == len(svc.places_in_zone(mframe, places))
            assert c["zone_km2"] == round(svc.zone_geometry(mframe).area / 1e6, 3)
        # Exact totals, capped list: the oldest overdue visits in deadline order.
        assert sec["overdue_count"] == sec["overdue_total"] == len(bf["overdue"])
        assert sec["overdue_count"] == sum(c["visits_overdue"] for c in sec["cocoons"])
        assert sec["overdue_shown"] == len(sec["overdue"]) == min(limit, len(bf["overdue"]))
        assert [v["id"] for v in sec["overdue"]] == [v.id for v in bf["overdue"][:limit]]
        for k, want in bf["delivery"].items():
            assert sec["delivery"][k] == want, (day, k)
    assert max(len(_brute_section(engine, at(d, 7), 7)["overdue"]) for d in (45, 70)) > limit
