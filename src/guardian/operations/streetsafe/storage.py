"""The intake's two round trips to the store, per dialect: what it must know before deciding a
batch (keys already stored, the clients' recent reports) and the write of what it decided.

PostgreSQL gets fixed statements sent through the driver's own cursor: the batch's rows go as
one JSON document (``json_populate_recordset``: encoded by the C JSON encoder, parsed by the
server), the keys and clients to look up as binary arrays (``= ANY(%b)``). A report then costs
the writer about a quarter of the CPU of SQLAlchemy's per-row parameter processing and
multi-row VALUES (``benchmarks/streetsafe_writer.py`` measures both on PostgreSQL; text arrays
were tried and cost twice the JSON's CPU, in psycopg's per-element quoting). SQLite, or
``portable=True`` anywhere, uses SQLAlchemy Core: the reference the tests hold the fast path
to. Both take and return the same plain data.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import insert, literal_column, null, select, union_all
from sqlalchemy.engine import Connection

from guardian.operations.streetsafe.models import (
    StreetSafeClient,
    StreetSafeRefusal,
    StreetSafeReport,
)
from guardian.store.db import driver_cursor

#: the report columns the intake writes
REPORT_COLUMNS = ("key", "dataset_id", "received_at", "month", "lat", "lon", "x", "y", "cell_x",
                  "cell_y", "reasons", "when", "daynight", "not_reported", "comment", "source",
                  "source_file_id")
_COLS = ", ".join(f'"{c}"' for c in REPORT_COLUMNS)

# The statements run with prepare=False: psycopg prepares a statement after five runs, and
# PostgreSQL then settles on a generic plan made while the tables were nearly empty (a hash
# join over a sequential scan of the reports), which grows slower with every report stored.
# Measured (benchmarks/streetsafe.py, one run each, back to back): at a fixed 1,000 reports/s,
# 765 acknowledged a second and p99 3.1 s prepared, 983 and 29 ms not.
_PG_READ = """
SELECT 'k', key, NULL::timestamp, NULL::varchar, NULL::varchar
  FROM streetsafe_reports WHERE key = ANY(%b::varchar[])
UNION ALL
SELECT 'c', c.client, c.at, c.fingerprint, r.key
  FROM streetsafe_clients c LEFT JOIN streetsafe_reports r ON r.id = c.report_id
 WHERE c.client = ANY(%b::varchar[]) AND c.at > %s
"""

# One statement for the reports and their client hashes: a key another writer stored since
# the read is skipped (ON CONFLICT DO NOTHING) and gets no client row; the keys stored come
# back.
_PG_WRITE = f"""
WITH r AS (
  INSERT INTO streetsafe_reports ({_COLS})
  SELECT {_COLS} FROM json_populate_recordset(NULL::streetsafe_reports, %s::json)
  ON CONFLICT (key) DO NOTHING
  RETURNING id, key
), c AS (
  INSERT INTO streetsafe_clients (client, at, fingerprint, report_id)
  SELECT u.client, u.at, u.fingerprint, r.id
    FROM json_to_recordset(%s::json)
         AS u(key varchar, client varchar, at timestamp, fingerprint varchar)
    JOIN r ON r.key = u.key
)
SELECT key FROM r
"""

_PG_COUNT = """
INSERT INTO streetsafe_refusals (day, reason, count)
SELECT * FROM unnest(%b::date[], %b::varchar[], %b::int[])
ON CONFLICT (day, reason) DO UPDATE SET count = streetsafe_refusals.count + excluded.count
"""


def _iso(v):
    if isinstance(v, datetime):
        return v.isoformat()
    raise TypeError(f"cannot write {type(v).__name__} to the store")


def _fast(conn: Connection, portable: bool) -> bool:
    return conn.dialect.name == "postgresql" and not portable


def _insert(conn: Connection, table):
    """The dialect's INSERT (PostgreSQL and SQLite both have ON CONFLICT)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table)


def read(conn: Connection, keys: list[str], clients: set[str], since: datetime | None, *,
         portable: bool = False) -> tuple[set[str], dict[str, list[list]]]:
    """The keys of ``keys`` already stored, and per client of ``clients`` its reports received
    after ``since`` (naive UTC) as ``[at, fingerprint, report key]``."""
    known: set[str] = set()
    recent: dict[str, list[list]] = {}
    if _fast(conn, portable):
        with driver_cursor(conn) as cur:
            cur.execute(_PG_READ, (keys, list(clients), since or datetime.max), prepare=False)
            rows = cur.fetchall()
    else:
        t, c = StreetSafeReport.__table__, StreetSafeClient.__table__
        q = select(literal_column("'k'").label("kind"), t.c.key.label("a"),
                   null().label("at"), null().label("fp"), null().label("rkey")
                   ).where(t.c.key.in_(keys))
        if clients:
            q = union_all(q, select(
                literal_column("'c'"), c.c.client, c.c.at, c.c.fingerprint, t.c.key)
                .select_from(c.outerjoin(t, t.c.id == c.c.report_id))
                .where(c.c.client.in_(clients), c.c.at > since))
        rows = conn.execute(q).all()
    for kind, a, at, fp, rkey in rows:
        if kind == "k":
            known.add(a)
        else:
            if isinstance(at, str):  # SQLite hands a UNION's datetime back as text
                at = datetime.fromisoformat(at)
            recent.setdefault(a, []).append([at, fp, rkey])
    return known, recent


def write(conn: Connection, rows: list[dict], clients: list[dict], *,
          portable: bool = False) -> set[str]:
    """Insert the report ``rows`` (dicts of :data:`REPORT_COLUMNS`) and, for each one stored,
    its client row (``key, client, at, fingerprint``); returns the keys stored (a key already
    there is skipped)."""
    if _fast(conn, portable):
        with driver_cursor(conn) as cur:
            cur.execute(_PG_WRITE, (json.dumps(rows, default=_iso),
                                    json.dumps(clients, default=_iso)), prepare=False)
            return {k for (k,) in cur.fetchall()}
    t, c = StreetSafeReport.__table__, StreetSafeClient.__table__
    got = dict((k, i) for i, k in conn.execute(
        _insert(conn, t).on_conflict_do_nothing(index_elements=["key"])
        .returning(t.c.id, t.c.key), rows).all())
    crow = [{"client": x["client"], "at": x["at"], "fingerprint": x["fingerprint"],
             "report_id": got[x["key"]]} for x in clients if x["key"] in got]
    if crow:
        conn.execute(insert(c), crow)
    return set(got)


def add_counts(conn: Connection, counts: dict[tuple, int], *, portable: bool = False) -> None:
    """Add ``counts`` (``{(day, reason): n}``) to the stored refusal counters."""
    if not counts:
        return
    if _fast(conn, portable):
        days, reasons, ns = zip(*((d, r, n) for (d, r), n in counts.items()), strict=True)
        with driver_cursor(conn) as cur:
            cur.execute(_PG_COUNT, (list(days), list(reasons), list(ns)), prepare=False)
        return
    rt = StreetSafeRefusal.__table__
    ins = _insert(conn, rt)
    conn.execute(ins.on_conflict_do_update(
        index_elements=["day", "reason"], set_={"count": rt.c.count + ins.excluded.count}),
        [{"day": d, "reason": o, "count": n} for (d, o), n in counts.items()])
