"""The intake's two round trips to the store, per dialect: what it must know before deciding a
batch (keys already stored, the clients' recent reports) and the write of what it decided.

PostgreSQL gets fixed statements over arrays (``= ANY(%s)``, ``unnest``) sent through the
driver's own cursor: the SQL text never changes with the batch size, so psycopg prepares it
once per connection, and a row costs a few list appends instead of SQLAlchemy's per-row
parameter processing and multi-row VALUES rendering (``benchmarks/streetsafe_writer.py``
measures both on PostgreSQL). SQLite, or ``portable=True`` anywhere, uses SQLAlchemy Core:
the reference the tests hold the fast path to. Both take and return the same plain data.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, literal_column, null, select, union_all
from sqlalchemy.engine import Connection

from guardian.operations.streetsafe.models import (
    StreetSafeClient,
    StreetSafeRefusal,
    StreetSafeReport,
)

#: the report columns written, in the order of the PostgreSQL arrays and their types
REPORT_COLUMNS = (
    ("key", "varchar"), ("dataset_id", "int"), ("received_at", "timestamp"),
    ("month", "varchar"), ("lat", "float8"), ("lon", "float8"), ("x", "float8"),
    ("y", "float8"), ("cell_x", "int"), ("cell_y", "int"), ("reasons", "varchar"),
    ("when", "varchar"), ("daynight", "varchar"), ("not_reported", "varchar"),
    ("comment", "text"), ("source", "varchar"), ("source_file_id", "int"),
)

_PG_READ = """
SELECT 'k', key, NULL::timestamp, NULL::varchar, NULL::varchar
  FROM streetsafe_reports WHERE key = ANY(%s::varchar[])
UNION ALL
SELECT 'c', c.client, c.at, c.fingerprint, r.key
  FROM streetsafe_clients c LEFT JOIN streetsafe_reports r ON r.id = c.report_id
 WHERE c.client = ANY(%s::varchar[]) AND c.at > %s
"""

# One statement for the reports and their client hashes: a key another writer stored since
# the read is skipped (ON CONFLICT DO NOTHING) and gets no client row; the keys stored come
# back.
_PG_WRITE = f"""
WITH r AS (
  INSERT INTO streetsafe_reports ({", ".join(f'"{c}"' for c, _ in REPORT_COLUMNS)})
  SELECT * FROM unnest({", ".join(f"%s::{t}[]" for _, t in REPORT_COLUMNS)})
  ON CONFLICT (key) DO NOTHING
  RETURNING id, key
), c AS (
  INSERT INTO streetsafe_clients (client, at, fingerprint, report_id)
  SELECT u.client, u.at, u.fp, r.id
    FROM unnest(%s::varchar[], %s::varchar[], %s::timestamp[], %s::varchar[])
         AS u(key, client, at, fp)
    JOIN r ON r.key = u.key
)
SELECT key FROM r
"""

_PG_COUNT = """
INSERT INTO streetsafe_refusals (day, reason, count)
SELECT * FROM unnest(%s::date[], %s::varchar[], %s::int[])
ON CONFLICT (day, reason) DO UPDATE SET count = streetsafe_refusals.count + excluded.count
"""


def _cursor(conn: Connection):
    return conn.connection.driver_connection.cursor()


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
        with _cursor(conn) as cur:
            cur.execute(_PG_READ, (keys, list(clients), since or datetime.max))
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
        by_key = {c["key"]: c for c in clients}
        cl = [by_key[r["key"]] for r in rows if r["key"] in by_key]
        params = [[r[c] for r in rows] for c, _ in REPORT_COLUMNS]
        params += [[c["key"] for c in cl], [c["client"] for c in cl], [c["at"] for c in cl],
                   [c["fingerprint"] for c in cl]]
        with _cursor(conn) as cur:
            cur.execute(_PG_WRITE, params)
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
        with _cursor(conn) as cur:
            cur.execute(_PG_COUNT, (list(days), list(reasons), list(ns)))
        return
    rt = StreetSafeRefusal.__table__
    ins = _insert(conn, rt)
    conn.execute(ins.on_conflict_do_update(
        index_elements=["day", "reason"], set_={"count": rt.c.count + ins.excluded.count}),
        [{"day": d, "reason": o, "count": n} for (d, o), n in counts.items()])
