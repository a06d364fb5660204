"""Street Safe operations: the aggregates against hand-computed cases and a brute force, the
intake's checks (idempotency, honeypot, time-to-submit, area, rate limits, folding, counted
refusals), the daily keys, the import (validation, quarantine, idempotent) and the briefing
section."""

from __future__ import annotations

import itertools
import logging
import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError

from guardian.errors import NotFound
from guardian.operations.streetsafe import aggregate as agg
from guardian.operations.streetsafe import keys, service
from guardian.operations.streetsafe.area import build_area
from guardian.operations.streetsafe.config import REASONS, StreetSafeConfig
from guardian.operations.streetsafe.importer import import_file
from guardian.operations.streetsafe.intake import Intake, Refused, screen_comment
from guardian.operations.streetsafe.models import (
    StreetSafeClient,
    StreetSafeRefusal,
    StreetSafeReport,
)
from guardian.operations.streetsafe.sample import (
    BASILDON_CENTRE,
    CHELMSFORD_CENTRE,
    LONDON,
    seed_force,
)
from guardian.store.models import QuarantineRow

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "streetsafe_export_sample.csv"
NOW = datetime(2026, 12, 1, 21, 30, tzinfo=UTC)
ADDRESS = "203.0.113.77"


def _frame(rows):
    return pd.DataFrame(rows, columns=["cell_x", "cell_y", "reasons", "month", "daynight",
                                       "district"])


HAND = _frame(
    [(0, 0, "badly-lit", "2026-10", "night", "A")] * 2
    + [(0, 0, "badly-lit,followed", "2026-10", "day", "A")]
    + [(1, 1, "followed", "2026-11", "night", "A")] * 2
    + [(5, 5, "no-cctv", "2026-12", "night", "B")] * 4
    + [(10, 10, "isolated", "2026-12", "day", "B")])


def test_cells_withhold_under_k_hand_computed():
    shown, held = agg.cells(HAND, 3)
    assert [(c["cell_x"], c["cell_y"], c["reports"]) for c in shown] == [(5, 5, 4), (0, 0, 3)]
    assert held == {"cells": 2, "reports": 3}
    c00 = shown[1]
    # badly-lit 3 (shown), followed 1 (withheld: under k), night 2 (withheld)
    assert c00["reasons"] == {"badly-lit": 3, "followed": None} and c00["night"] is None
    assert shown[0]["night"] == 4


def test_clusters_join_touching_cells_and_need_k():
    cl = agg.clusters(HAND, 5)
    assert len(cl) == 1
    c = cl[0]
    assert (c["key"], c["cells"], c["reports"], c["district"]) == ("c0_0", 2, 5, "A")
    assert c["reasons"] == {"badly-lit": None, "followed": None}  # 3 and 3: under 5
    assert [x["key"] for x in agg.clusters(HAND, 4)] == ["c0_0", "c5_5"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=0, max_size=40),
       st.integers(2, 6))
def test_clusters_match_brute_force(points, k):
    df = _frame([(x, y, "badly-lit", "2026-12", "day", "A") for x, y in points])
    cl = agg.clusters(df, k)
    occupied = sorted(set(points))
    # brute force: repeat merging groups until no two groups have touching cells
    groups = [{c} for c in occupied]
    merged = True
    while merged:
        merged = False
        for a, b in itertools.combinations(range(len(groups)), 2):
            if any(max(abs(p[0] - q[0]), abs(p[1] - q[1])) <= 1
                   for p in groups[a] for q in groups[b]):
                groups[a] |= groups.pop(b)
                merged = True
                break
    want = sorted(sum(points.count(c) for c in g) for g in groups
                  if sum(points.count(c) for c in g) >= k)
    assert sorted(c["reports"] for c in cl) == want
    assert all(c["reports"] >= k for c in cl)


def test_trend_and_reasons_by_district_withhold():
    tr = agg.trend(HAND, 4)
    assert tr == [{"month": "2026-10", "reports": None, "withheld": True},
                  {"month": "2026-11", "reports": None, "withheld": True},
                  {"month": "2026-12", "reports": 5, "withheld": False}]
    rd = agg.reasons_by_district(HAND, 5)
    assert rd[0] == {"district": "A", "reports": 5, "withheld": False,
                     "reasons": {"badly-lit": None, "followed": None}}
    assert rd[1]["district"] == "B" and rd[1]["reasons"] == {"no-cctv": None,
                                                           "isolated": None}
    assert agg.reasons_by_district(HAND, 6)[0]["withheld"] is True


def test_compare_recorded_hand_computed():
    ss = HAND
    crime = pd.DataFrame({"cell_x": [0, 5, 7], "cell_y": [0, 5, 7], "crimes": [10, 80, 110]})
    d = agg.compare_recorded(ss, crime, 3, ratio=2.0, top=2)
    # totals 10 reports, 200 crimes; c0_0: 3/10 = .30 vs 10/200 = .05 -> flagged;
    # c5_5: 4/10 = .40 vs 80/200 = .40 -> not flagged
    assert d["ss_total"] == 10 and d["crime_total"] == 200
    assert [(c["key"], c["reports"], c["crimes"]) for c in d["unsafe_little_recorded"]] == [
        ("c0_0", 3, 10)]
    assert d["unsafe_little_recorded"][0]["ss_share"] == pytest.approx(0.3)
    # most recorded: c7_7 (110, no reports) then c5_5 (80, 4 >= k: skipped), c0_0 (3 >= k)
    assert [c["key"] for c in d["recorded_few_unsafe"]] == ["c7_7"]
    assert d["recorded_few_unsafe"][0]["reports"] is None


def test_screen_comment_removes_contact_details():
    t = screen_comment("call me on 07700 900123 or mail a.person@example.org, SS14 1AB ok")
    assert "07700" not in t and "example.org" not in t and "SS14" not in t
    assert t.count("[removed]") == 3 and t.endswith("ok")


# -- the intake on a store ------------------------------------------------------------------
@pytest.fixture
def store(engine, tmp_path):
    seed_force(engine)
    cfg = StreetSafeConfig(min_seconds=2, per_client_per_hour=4, global_per_minute=1000)
    return engine, Intake(engine, tmp_path / "home", cfg, b"k" * 32)


def _body(it, n=0, *, where=BASILDON_CENTRE, reasons=("badly-lit", "followed"), age=10.0,
          **extra):
    return {"key": f"report-key-{n:06d}-abc", "lat": where[0], "lon": where[1],
            "reasons": list(reasons), "when": "now", "daynight": "night",
            "token": it.token(time.time() - age), **extra}


def _counters(engine) -> dict[str, int]:
    with engine.connect() as c:
        return {r: n for r, n in c.execute(select(StreetSafeRefusal.reason,
                                                  StreetSafeRefusal.count))}


def _reports(engine) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(StreetSafeReport)).scalar_one()


def test_retry_with_the_same_key_stores_once(store):
    engine, it = store
    b = _body(it)
    assert it.submit(b, address=ADDRESS, now=NOW).status == "new"
    assert it.submit(b, address=ADDRESS, now=NOW).status == "replayed"
    assert it.submit(b, address="198.51.100.1", now=NOW).status == "replayed"
    assert _reports(engine) == 1 and _counters(engine) == {"replayed": 2}


def test_each_refusal_is_counted_and_nothing_stored(store):
    engine, it = store
    cases = [
        ("honeypot", _body(it, 1, website="http://spam.example")),
        ("too-fast", _body(it, 2, age=0.5)),
        ("bad-token", _body(it, 3, token="123.forged")),
        ("bad-token", _body(it, 4, age=7 * 3600)),
        ("outside-area", _body(it, 5, where=LONDON)),
        ("invalid", _body(it, 6, reasons=())),
        ("invalid", _body(it, 7, reasons=("dragons",))),
        ("invalid", _body(it, 8, daynight="dusk")),
        ("invalid", {"key": "short"}),
    ]
    for reason, body in cases:
        with pytest.raises(Refused) as e:
            it.submit(body, address=ADDRESS, now=NOW)
        assert e.value.reason == reason, body
    assert "outside the Essex Police area" in str(
        pytest.raises(Refused, it.submit, _body(it, 9, where=LONDON), address=ADDRESS,
                      now=NOW).value)
    assert _reports(engine) == 0
    assert _counters(engine) == {"honeypot": 1, "too-fast": 1, "bad-token": 2,
                                 "outside-area": 2, "invalid": 4}


def test_per_client_limit_fold_and_global_limit(store):
    engine, it = store
    assert it.submit(_body(it, 1), address=ADDRESS, now=NOW).status == "new"
    # the same place and reasons again within 10 minutes: folded into the first
    ack = it.submit(_body(it, 2), address=ADDRESS, now=NOW + timedelta(minutes=3))
    assert (ack.status, ack.key) == ("folded", "report-key-000001-abc")
    for n, r in zip((3, 4, 5), ("no-cctv", "isolated", "layout"), strict=True):
        assert it.submit(_body(it, n, reasons=(r,)), address=ADDRESS, now=NOW).status == "new"
    with pytest.raises(Refused) as e:  # a fifth distinct report within the hour
        it.submit(_body(it, 6, reasons=("visibility",)), address=ADDRESS, now=NOW)
    assert (e.value.reason, e.value.status) == ("rate-client", 429)
    # another client is not limited; an hour later the first one may send again
    assert it.submit(_body(it, 7, reasons=("visibility",)), address="198.51.100.9",
                     now=NOW).status == "new"
    assert it.submit(_body(it, 8, reasons=("visibility",)), address=ADDRESS,
                     now=NOW + timedelta(minutes=61)).status == "new"
    assert _reports(engine) == 6
    it.config = StreetSafeConfig(min_seconds=2, global_per_minute=2)
    it._minute = -1
    later = NOW + timedelta(hours=3)
    for n in range(2):
        it.submit(_body(it, 20 + n, reasons=("run-down",)), address=f"192.0.2.{n}", now=later)
    with pytest.raises(Refused) as e:
        it.submit(_body(it, 30, reasons=("run-down",)), address="192.0.2.50", now=later)
    assert e.value.reason == "rate-global"
    assert _counters(engine) == {"folded": 1, "rate-client": 1, "rate-global": 1}


def test_no_raw_address_in_any_table_and_hashes_expire(store, tmp_path):
    engine, it = store
    it.submit(_body(it, 1), address=ADDRESS, now=NOW)
    with pytest.raises(Refused):
        it.submit(_body(it, 2, where=LONDON), address=ADDRESS, now=NOW)
    with engine.connect() as c:
        names = [t for t in c.dialect.get_table_names(c)]
        dump = []
        for t in names:
            dump += [str(v) for row in c.execute(text(f'SELECT * FROM "{t}"')) for v in row]
        hashes = c.execute(select(StreetSafeClient.client)).scalars().all()
    assert not [v for v in dump if ADDRESS in v]
    assert len(hashes) == 1 and len(hashes[0]) == 64 and ADDRESS not in hashes[0]
    # the hash is keyed with the day's random key, not derivable from the address alone
    assert hashes[0] == keys.client_hash(keys.day_key(tmp_path / "home", NOW.date()), ADDRESS)
    assert it.purge(NOW + timedelta(minutes=30)) == 0
    assert it.purge(NOW + timedelta(minutes=61)) == 1
    kd = keys.key_dir(tmp_path / "home")
    assert (kd / "2026-12-01.key").exists()
    assert keys.rotate(tmp_path / "home", datetime(2026, 12, 2, 0, 59)) == []
    assert keys.rotate(tmp_path / "home", datetime(2026, 12, 2, 1, 0)) == ["2026-12-01.key"]


def test_a_failed_purge_is_logged_counted_and_due_again(store, caplog, monkeypatch):
    engine, it = store
    it.submit(_body(it, 1), address=ADDRESS, now=NOW)
    later = NOW + timedelta(minutes=61)
    assert it.purge_due(later)

    def locked(now):
        raise OperationalError("DELETE", {}, Exception("database is locked"))

    monkeypatch.setattr(it, "purge", locked)
    with caplog.at_level(logging.WARNING, logger="guardian.operations.streetsafe.intake"):
        assert it.purge_or_retry(later) is None
    assert it.purge_failures == 1
    (rec,) = caplog.records
    assert "database is locked" in rec.getMessage() and rec.exc_info is None
    # due again in the same minute, not a minute on
    assert it.purge_due(later) and not it.purge_due(later)
    monkeypatch.undo()
    assert it.purge_or_retry(later) == 1 and it.purge_failures == 1
    with engine.connect() as c:
        assert c.execute(select(StreetSafeClient.client)).all() == []


def test_area_is_derived_from_the_force_places(sqlite_engine):
    engine = sqlite_engine
    with pytest.raises(NotFound):
        build_area(engine, None, 1000)
    seed_force(engine)
    a = build_area(engine, None, 1000)
    assert a.dataset == "Essex Police"
    for lat, lon in (BASILDON_CENTRE, CHELMSFORD_CENTRE):
        assert a.contains(*a.to_xy(lat, lon))
    assert not a.contains(*a.to_xy(*LONDON))
    # one ring of 1 km cells around the places: 1.5 km beyond the box is out, 0.5 km is in
    assert a.contains(576400.0, 189000.0) and not a.contains(578100.0, 189000.0)
    assert a.districts([572000.0, 570000.0], [189000.0, 206000.0]).tolist() == [
        "Basildon", "Chelmsford"]


def test_import_validates_quarantines_and_is_idempotent(engine, tmp_path):
    seed_force(engine)
    cfg = StreetSafeConfig()
    area = build_area(engine, None, cfg.area_cell_m)
    r = import_file(engine, area, cfg, FIXTURE, now=NOW)
    assert (r["rows"], r["loaded"], r["quarantined"], r["duplicates"]) == (65, 60, 4, 1)
    reasons = sorted(q["reason"] for q in r["quarantine"])
    assert any("outside the Essex Police area" in x for x in reasons)
    assert any("unknown reason 'dragons'" in x for x in reasons)
    assert any("timestamp" in x for x in reasons)
    again = import_file(engine, area, cfg, FIXTURE, now=NOW)
    assert (again["loaded"], again["already"], again["file_already_imported"]) == (0, 60, True)
    # an overlapping file (the same rows in another order) stores nothing twice either
    lines = FIXTURE.read_text().splitlines()
    other = tmp_path / "overlap.csv"
    other.write_text("\n".join([lines[0]] + lines[1:61][::-1]) + "\n")
    third = import_file(engine, area, cfg, other, now=NOW)
    assert (third["loaded"], third["already"], third["quarantined"]) == (0, 60, 0)
    assert _reports(engine) == 60
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(QuarantineRow)).scalar_one() == 4
    # the three hot places are clusters of 5+; every published figure is 0 or >= 5
    s = service.summary(engine, area, cfg)
    assert [c["district"] for c in s["clusters"]].count("Basildon") >= 2
    _assert_min_count(s, cfg.min_count)
    _assert_min_count(service.public_view(engine, area, cfg), cfg.min_count)
    csv_rows = service.export_csv(engine, area, cfg).splitlines()
    head = csv_rows[0].split(",")
    for line in csv_rows[1:]:
        cells = dict(zip(head, line.split(","), strict=True))
        for k in ["reports", "night", *head[7:]]:
            assert cells[k] == "" or int(cells[k]) == 0 or int(cells[k]) >= 5, (k, line)


def _assert_min_count(obj, k, path="", parent=""):
    """Every count in a published output is None (withheld), 0 or at least k."""
    counts = {"reports", "night"}  # counts of reports (not of places or cells)
    if isinstance(obj, dict):
        for key, v in obj.items():
            _assert_min_count(v, k, f"{path}.{key}", key)
            if (key in counts or parent == "reasons") and isinstance(v, int) and not isinstance(
                    v, bool):
                assert v == 0 or v >= k, (path, key, v)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _assert_min_count(v, k, f"{path}[{i}]", parent)


def test_actions_attach_to_clusters_and_show_per_area(sqlite_engine):
    engine = sqlite_engine
    seed_force(engine)
    cfg = StreetSafeConfig()
    area = build_area(engine, None, cfg.area_cell_m)
    import_file(engine, area, cfg, FIXTURE, now=NOW)
    cl = service.summary(engine, area, cfg)["clusters"][0]
    a = service.add_action(engine, area, cfg, cluster=cl["key"], kind="lighting-referral",
                           note="Street lights on the footpath referred to the council",
                           done_on=date(2026, 12, 3), username="insp")
    assert a["area"] == cl["district"]
    with pytest.raises(NotFound):
        service.add_action(engine, area, cfg, cluster="c1_1", kind="patrol", note="patrols",
                           done_on=date(2026, 12, 3), username="insp")
    view = service.public_view(engine, area, cfg)
    got = [x for ar in view["areas"] if ar["area"] == cl["district"] for x in ar["actions"]]
    assert got == [{"kind": "Lighting referred to the council", "done_on": "2026-12-03",
                    "note": "Street lights on the footpath referred to the council"}]
    assert service.summary(engine, area, cfg)["clusters"][0]["actions"][0]["id"] == a["id"]


def test_briefing_section_says_none_and_then_counts(sqlite_engine):
    from types import SimpleNamespace

    from guardian.reports.briefing import streetsafe as section

    engine = sqlite_engine
    seed_force(engine)
    ctx = SimpleNamespace(engine=engine, force="Essex Police", month="2026-08")
    from guardian.reports.render import _env

    tpl = _env().get_template(section.SECTION.template)
    d = section.build(ctx)
    assert d["none"] is True and d["text"] == "no Street Safe reports in 2026-08"
    assert "No Street Safe reports in 2026-08." in tpl.render(d=d)
    cfg = StreetSafeConfig()
    import_file(engine, build_area(engine, None, 1000), cfg, FIXTURE, now=NOW)
    ctx.month = "2026-10"
    d = section.build(ctx)
    df = pd.read_csv(FIXTURE).iloc[:60]
    ts = pd.to_datetime(df["timestamp"], utc=True).dt.tz_convert("Europe/London")
    assert d["none"] is False and d["reports"] == int((ts.dt.strftime("%Y-%m") == "2026-10")
                                                      .sum())
    _assert_min_count(d, 5)
    html = tpl.render(d=d)
    assert f"{d['reports']} Street Safe reports" in html and d["clusters"][0]["key"] in html
    assert section.SECTION.template == "section_streetsafe.html.j2"


@pytest.mark.parametrize("portable", [False, True], ids=["fast", "portable"])
def test_one_batch_decides_like_one_by_one(engine, tmp_path, portable):
    """The web's group commit: a batch holding a retry of its own report, a duplicate burst
    and a refused pin stores each report once and counts the rest."""
    from guardian.store.db import write_begin

    seed_force(engine)
    it = Intake(engine, tmp_path / "home", StreetSafeConfig(min_seconds=2), b"k" * 32)
    it.portable = portable
    items = [it.prepare(_body(it, 1), address=ADDRESS, now=NOW),
             it.prepare(_body(it, 1), address=ADDRESS, now=NOW),  # the same key again
             it.prepare(_body(it, 2), address=ADDRESS, now=NOW),  # same place and reasons
             it.prepare(_body(it, 3, where=LONDON), address=ADDRESS, now=NOW),
             it.prepare(_body(it, 4, reasons=("no-cctv",)), address="198.51.100.2", now=NOW)]
    with write_begin(engine) as conn:
        out = it.decide(conn, items)
    k1 = "report-key-000001-abc"
    assert out == [("new", k1), ("replayed", k1), ("folded", k1),
                   ("outside-area", "report-key-000003-abc"),
                   ("new", "report-key-000004-abc")]
    assert _reports(engine) == 2
    assert _counters(engine) == {"replayed": 1, "folded": 1, "outside-area": 1}


@pytest.mark.parametrize("portable", [False, True], ids=["fast", "portable"])
def test_storage_write_skips_a_key_stored_meanwhile_and_reads_it_back(engine, tmp_path,
                                                                       portable):
    """The intake's round trips (fixed array statements on PostgreSQL, SQLAlchemy on SQLite):
    a key another writer stored between the read and the write is skipped and gets no client
    row; the read finds keys and the clients' recent reports; counters add up."""
    from guardian.operations.streetsafe import storage
    from guardian.store.db import write_begin

    seed_force(engine)
    it = Intake(engine, tmp_path / "home", StreetSafeConfig(min_seconds=2), b"k" * 32)
    a, b = (it.prepare(_body(it, n, reasons=(r,)), address=ADDRESS, now=NOW)
            for n, r in ((1, "no-cctv"), (2, "isolated")))
    it._place([a, b])
    odd = 'it\'s "dark" \u2014 \u00fcn\u00efcode \\ , {a} [b]\n'
    a["row"]["comment"] = odd  # quotes, backslash, braces, non-ASCII survive the write
    cl = [{"key": x["r"]["key"], "client": x["client"], "at": x["naive"],
           "fingerprint": x["fp"]} for x in (a, b)]
    with write_begin(engine) as conn:
        assert storage.write(conn, [a["row"]], cl[:1], portable=portable) == {a["r"]["key"]}
    with write_begin(engine) as conn:  # a's key is there already: only b is stored
        assert storage.write(conn, [a["row"], b["row"]], cl,
                             portable=portable) == {b["r"]["key"]}
        storage.add_counts(conn, {(NOW.date(), "replayed"): 2, (NOW.date(), "folded"): 1},
                           portable=portable)
    with write_begin(engine) as conn:
        storage.add_counts(conn, {(NOW.date(), "replayed"): 3}, portable=portable)
        known, recent = storage.read(conn, [a["r"]["key"], "report-key-999999-abc"],
                                     {a["client"], "nobody"}, NOW.replace(tzinfo=None)
                                     - timedelta(hours=1), portable=portable)
    assert known == {a["r"]["key"]}
    assert sorted((fp, k) for _, fp, k in recent[a["client"]]) == sorted(
        [(a["fp"], a["r"]["key"]), (b["fp"], b["r"]["key"])])
    assert all(at == NOW.replace(tzinfo=None) for at, _, _ in recent[a["client"]])
    assert "nobody" not in recent
    with engine.connect() as c:
        stored = c.execute(select(StreetSafeReport.key, StreetSafeReport.x,
                                  StreetSafeReport.cell_x, StreetSafeReport.comment,
                                  StreetSafeReport.source_file_id)).all()
        n_clients = c.execute(select(func.count()).select_from(StreetSafeClient)).scalar_one()
    assert sorted(r[0] for r in stored) == [a["r"]["key"], b["r"]["key"]]
    assert all(r[1] == pytest.approx(a["row"]["x"], abs=5e3) and isinstance(r[2], int)
               and r[4] is None for r in stored)
    assert {r[0]: r[3] for r in stored} == {a["r"]["key"]: odd, b["r"]["key"]: None}
    assert n_clients == 2
    assert _counters(engine) == {"replayed": 5, "folded": 1}


def test_batcher_answers_every_waiter_after_its_commit_and_every_one_of_a_failure(store):
    """Group commit on the web: concurrent reports are each answered with their own outcome;
    when a batch's write fails, every waiter of that batch hears of it (none hangs), and the
    writer carries on with a fresh connection."""
    import asyncio

    from guardian.operations.streetsafe.intake import Batcher

    engine, it = store
    it.config = StreetSafeConfig(min_seconds=2, per_client_per_hour=100, global_per_minute=1000)
    batcher = Batcher(it, writers=2)
    reasons = sorted(REASONS)

    async def many(ns):  # a waiter never answered fails the test in 30 s, not hangs it
        return await asyncio.wait_for(asyncio.gather(*(batcher.submit(
            _body(it, n, reasons=(reasons[n % len(reasons)],)),
            address=f"198.51.100.{n}", now=NOW) for n in ns), return_exceptions=True), 30)

    acks = asyncio.run(many(list(range(1, 41)) + [1, 2]))
    assert [a.status for a in acks[:40]] == ["new"] * 40
    assert [(a.status, a.key) for a in acks[40:]] == [("replayed", "report-key-000001-abc"),
                                                      ("replayed", "report-key-000002-abc")]
    assert _reports(engine) == 40
    real = it.decide
    it.decide = lambda conn, items: (_ for _ in ()).throw(RuntimeError("disk full"))
    failed = asyncio.run(many(range(100, 110)))
    assert all(isinstance(f, RuntimeError) and "disk full" in str(f) for f in failed)
    it.decide = real
    again = asyncio.run(many(range(100, 110)))
    assert [a.status for a in again] == ["new"] * 10 and _reports(engine) == 50


def test_sqlite_writers_of_every_process_take_turns_on_one_lock_file(engine, tmp_path):
    """The writers' lock beside a SQLite file: a second holder (another process's writer; a
    second open file is the same to flock) waits until the first lets go. None elsewhere."""
    import threading

    from guardian.operations.streetsafe.intake import _turn, _writer_lock

    first = _writer_lock(engine)
    if engine.dialect.name != "sqlite":
        assert first is None
        return
    second = _writer_lock(engine)
    assert Path(f"{engine.url.database}-streetsafe.lock").exists()
    got = threading.Event()

    def other():
        with _turn(second):
            got.set()

    with _turn(first):
        t = threading.Thread(target=other)
        t.start()
        assert not got.wait(0.3)
    assert got.wait(5)
    t.join()
    # an error inside lets go too
    with pytest.raises(RuntimeError), _turn(first):
        raise RuntimeError("disk full")
    with _turn(second):
        pass
    os.close(first)
    os.close(second)
    assert _writer_lock(create_engine("sqlite://")) is None
    assert _writer_lock(create_engine(f"sqlite:///{tmp_path}/no/such/dir/store.db")) is None
