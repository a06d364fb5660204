"""Store: accounting, idempotent re-load, month replacement, duplicates, outcomes, atomicity.

Runs on SQLite and on PostgreSQL (the ``engine`` fixture)."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError

import guardian.operations.cocoons.models  # noqa: F401  (whole schema for compare_metadata)
import guardian.operations.patrols.models  # noqa: F401
from conftest import ESSEX, REPO
from guardian.store.base import Base
from guardian.store.events import events_frame
from guardian.store.ingest import ingest, quarantine_frame
from guardian.store.models import Event, Outcome, SourceFile
from guardian.store.status import dataset_status, month_gaps, resolve_dataset

NOV = ESSEX / "2021-11-essex-street.csv.gz"
DEC = ESSEX / "2021-12-essex-street.csv.gz"


def _count(engine, *where):
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(Event).where(*where)).scalar_one()


def _snapshot(engine):
    with engine.connect() as c:
        ev = c.execute(select(func.count()).select_from(Event)).scalar_one()
        files = c.execute(select(func.count()).select_from(SourceFile)).scalar_one()
    return ev, files


def test_accounting_and_idempotent_reload(engine):
    reports = ingest(engine, [NOV, DEC], workers=1)
    for r in reports:
        assert r.status == "loaded"
        assert r.rows_read == r.loaded + r.quarantined + r.duplicates
    assert _count(engine) == sum(r.loaded for r in reports) == 15740 + 14815
    before = _snapshot(engine)
    again = ingest(engine, [DEC, NOV], workers=1)
    assert {r.status for r in again} == {"unchanged"}
    assert _snapshot(engine) == before
    st = dataset_status(engine)[0]
    assert st["dataset"] == "Essex Police" and st["months"] == ["2021-11", "2021-12"]
    assert st["rows"] == before[0] and st["gaps"] == []
    assert resolve_dataset(engine, "essex") == "Essex Police"


def test_republished_month_replaces_the_old_one(engine, tmp_path):
    ingest(engine, [DEC], workers=1)
    lines = gzip.decompress(DEC.read_bytes()).decode("utf-8-sig").splitlines()
    newer = tmp_path / "2021-12-essex-street.csv"
    newer.write_text("\n".join(lines[:-100]) + "\n")  # the republished month lost 100 rows
    (rep,) = ingest(engine, [newer], workers=1)
    assert rep.status == "replaced" and "2021-12-essex-street.csv.gz" in rep.message
    assert _count(engine, Event.month == "2021-12") == 14815 - 100
    with engine.connect() as c:
        active = c.execute(select(func.count()).select_from(SourceFile)
                           .where(SourceFile.superseded_at.is_(None))).scalar_one()
    assert active == 1
    # loading the old file again brings the old month back (it is newer than what is in force)
    (back,) = ingest(engine, [DEC], workers=1)
    assert back.status == "replaced" and _count(engine, Event.month == "2021-12") == 14815


@pytest.mark.parametrize("together", [False, True], ids=["stored-before", "same-first-load"])
def test_duplicates_across_files_are_stored_once_and_counted(engine, tmp_path, together):
    """Against keys stored by an earlier load (looked up through the unique index) and against
    keys of an earlier file of the same first load (indexes not built yet)."""
    lines = gzip.decompress(DEC.read_bytes()).decode("utf-8-sig").splitlines()
    # the same crimes published again under another month: every Crime ID is already stored
    moved = [lines[0]] + [ln.replace(",2021-12,", ",2021-10,", 1) for ln in lines[1:]]
    other = tmp_path / "2021-10-essex-street.csv"
    other.write_text("\n".join(moved) + "\n")
    if together:
        _, rep = ingest(engine, [DEC, other], workers=1)
    else:
        ingest(engine, [DEC], workers=1)
        (rep,) = ingest(engine, [other], workers=1)
    crimes = sum(1 for ln in lines[1:] if not ln.startswith(","))
    assert rep.duplicates == crimes
    assert rep.loaded == 14815 - crimes  # the ASB rows (keys include the month) are new
    assert rep.rows_read == rep.loaded + rep.quarantined + rep.duplicates


def test_two_first_loads_at_once_on_postgres_count_each_others_rows(engine, tmp_path, monkeypatch):
    """Two loads start on an empty store: the second waits for the first and then loads as into
    a filled store, so a crime both files hold is a duplicate, not a clash at index build."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    import threading

    import guardian.store.ingest as ing

    lines = gzip.decompress(DEC.read_bytes()).decode("utf-8-sig").splitlines()
    moved = [lines[0]] + [ln.replace(",2021-12,", ",2021-10,", 1) for ln in lines[1:]]
    other = tmp_path / "2021-10-essex-street.csv"
    other.write_text("\n".join(moved) + "\n")
    first_has_begun = threading.Event()
    defer, build = ing._Loader.defer_indexes, ing._Loader.build_indexes

    def defer_then_signal(self):
        defer(self)
        if threading.current_thread().name == "first":
            first_has_begun.set()

    def build_slowly(self):
        if threading.current_thread().name == "first":
            time.sleep(1.5)  # the second load arrives meanwhile
        build(self)

    monkeypatch.setattr(ing._Loader, "defer_indexes", defer_then_signal)
    monkeypatch.setattr(ing._Loader, "build_indexes", build_slowly)
    out = {}
    first = threading.Thread(name="first", target=lambda: out.update(a=ingest(engine, [DEC], workers=1)))
    first.start()
    assert first_has_begun.wait(30)
    (rep,) = ingest(engine, [other], workers=1)
    first.join()
    crimes = sum(1 for ln in lines[1:] if not ln.startswith(","))
    assert out["a"][0].loaded == 14815 and rep.duplicates == crimes
    assert rep.loaded + rep.quarantined + rep.duplicates == rep.rows_read
    with engine.connect() as conn:
        assert inspect(conn).get_pk_constraint("events")["constrained_columns"] == ["id"]
        names = {i["name"] for i in inspect(conn).get_indexes("events")}
        n = conn.execute(select(func.count()).select_from(Event)).scalar_one()
    assert {"uq_events_key_hash", "ix_events_dataset_month"} <= names
    assert n == 14815 + rep.loaded


def test_outcomes_attach_latest_to_crime(engine, tmp_path):
    ingest(engine, [DEC], workers=1)
    ev = events_frame(engine, dataset="Essex Police", categories=["Burglary"])
    cid = ev["event_id"].iloc[0]
    head = "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Outcome type"
    row = f"{cid},{{m}},Essex Police,Essex Police,0.4,51.6,On or near X,E01021237,Basildon 001A,{{o}}"
    jan = tmp_path / "2022-01-essex-outcomes.csv"
    jan.write_text("\n".join([head, row.format(m="2022-01", o="Under investigation")]) + "\n")
    feb = tmp_path / "2022-02-essex-outcomes.csv"
    feb.write_text("\n".join([head, row.format(m="2022-02", o="Offender given a caution")]) + "\n")
    ingest(engine, [feb, jan], workers=1)  # order of loading does not matter: latest month wins
    after = events_frame(engine, dataset="Essex Police", categories=["burglary"])
    assert after.set_index("event_id").loc[cid, "outcome"] == "Offender given a caution"
    # a republished outcomes month replaces the old one
    feb.write_text("\n".join([head, row.format(m="2022-02", o="Local resolution")]) + "\n")
    (rep,) = ingest(engine, [feb], workers=1)
    assert rep.status == "replaced"
    again = events_frame(engine, dataset="Essex Police", categories=["burglary"])
    assert again.set_index("event_id").loc[cid, "outcome"] == "Local resolution"
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(Outcome)).scalar_one() == 2


def test_quarantine_is_kept_with_file_line_and_raw(engine):
    ingest(engine, [ESSEX / "2018-10-essex-street.csv.gz"], workers=1)
    q = quarantine_frame(engine)
    assert len(q) == 3 and q["line"].tolist() == sorted(q["line"].tolist())
    assert q["file"].str.endswith("2018-10-essex-street.csv.gz").all()
    assert q["raw"].str.contains("Essex Police").all()


def test_bad_file_is_reported_and_the_rest_loads(engine, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    reports = ingest(engine, [bad, DEC], workers=1)
    assert [r.status for r in reports] == ["error", "loaded"]
    assert "not a police.uk" in reports[0].message


def test_gaps():
    assert month_gaps(["2018-10", "2018-11", "2019-02", "2021-03"]) == [
        ["2018-12", "2019-01"], ["2019-03", "2021-02"]]
    assert month_gaps([]) == [] and month_gaps(["2020-01"]) == []


def test_events_frame_is_canonical_and_districts_match_published_counts(sqlite_engine):
    from guardian.data.schema import check_events

    ingest(sqlite_engine, [ESSEX])
    ev = check_events(events_frame(sqlite_engine, dataset="Essex Police"))
    # SOURCE.md of the bundled data counts rows by district from the LSOA name prefix.
    by = ev["district"].value_counts()
    assert by["Southend-on-Sea UA"] == 32511 and by["Basildon"] == 30200
    assert by["Maldon"] == 5421 and by["Uttlesford"] == 8768
    st = dataset_status(sqlite_engine)[0]
    assert st["gaps"] == [["2019-03", "2021-02"]] and len(st["months"]) == 15
    assert st["rows_read"] == 254503 == st["rows"] + st["quarantined"] + st["duplicates"]
    sub = events_frame(sqlite_engine, dataset="Essex Police", start_month="2021-12",
                       end_month="2021-12", categories=["Anti-social behaviour"])
    assert (sub["month"] == "2021-12").all() and len(sub) > 1000


@pytest.mark.parametrize("first_load", [False, True], ids=["adding", "first-load"])
def test_killed_load_leaves_store_unchanged(store_url, tmp_path, first_load):
    """A load killed mid-way (SIGKILL, no chance to clean up) leaves the store as before.

    A first load into an empty table drops the events indexes to build them at the end: the
    kill must leave them in place too."""
    from guardian.store.db import get_engine

    engine = get_engine(store_url)
    if not first_load:
        ingest(engine, [DEC], workers=1)
    before = _snapshot(engine)
    engine.dispose()
    env = dict(os.environ, GUARDIAN_DATABASE_URL=store_url, GUARDIAN_TEST_SLOW_INGEST_MS="400",
               PYTHONUNBUFFERED="1")
    code = ("import sys; from guardian.store.db import get_engine; from guardian.store.ingest import ingest;"
            "e = get_engine();"
            "ingest(e, sys.argv[1:], workers=1, progress=lambda r: print('stored', r.name, flush=True))")
    files = [str(ESSEX / f"2021-{m:02d}-essex-street.csv.gz") for m in (3, 4, 5, 6)]
    proc = subprocess.Popen([sys.executable, "-c", code, *files], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    first = proc.stdout.readline()  # one file written inside the open transaction
    assert first.startswith("stored"), first
    time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    engine = get_engine(store_url)
    assert _snapshot(engine) == before
    assert [s["months"] for s in dataset_status(engine)] == ([] if first_load else [["2021-12"]])
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    engine.dispose()


def test_first_load_rebuilds_the_events_indexes(engine):
    ingest(engine, [NOV, DEC])
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        names = {i["name"] for i in inspect(conn).get_indexes("events")}
        assert inspect(conn).get_pk_constraint("events")["constrained_columns"] == ["id"]
    assert {"uq_events_key_hash", "ix_events_dataset_month"} <= names
    # The rebuilt unique index still refuses a second copy of a stored key.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        row = conn.execute(select(Event.__table__).limit(1)).mappings().one()
        conn.execute(insert(Event.__table__).values({k: v for k, v in row.items() if k != "id"}))
    # The rebuilt primary key refuses a second row with a stored id ...
    copy = {**row, "key_hash": row["key_hash"] ^ 1, "event_key": "copy"}
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(Event.__table__).values(copy))
    # ... and ids the database gives later come after those the load gave.
    with engine.begin() as conn:
        top = conn.execute(select(func.max(Event.id))).scalar_one()
        new = conn.execute(insert(Event.__table__).values({k: v for k, v in copy.items() if k != "id"})
                           .returning(Event.id)).scalar_one()
        assert new > top
        conn.execute(delete(Event.__table__).where(Event.id == new))
    # A later load (ids from the sequence, row by row) follows on from them too.
    (rep,) = ingest(engine, [ESSEX / "2021-10-essex-street.csv.gz"])
    with engine.connect() as conn:
        ids = conn.execute(select(Event.id).where(Event.source_file_id == select(func.max(
            Event.source_file_id)).scalar_subquery())).scalars().all()
        n = conn.execute(select(func.count()).select_from(Event)).scalar_one()
        assert conn.execute(select(func.count(func.distinct(Event.id)))).scalar_one() == n
    assert len(ids) == rep.loaded > 0 and min(ids) > top


def test_ctrl_c_mid_load_rolls_back(sqlite_engine, monkeypatch):
    import guardian.store.ingest as ing

    ingest(sqlite_engine, [DEC], workers=1)
    before = _snapshot(sqlite_engine)
    calls = {"n": 0}
    real = ing._Loader.load

    def interrupted(self, src, parsed, *rest):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(self, src, parsed, *rest)

    monkeypatch.setattr(ing._Loader, "load", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ingest(sqlite_engine, [NOV, ESSEX / "2021-10-essex-street.csv.gz"], workers=1)
    assert _snapshot(sqlite_engine) == before


def test_events_frame_times_are_local_so_summer_months_stay_in_their_month(sqlite_engine):
    ingest(sqlite_engine, [ESSEX / "2021-07-essex-street.csv.gz"], workers=1)
    ev = events_frame(sqlite_engine, dataset="Essex Police")
    assert str(ev["time"].dt.tz) == "Europe/London"
    # British Summer Time: in UTC this would be 2021-06-30 23:00 and fall in June
    assert (ev["time"].dt.strftime("%Y-%m") == "2021-07").all()
    assert (ev["time"].dt.hour == 0).all()


def test_key_hash_collisions_fail_loudly_and_store_nothing(sqlite_engine, monkeypatch):
    """Two different keys with one 64-bit hash: within a file the file is refused, across
    files the load is; both name the keys. (Forced here: real odds are a few in a million.)"""
    import guardian.store.bulk as bulk
    from guardian.errors import InputError

    real = bulk.key_hashes

    def clashing(keys, dataset):
        h = real(keys, dataset)
        if len(keys):  # every file's first key gets the same hash
            h[0] = 42
        return h

    monkeypatch.setattr(bulk, "key_hashes", clashing)
    with pytest.raises(InputError, match="share the 64-bit key hash 42"):
        ingest(sqlite_engine, [NOV, DEC], workers=1)
    assert _snapshot(sqlite_engine) == (0, 0)

    def clash_inside(keys, dataset):
        h = real(keys, dataset)
        h[:2] = 7
        return h

    monkeypatch.setattr(bulk, "key_hashes", clash_inside)
    (rep,) = ingest(sqlite_engine, [DEC], workers=1)
    assert rep.status == "error" and "share the 64-bit key hash 7" in rep.message
    assert _snapshot(sqlite_engine) == (0, 0)


def _journal_during_load(engine, monkeypatch, files) -> str:
    """The SQLite journal mode seen from inside the load's transaction."""
    import guardian.store.ingest as ing

    seen = {}
    real = ing._Loader.build_indexes

    def spy(self):
        seen["mode"] = self.conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        return real(self)

    monkeypatch.setattr(ing._Loader, "build_indexes", spy)
    ingest(engine, files, workers=1)
    return seen["mode"]


def test_first_sqlite_load_writes_through_a_rollback_journal_then_back_to_wal(sqlite_engine,
                                                                              monkeypatch):
    assert _journal_during_load(sqlite_engine, monkeypatch, [NOV]) == "delete"
    with sqlite_engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    # a later load (events not empty) stays in the WAL
    assert _journal_during_load(sqlite_engine, monkeypatch, [DEC]) == "wal"


def test_first_sqlite_load_beside_an_open_reader_stays_in_the_wal_without_waiting(
        sqlite_engine, monkeypatch):
    import sqlite3

    path = sqlite_engine.url.database
    reader = sqlite3.connect(path)
    try:
        reader.execute("SELECT count(*) FROM datasets").fetchall()
        t = time.perf_counter()
        assert _journal_during_load(sqlite_engine, monkeypatch, [NOV]) == "wal"
        assert time.perf_counter() - t < 4  # not the driver's 5 s wait for the file
    finally:
        reader.close()
    from guardian.data.policeuk import read_street

    assert _count(sqlite_engine) == len(read_street(NOV))


def test_the_same_ids_in_two_datasets_are_two_sets_of_events(engine):
    """Uniqueness is per dataset: one unique index over all datasets still keeps an extract
    and a second extract with the same ids apart (the dataset is part of the key hash)."""
    import dataclasses

    from guardian.data.extract import ExtractMapping

    mapping = ExtractMapping.from_toml(REPO / "mappings" / "chicago_be.toml")
    csv = REPO / "data" / "chicago_residential_burglary_2016" / "chicago_be.csv"
    (a,) = ingest(engine, [csv], mapping=mapping, workers=1)
    (b,) = ingest(engine, [csv], mapping=dataclasses.replace(mapping, name="chicago_be_copy"),
                  workers=1)
    assert a.loaded == b.loaded == 11700 and b.duplicates == 0
    assert _count(engine) == 2 * 11700
