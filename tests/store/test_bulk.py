"""Bulk writers: what goes in through each database's fast path comes back out unchanged."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from guardian.store.bulk import (
    COLUMNS,
    PG_HEADER,
    EventBatch,
    dataset_salt,
    key_hash,
    key_hashes,
    pg_copy_binary,
)
from guardian.store.ingest import _Loader
from guardian.store.models import PLACE_COLUMNS


def _frame() -> pd.DataFrame:
    """Awkward rows: missing coordinates, all three dwelling states, quotes, non-ASCII text,
    a time before 2000 (negative PostgreSQL timestamp), a key longer than a Crime ID, missing
    text, and two crimes at one place (rows 0 and 4)."""
    return pd.DataFrame({
        "event_id": ["a" * 64, "asb-" + "b" * 32, "key,with 'quotes'", "é-ключ-" + "c" * 80, "d" * 64],
        "dataset": "Test Police",
        "month": ["2021-12", "2021-12", "1999-07", "2021-12", "2021-12"],
        "time": pd.to_datetime(["2021-12-01 00:00:00", "2021-12-03 14:30:05", "1999-07-31 23:59:59",
                                "2021-12-01 00:00:00", "2021-12-01 00:00:00"]).tz_localize("Europe/London"),
        "time_precision": ["month", "exact", "day", "month", "month"],
        "category": ["Burglary", "Anti-social behaviour", "Burglary", "Other crime", "Drugs"],
        "dwelling": pd.array([True, None, False, None, None], dtype="boolean"),
        "x": [571234.5, np.nan, -12.25, 1e6, 571234.5], "y": [201000.125, np.nan, 3.5, 0.0, 201000.125],
        "lon": [0.5, np.nan, -1.25, 2.0, 0.5], "lat": [51.75, np.nan, 50.5, 52.0, 51.75],
        "location": ["On or near Café \"Bar\"", "No Location", "", "On or near A, B", "On or near Café \"Bar\""],
        "lsoa_code": ["E01000001", "", "E01000002", "W01000003", "E01000001"],
        "lsoa_name": ["Barking 001A", None, "Ynys Môn 002", np.nan, "Barking 001A"],  # missing: ""
        "outcome": ["Under investigation", "", "", "Offender given a caution", ""],
        "line": [2, 3, 5, 70_000, 70_001],
    })


EVENT_COLS = tuple(c for c in COLUMNS if c != "place_id")
STORED = (*EVENT_COLS, *PLACE_COLUMNS)


def _expected(frame: pd.DataFrame, mask=None) -> pd.DataFrame:
    f = frame if mask is None else frame[mask]
    return pd.DataFrame({
        "event_key": f["event_id"].tolist(), "key_hash": [key_hash(k, "Test Police") for k in f["event_id"]],
        "month": f["month"].tolist(),
        "occurred_local": f["time"].dt.tz_localize(None).dt.floor("s").tolist(),
        "time_precision": f["time_precision"].tolist(), "category": f["category"].tolist(),
        "dwelling": [None if pd.isna(v) else bool(v) for v in f["dwelling"]],
        "outcome": f["outcome"].tolist(),
        "source_line": f["line"].astype(int).tolist(),
        **{c: [None if pd.isna(v) else float(v) for v in f[c]] for c in ("x", "y", "lon", "lat")},
        **{c: ["" if pd.isna(v) else v for v in f[c]] for c in ("location", "lsoa_code", "lsoa_name")},
    })


def _write(conn, batch: EventBatch, pg=None, ds=7, fid=11) -> None:
    """Through the loader's own writers: places first, then the events referring to them."""
    loader = _Loader(conn)
    loader._events(batch, pg, ds, fid, loader.place_ids(ds, batch, "test"))


def _read(conn) -> pd.DataFrame:
    cols = [f"e.{c}" for c in EVENT_COLS] + [f"p.{c}" for c in PLACE_COLUMNS]
    rows = conn.execute(text(f"SELECT {', '.join(cols)}, e.dataset_id, e.source_file_id FROM events e "
                             "JOIN places p ON p.id = e.place_id ORDER BY e.source_line")).all()
    out = pd.DataFrame(rows, columns=[*STORED, "dataset_id", "source_file_id"])
    out["occurred_local"] = pd.to_datetime(out["occurred_local"])
    out["dwelling"] = [None if pd.isna(v) else bool(v) for v in out["dwelling"]]
    for c in ("x", "y", "lon", "lat"):
        out[c] = [None if v is None or v != v else float(v) for v in out[c]]
    return out


def _clear(conn) -> None:
    conn.execute(text("DELETE FROM events"))
    conn.execute(text("DELETE FROM places"))


def test_key_hash_of_crime_ids_asb_keys_and_free_text():
    salt = dataset_salt("Essex Police")
    crime = "f3" + "0123456789abcdef" * 3 + "00112233445566"
    assert key_hash(crime, "Essex Police") == (int(crime[:16], 16) - (1 << 64)) ^ salt
    assert key_hash("0" * 64, "Essex Police") == salt
    assert key_hash("asb-" + "0123456789abcdef" * 2, "Essex Police") == 0x0123456789ABCDEF ^ salt
    # Any other key: BLAKE2b; the salt too. Pinned so stored hashes never change.
    assert key_hash("HD123456", "Chicago") == int.from_bytes(
        hashlib.blake2b(b"HD123456", digest_size=8).digest(), "big", signed=True) ^ int.from_bytes(
        hashlib.blake2b(b"Chicago", digest_size=8).digest(), "big", signed=True)
    # the same key in two datasets is two events
    assert key_hash("HD123456", "Chicago") != key_hash("HD123456", "Chicago 2")
    keys = np.array([crime, "0" * 64, "asb-" + "b" * 32, "F3" + crime[2:], "é" * 64, "", "x" * 64,
                     "asb-" + "é" * 32, "asx-" + "b" * 32, "asb-" + "B" * 32, "b" * 36], dtype=object)
    assert key_hashes(keys, "Kent Police").tolist() == [key_hash(k, "Kent Police") for k in keys]
    assert len(set(key_hashes(keys, "Kent Police").tolist())) == len(keys)
    # a batch of Crime IDs only (the all-hex shortcut) agrees with the one-by-one definition
    ids = np.array([hashlib.sha256(str(i).encode()).hexdigest() for i in range(50)], dtype=object)
    assert key_hashes(ids, "Kent Police").tolist() == [key_hash(k, "Kent Police") for k in ids]


def test_batch_keeps_shared_values_once():
    f = _frame()
    f["time_precision"] = "month"
    b = EventBatch.from_columns(f)
    assert b.const == {"time_precision": "month"}
    assert set(b.values) == set(COLUMNS) - {"time_precision", "place_id"}
    assert b.values["key_hash"].tolist() == [key_hash(k, "Test Police") for k in f["event_id"]]
    g = f.iloc[[0, 3]].copy()
    g["dwelling"] = pd.array([None, None], dtype="boolean")
    same = EventBatch.from_columns(g)
    assert same.const["month"] == "2021-12" and same.const["dwelling"] is None
    assert same.const["occurred_local"] == np.datetime64("2021-12-01T00:00:00", "us")


def test_batch_holds_each_place_once():
    b = EventBatch.from_columns(_frame())
    assert len(b.places["x"]) == 4 and b.place[0] == b.place[4]
    assert len(set(b.place.tolist())) == 4
    assert b.places["lsoa_name"][b.place[3]] == "" and np.isnan(b.places["x"][b.place[1]])
    cut = b.take(np.array([False, True, True, False, True]))
    assert len(cut.places["x"]) == 3 and cut.places["location"][cut.place[2]] == 'On or near Café "Bar"'


@pytest.mark.parametrize("rows", [[0, 1, 2, 3, 4], [0, 3]], ids=["varying", "constants"])
def test_fast_path_round_trip(engine, rows):
    frame = _frame().iloc[rows].reset_index(drop=True)
    with engine.begin() as conn:
        _write(conn, EventBatch.from_columns(frame))
        got = _read(conn)
        n_places = conn.execute(text("SELECT count(*) FROM places")).scalar_one()
        _clear(conn)
    assert (got["dataset_id"] == 7).all() and (got["source_file_id"] == 11).all()
    assert n_places == len(set(rows) - {4})  # rows 0 and 4 share a place
    pd.testing.assert_frame_equal(got[list(STORED)], _expected(frame), check_dtype=False)


def test_postgres_payload_cut_keeps_the_chosen_rows(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("binary COPY is the PostgreSQL path")
    frame = _frame()
    batch = EventBatch.from_columns(frame)
    pg = pg_copy_binary(batch)
    assert pg.payload.startswith(PG_HEADER) and pg.payload.endswith(b"\xff\xff")
    mask = np.array([False, True, False, True, True])
    with engine.begin() as conn:
        _write(conn, batch.take(mask), pg=pg.take(mask))
        got = _read(conn)
        _clear(conn)
    pd.testing.assert_frame_equal(got[list(STORED)], _expected(frame, mask).reset_index(drop=True),
                                  check_dtype=False)


def test_parser_place_codes_give_the_same_places_as_the_columns():
    """The parser's place codes (a shortcut) and grouping the place columns agree, row by row,
    on a real month (with ASB rows, no-location rows and shared map points)."""
    from conftest import ESSEX
    from guardian.data.policeuk import parse_police_uk
    from guardian.data.sources import Source

    f = ESSEX / "2021-12-essex-street.csv.gz"
    parsed = parse_police_uk(Source(name=f.name, path=f))
    fast = EventBatch.from_columns(parsed.columns, parsed.place_codes)
    slow = EventBatch.from_columns(parsed.columns)
    assert len(fast.places["x"]) == len(slow.places["x"]) < len(parsed.events) / 2
    for c in PLACE_COLUMNS:
        a, b = fast.places[c][fast.place], slow.places[c][slow.place]
        same = (a == b) | (pd.isna(a) & pd.isna(b))
        assert np.asarray(same, dtype=bool).all(), c
    # and the codes group rows exactly as the columns do
    assert (pd.factorize(fast.place)[0] == pd.factorize(slow.place)[0]).all()


def test_known_places_found_by_hash_confirmed_by_value():
    from guardian.store.bulk import KnownPlaces, place_hashes

    def places(*rows):
        cols = list(zip(*rows, strict=True))
        return {c: np.array(v, dtype=float if c in ("x", "y", "lon", "lat") else object)
                for c, v in zip(PLACE_COLUMNS, cols, strict=True)}

    a = (1.0, 2.0, 0.1, 51.0, "On or near A", "E01000001", "A 001A")
    b = (np.nan, np.nan, np.nan, np.nan, "No Location", "", "")
    c = (3.0, 4.0, 0.2, 52.0, "On or near C", "E01000002", "C 002B")
    known = KnownPlaces(np.array([10, 11]), places(a, b))
    batch = places(c, b, a)
    ids, new = known.resolve(batch, place_hashes(batch), next_id=12)
    assert ids.tolist() == [12, 11, 10] and new.tolist() == [True, False, False]
    # c is known now, under the id it was given
    again = places(c)
    ids, new = known.resolve(again, place_hashes(again), next_id=13)
    assert ids.tolist() == [12] and not new.any()
    # a different place arriving with a known place's hash is refused, naming both
    with pytest.raises(ValueError, match="share the 64-bit hash"):
        known.resolve(places((9.0, 9.0, 9.0, 9.0, "Elsewhere", "", "")),
                      place_hashes(places(a)), next_id=13)
    # two stored places with one hash can only be a collision: refused, not guessed
    twice = KnownPlaces(np.array([1, 2]), places(a, c))
    twice.hashes = twice.hashes[[0, 0]]
    with pytest.raises(ValueError, match="share a 64-bit place hash"):
        twice.resolve(batch, place_hashes(batch), next_id=3)


def test_packed_text_gives_back_the_values_it_packed():
    import pickle

    from guardian.store.bulk import PackedText

    values = np.array(["a" * 64, "", "é-ключ", "asb-" + "b" * 32, "x,y\n'z'"], dtype=object)
    packed = pickle.loads(pickle.dumps(PackedText.of(values)))
    assert len(packed) == 5
    assert packed[np.ones(5, dtype=bool)].tolist() == values.tolist()
    mask = np.array([False, True, True, False, True])
    assert packed[mask].tolist() == values[mask].tolist()
    assert packed[np.array([4, 0])].tolist() == [values[4], values[0]]
    assert packed[np.zeros(5, dtype=bool)].tolist() == []
    # in a batch, cutting rows decodes the kept keys
    b = EventBatch(5, {"event_key": packed, "key_hash": np.arange(5), "source_line": np.arange(5)},
                   place=np.zeros(5, dtype=np.int32), places={c: np.zeros(1) for c in PLACE_COLUMNS},
                   place_hash=np.zeros(1, dtype=np.int64))
    assert b.take(~mask).keys.tolist() == values[~mask].tolist()
