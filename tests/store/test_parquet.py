"""The partitioned Parquet store: the same validation and accounting as `guardian ingest`,
idempotence, atomic replacement of a republished month, cross-month duplicates."""

from __future__ import annotations

import gzip
import shutil

import pandas as pd
import pytest

from guardian.data.sources import UnreadableFile
from guardian.store import parquet
from guardian.store.events import events_frame
from guardian.store.ingest import ingest

MONTHS = ("2021-11", "2021-12")


@pytest.fixture
def files(repo_root, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    out = []
    for m in MONTHS:
        p = repo_root / f"data/police_uk_street_essex/{m}-essex-street.csv.gz"
        shutil.copy(p, src / p.name)
        out.append(src / p.name)
    # two rows the loader must refuse: a point in the North Sea, a longitude that is not one
    lines = _lines(out[0])
    bad = []
    for i, lon in ((5, "12.9"), (6, "east")):
        f = lines[i].split(",")
        f[4] = lon
        bad.append(",".join(f))
    out[0].write_bytes(gzip.compress(("\n".join(lines + bad) + "\n").encode()))
    return out


def _lines(path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode().splitlines()


def test_accounting_matches_ingest_and_rereads_as_the_store(files, tmp_path, sqlite_engine):
    root = tmp_path / "pq"
    reps = parquet.export_parquet(root, files)
    ing = ingest(sqlite_engine, files, workers=1)
    for a, b in zip(reps, ing, strict=True):
        assert a.status == "loaded" and a.rows_read == a.loaded + a.quarantined + a.duplicates
        assert (a.rows_read, a.loaded, a.quarantined, a.duplicates) == \
            (b.rows_read, b.loaded, b.quarantined, b.duplicates)
    parts = parquet.partitions(root)
    assert list(parts["month"]) == list(MONTHS) and set(parts["force"]) == {"Essex"}
    assert (root / "events/force=Essex/month=2021-12/part-0.parquet").is_file()
    got = parquet.read_events(root)
    want = events_frame(sqlite_engine)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    q = parquet.quarantine_rows(root)
    assert len(q) == sum(r.quarantined for r in reps) >= 2 and q["reason"].str.len().min() > 5
    # hive layout readable by other engines as they are
    import duckdb

    n = duckdb.sql(f"select count(*) from read_parquet('{root}/events/*/*/part-*.parquet', "
                   "hive_partitioning=true) where force = 'Essex'").fetchall()[0][0]
    assert n == len(want)


def test_rerun_is_unchanged(files, tmp_path):
    root = tmp_path / "pq"
    parquet.export_parquet(root, files)
    f = root / "events/force=Essex/month=2021-11/part-0.parquet"
    stamp = f.stat().st_mtime_ns
    again = parquet.export_parquet(root, files)
    assert [r.status for r in again] == ["unchanged", "unchanged"]
    assert f.stat().st_mtime_ns == stamp
    assert not (root / parquet.STAGING).exists()


def test_republished_month_replaces_its_partition(files, tmp_path, sqlite_engine):
    root = tmp_path / "pq"
    parquet.export_parquet(root, files)
    old = parquet.read_events(root, months=["2021-12"])
    # police.uk republishes December with the last 100 rows withdrawn
    lines = _lines(files[1])
    new_dir = tmp_path / "republished"
    new_dir.mkdir()
    new = new_dir / files[1].name
    new.write_bytes(gzip.compress(("\n".join(lines[:-100]) + "\n").encode()))
    rep = parquet.export_parquet(root, [new])[0]
    assert rep.status == "replaced" and files[1].name in rep.message
    after = parquet.read_events(root, months=["2021-12"])
    assert len(after) == rep.loaded < len(old)
    assert set(after["event_id"]) < set(old["event_id"])
    assert len(parquet.read_events(root, months=["2021-11"])) > 0  # other months untouched
    assert len(list((root / "events/force=Essex").glob("month=2021-12/*.parquet"))) == 2
    # the same as the SQL store after the same two loads
    ingest(sqlite_engine, files, workers=1)
    ingest(sqlite_engine, [new], workers=1)
    pd.testing.assert_frame_equal(parquet.read_events(root), events_frame(sqlite_engine),
                                  check_dtype=False)


def test_crash_mid_write_leaves_the_old_partition(files, tmp_path, monkeypatch):
    root = tmp_path / "pq"
    parquet.export_parquet(root, files)
    before = parquet.read_events(root)
    lines = _lines(files[0])
    new = tmp_path / "r" / files[0].name
    new.parent.mkdir()
    new.write_bytes(gzip.compress(("\n".join(lines[:-5]) + "\n").encode()))
    real = parquet.pq.write_table
    calls = []

    def dying(*a, **k):
        calls.append(1)
        if len(calls) == 2:  # after the events file, before the quarantine file
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(parquet.pq, "write_table", dying)
    with pytest.raises(KeyboardInterrupt):
        parquet.export_parquet(root, [new])
    monkeypatch.setattr(parquet.pq, "write_table", real)
    pd.testing.assert_frame_equal(parquet.read_events(root), before)
    assert not any((root / parquet.STAGING).glob("*")) if (root / parquet.STAGING).exists() else True
    assert parquet.export_parquet(root, [new])[0].status == "replaced"


def test_cross_month_duplicates_outcomes_and_errors(files, tmp_path, sqlite_engine):
    # a November row repeated in December is a duplicate, as in the SQL store
    nov, dec = _lines(files[0]), _lines(files[1])
    d = tmp_path / "dup"
    d.mkdir()
    (d / files[0].name).write_bytes(files[0].read_bytes())
    nov_ids = [ln.split(",")[0] for ln in nov[1:] if len(ln.split(",")[0]) == 64][:3]
    dec_rows = [i for i, ln in enumerate(dec) if i and len(ln.split(",")[0]) == 64][:3]
    for i, cid in zip(dec_rows, nov_ids, strict=True):
        dec[i] = cid + dec[i][64:]
    (d / files[1].name).write_bytes(gzip.compress(("\n".join(dec) + "\n").encode()))
    (d / "2021-12-essex-outcomes.csv").write_text(
        "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
        "LSOA name,Outcome type\n"
        f"{nov_ids[0]},2021-12,Essex Police,Essex Police,0.476,51.735,On or near Park Road,"
        "E01021500,Chelmsford 010A,Unable to prosecute suspect\n")
    (d / "notes.csv").write_text("a,b\n1,2\n")
    reps = {r.name.split("/")[-1]: r for r in parquet.export_parquet(tmp_path / "pq", [d])}
    ing = {r.name.split("/")[-1]: r for r in ingest(sqlite_engine, [d], workers=1)}
    dec_r = reps[files[1].name]
    assert dec_r.duplicates == ing[files[1].name].duplicates == 3
    assert dec_r.loaded == ing[files[1].name].loaded
    assert reps["2021-12-essex-outcomes.csv"].status == "skipped"
    assert reps["notes.csv"].status == "error" and ing["notes.csv"].status == "error"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "2021-12-essex-street.csv.gz").write_bytes(b"\x1f\x8b\x08\x00broken")
    with pytest.raises(UnreadableFile):
        parquet.export_parquet(tmp_path / "pq2", [bad])
    assert not (tmp_path / "pq2" / "events").exists()


def test_partition_names_are_checked(tmp_path):
    with pytest.raises(Exception, match="cannot name a Parquet partition"):
        parquet.partition_dir(tmp_path, "../x", "2021-01")
    assert parquet.partition_force("Essex Police") == "Essex"
    assert parquet.partition_force("chicago_be") == "chicago_be"
