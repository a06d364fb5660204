"""Bulk writers: what goes in through each database's fast path comes back out unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from guardian.store.bulk import (
    COLUMNS,
    PG_COLUMNS,
    PG_HEADER,
    EventBatch,
    key_hash,
    key_hashes,
    pg_copy_binary,
    sqlite_insert,
)


def _frame() -> pd.DataFrame:
    """Awkward rows: missing coordinates, all three dwelling states, quotes, non-ASCII text,
    a time before 2000 (negative PostgreSQL timestamp), a key longer than a Crime ID."""
    return pd.DataFrame({
        "event_id": ["a" * 64, "asb-" + "b" * 32, "key,with 'quotes'", "é-ключ-" + "c" * 80],
        "month": ["2021-12", "2021-12", "1999-07", "2021-12"],
        "time": pd.to_datetime(["2021-12-01 00:00:00", "2021-12-03 14:30:05", "1999-07-31 23:59:59",
                                "2021-12-01 00:00:00"]).tz_localize("Europe/London"),
        "time_precision": ["month", "exact", "day", "month"],
        "category": ["Burglary", "Anti-social behaviour", "Burglary", "Other crime"],
        "dwelling": pd.array([True, None, False, None], dtype="boolean"),
        "x": [571234.5, np.nan, -12.25, 1e6], "y": [201000.125, np.nan, 3.5, 0.0],
        "lon": [0.5, np.nan, -1.25, 2.0], "lat": [51.75, np.nan, 50.5, 52.0],
        "location": ["On or near Café \"Bar\"", "No Location", "", "On or near A, B"],
        "lsoa_code": ["E01000001", "", "E01000002", "W01000003"],
        "lsoa_name": ["Barking 001A", None, "Ynys Môn 002", np.nan],  # missing: stored as ""
        "outcome": ["Under investigation", "", "", "Offender given a caution"],
        "line": [2, 3, 5, 70_000],
    })


def _expected(frame: pd.DataFrame, mask=None) -> pd.DataFrame:
    f = frame if mask is None else frame[mask]
    return pd.DataFrame({
        "event_key": f["event_id"].tolist(), "key_hash": [key_hash(k) for k in f["event_id"]],
        "month": f["month"].tolist(),
        "occurred_local": f["time"].dt.tz_localize(None).dt.floor("s").tolist(),
        "time_precision": f["time_precision"].tolist(), "category": f["category"].tolist(),
        "dwelling": [None if pd.isna(v) else bool(v) for v in f["dwelling"]],
        **{c: [None if pd.isna(v) else float(v) for v in f[c]] for c in ("x", "y", "lon", "lat")},
        **{c: ["" if pd.isna(v) else v for v in f[c]]
           for c in ("location", "lsoa_code", "lsoa_name", "outcome")},
        "source_line": f["line"].astype(int).tolist(),
    })


def _write(conn, batch: EventBatch, pg=None, ds=7, fid=11) -> None:
    if conn.dialect.name == "sqlite":
        sql, rows = sqlite_insert(batch, {"dataset_id": ds, "source_file_id": fid})
        conn.connection.driver_connection.cursor().executemany(sql, rows)
    else:
        pg = pg if pg is not None else pg_copy_binary(batch)
        with conn.connection.driver_connection.cursor() as cur:
            with cur.copy(f"COPY events ({', '.join(PG_COLUMNS)}) FROM STDIN WITH (FORMAT binary)") as cp:
                cp.write(pg.with_ids(ds, fid))


def _read(conn) -> pd.DataFrame:
    rows = conn.execute(text(f"SELECT {', '.join(COLUMNS)}, dataset_id, source_file_id FROM events "
                             "ORDER BY source_line")).all()
    out = pd.DataFrame(rows, columns=[*COLUMNS, "dataset_id", "source_file_id"])
    out["occurred_local"] = pd.to_datetime(out["occurred_local"])
    out["dwelling"] = [None if pd.isna(v) else bool(v) for v in out["dwelling"]]
    for c in ("x", "y", "lon", "lat"):
        out[c] = [None if v is None or v != v else float(v) for v in out[c]]
    return out


def test_key_hash_of_crime_ids_asb_keys_and_free_text():
    crime = "f3" + "0123456789abcdef" * 3 + "00112233445566"
    assert key_hash(crime) == int(crime[:16], 16) - (1 << 64)  # top bit set: negative int64
    assert key_hash("0" * 64) == 0
    assert key_hash("asb-" + "0123456789abcdef" * 2) == 0x0123456789ABCDEF
    # Any other key: BLAKE2b, pinned so stored hashes never change between versions.
    assert key_hash("HD123456") == int.from_bytes(
        __import__("hashlib").blake2b(b"HD123456", digest_size=8).digest(), "big", signed=True)
    keys = np.array([crime, "0" * 64, "asb-" + "b" * 32, "F3" + crime[2:], "é" * 64, "", "x" * 64,
                     "asb-" + "é" * 32, "asx-" + "b" * 32, "asb-" + "B" * 32, "b" * 36], dtype=object)
    assert key_hashes(keys).tolist() == [key_hash(k) for k in keys]
    assert len(set(key_hashes(keys).tolist())) == len(keys)


def test_batch_keeps_shared_values_once():
    f = _frame()
    f["time_precision"] = "month"
    b = EventBatch.from_columns(f)
    assert b.const == {"time_precision": "month"}
    assert set(b.values) == set(COLUMNS) - {"time_precision"}
    assert b.values["key_hash"].tolist() == [key_hash(k) for k in f["event_id"]]
    g = f.iloc[[0, 3]].copy()
    g["dwelling"] = pd.array([None, None], dtype="boolean")
    same = EventBatch.from_columns(g)
    assert same.const["month"] == "2021-12" and same.const["dwelling"] is None
    assert same.const["occurred_local"] == np.datetime64("2021-12-01T00:00:00", "us")


@pytest.mark.parametrize("rows", [[0, 1, 2, 3], [0, 3]], ids=["varying", "constants"])
def test_fast_path_round_trip(engine, rows):
    frame = _frame().iloc[rows].reset_index(drop=True)
    with engine.begin() as conn:
        _write(conn, EventBatch.from_columns(frame))
        got = _read(conn)
        conn.execute(text("DELETE FROM events"))
    assert (got["dataset_id"] == 7).all() and (got["source_file_id"] == 11).all()
    pd.testing.assert_frame_equal(got[list(COLUMNS)], _expected(frame), check_dtype=False)


def test_postgres_payload_cut_keeps_the_chosen_rows(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("binary COPY is the PostgreSQL path")
    frame = _frame()
    batch = EventBatch.from_columns(frame)
    pg = pg_copy_binary(batch)
    assert pg.payload.startswith(PG_HEADER) and pg.payload.endswith(b"\xff\xff")
    mask = np.array([False, True, False, True])
    with engine.begin() as conn:
        _write(conn, batch.take(mask), pg=pg.take(mask))
        got = _read(conn)
        conn.execute(text("DELETE FROM events"))
    pd.testing.assert_frame_equal(got[list(COLUMNS)], _expected(frame, mask).reset_index(drop=True),
                                  check_dtype=False)
