"""Loading parsed files into the store: idempotent, atomic, month replacement, accounting.

Every row read ends in exactly one place: ``events`` (loaded), ``quarantine`` (with a reason)
or ``duplicates`` (id already stored). One command is one transaction: a crash or Ctrl-C
mid-load leaves the store exactly as before.
"""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    String,
    and_,
    delete,
    func,
    insert,
    select,
    text,
    update,
)

from guardian.data.extract import ExtractMapping, parse_extract
from guardian.data.policeuk import ParsedFile, parse_police_uk, warm_up
from guardian.data.sources import Source, UnreadableFile, iter_sources
from guardian.errors import InputError
from guardian.store.bulk import (
    COLUMNS,
    PG_COLUMNS,
    EventBatch,
    KnownPlaces,
    PackedText,
    PgCopy,
    collision_message,
    hash_collision,
    pg_copy_binary,
    place_rows,
    sqlite_insert,
)
from guardian.store.db import driver_cursor, fetch_raw
from guardian.store.models import (
    PLACE_COLUMNS,
    Dataset,
    DuplicateRecord,
    Event,
    Outcome,
    Place,
    QuarantineRow,
    SourceFile,
)


@dataclass
class FileReport:
    """What happened to one file. ``rows_read == loaded + quarantined + duplicates``."""

    name: str
    status: str  # loaded | replaced | unchanged | error
    dataset: str = ""
    kind: str = ""
    month: str = ""
    rows_read: int = 0
    loaded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    message: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _parse(args: tuple[Source, ExtractMapping | None, str]):
    """Parse one file and lay out its store rows; runs in a worker process.

    Returns an error message, or ``(parsed, batch, pg)``: the parsed file (its events reduced
    to nothing, as the batch carries them), the store rows as an :class:`EventBatch` (None for
    outcomes files) and, for PostgreSQL, their binary COPY payload.
    """
    source, mapping, dialect = args
    try:
        parsed = parse_extract(source, mapping) if mapping is not None else parse_police_uk(source)
    except UnreadableFile:
        raise  # a damaged file stops the whole load (see ingest)
    except InputError as exc:
        return str(exc)
    if parsed.kind == "outcomes":
        return parsed, None, None
    batch = EventBatch.from_columns(parsed.columns, parsed.place_codes)
    parsed.table, parsed.place_codes = {}, None
    clash = hash_collision(batch.keys, batch.values["key_hash"])
    if not clash and len(np.unique(batch.place_hash)) < len(batch.place_hash):
        clash = "two of its places share a 64-bit place hash; please report it"
    if clash:
        return f"{source.name}: {clash}"
    if dialect != "postgresql":
        return parsed, batch, None
    # PostgreSQL gets the encoded rows; the main process needs only keys, hashes and lines.
    pg = pg_copy_binary(batch)
    ids = {"event_key": PackedText.of(batch.keys),
           **{c: batch.values[c] for c in ("key_hash", "source_line")}}
    return parsed, EventBatch(batch.n, ids, place=batch.place, places=batch.places,
                              place_hash=batch.place_hash), pg


def _start_parsing(sources: list[Source], mapping: ExtractMapping | None, workers: int,
                   dialect: str):
    """Results of :func:`_parse` in source order, and the pool computing them (or None).

    The pool is started before the store transaction opens, so no worker is forked holding a
    database connection. The writer (this process) is the critical path of a load, so:

    * the workers run at a lower priority (nice 5), using the CPU the writer leaves;
    * the first file is parsed here, while the workers start on the next ones, rather than
      leaving the writer idle until a worker's first result arrives.
    """
    jobs = [(s, mapping, dialect) for s in sources]
    if workers > 1 and len(jobs) > 2:
        if mapping is None:
            warm_up()  # before forking: the workers inherit it
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_init)
        rest = pool.map(_parse, jobs[1:])

        def results():
            yield _parse(jobs[0])
            yield from rest

        return results(), pool
    return map(_parse, jobs), None


def _worker_init() -> None:
    """Set up a parsing worker: a lower priority, and Ctrl-C left to the main process.

    A terminal's Ctrl-C reaches the whole process group; a worker that took it would print its
    own KeyboardInterrupt traceback beside the main process's one-line "interrupted".
    """
    os.nice(5)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pg_type(t) -> str:
    """The PostgreSQL type a binary COPY sends for a column of SQLAlchemy type ``t``
    (varchar takes text's binary form)."""
    for kind, name in ((BigInteger, "int8"), (Integer, "int4"), (Float, "float8"),
                       (Boolean, "bool"), (DateTime, "timestamp"), (String, "text")):
        if isinstance(t, kind):
            return name
    raise TypeError(f"no binary COPY type for {t!r}")


class _Loader:
    """One transaction's worth of loading. Keeps per-dataset key sets to count duplicates."""

    def __init__(self, conn: Connection, slow_ms: int = 0) -> None:
        self.conn = conn
        self.keys: set[int] = set()  # hashes of the keys this load has stored (all datasets)
        self.touched: set[int] = set()
        self.slow_ms = slow_ms  # test hook: pause between writes so a test can kill us
        self.deferred: list[Index] = []
        self.started_empty = False  # events was empty when this load began
        self.places: dict[int, KnownPlaces] = {}
        self.next_place: int | None = None
        self.places_added = False
        self.dropped_pk: str | None = None  # name of the primary key dropped for a first load
        self.next_event: int | None = None  # first load on PostgreSQL: next event id to give

    def defer_indexes(self) -> None:
        """On a first load (``events`` empty) drop its indexes; :meth:`build_indexes` makes
        them again once, which is several times cheaper than 250k random B-tree inserts.

        Inside the load's transaction: a crash restores them with everything else. On
        PostgreSQL the dropped index locks ``events`` until commit, which only an empty table
        can afford. Uniqueness holds meanwhile: keys are checked in Python as rows arrive,
        and the unique index, rebuilt before commit, would refuse any that slipped through.
        """
        if self.conn.execute(select(Event.id).limit(1)).first() is not None:
            return
        self.started_empty = True
        for index in sorted(Event.__table__.indexes, key=lambda i: i.name):
            index.drop(self.conn)
            self.deferred.append(index)
        if self.conn.dialect.name == "postgresql":
            # The primary key's index too (SQLite's is the rowid itself, free): maintained row
            # by row it cost a quarter of the server's COPY time; built once it costs 0.06 s.
            self.dropped_pk = self.conn.execute(text(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'events'::regclass "
                "AND contype = 'p'")).scalar()
            if self.dropped_pk:
                self.conn.execute(text(f'ALTER TABLE events DROP CONSTRAINT "{self.dropped_pk}"'))

    def build_indexes(self) -> None:
        if self.dropped_pk:
            self.conn.execute(text(f'ALTER TABLE events ADD CONSTRAINT "{self.dropped_pk}" '
                                   "PRIMARY KEY (id)"))
            self.dropped_pk = None
        for index in self.deferred:
            index.create(self.conn)
        self.deferred = []

    def event_ids(self, n: int) -> np.ndarray:
        """Ids for ``n`` new events on PostgreSQL, from the ``events`` id sequence.

        A first load holds ``events`` locked (its indexes are dropped), so nobody else can take
        ids meanwhile: it takes one and counts on from it, and :meth:`finish_ids` moves the
        sequence past the last. Any other load asks the sequence for each id.
        """
        if self.started_empty:
            if self.next_event is None:
                self.next_event = self.conn.execute(
                    text("SELECT nextval(pg_get_serial_sequence('events', 'id'))")).scalar_one()
            first, self.next_event = self.next_event, self.next_event + n
            return np.arange(first, first + n, dtype=np.int64)
        return np.array(self.conn.execute(
            text("SELECT nextval(pg_get_serial_sequence('events', 'id')) "
                 "FROM generate_series(1, :n)"), {"n": n}).scalars().all(), dtype=np.int64)

    def dataset_id(self, name: str, kind: str, crs: str, tz: str) -> int:
        row = self.conn.execute(select(Dataset.id, Dataset.crs).where(Dataset.name == name)).first()
        if row is not None:
            if row.crs != crs:
                raise InputError(f"dataset {name!r} is stored in {row.crs}; this file gives {crs}")
            return row.id
        return self.conn.execute(
            insert(Dataset).values(name=name, kind=kind, crs=crs, timezone=tz, created_at=_now())
            .returning(Dataset.id)
        ).scalar_one()

    def seen_before(self, hashes: list[int]) -> np.ndarray:
        """Which of ``hashes`` are stored already: before this load (looked up through the
        unique index, 500 at a time) or earlier in it (kept here). On a first load the table
        started empty, so only the second kind exists."""
        loaded = self.keys
        seen = np.zeros(len(hashes), dtype=bool)
        if not loaded.isdisjoint(hashes):
            seen = np.fromiter((h in loaded for h in hashes), dtype=bool, count=len(hashes))
        if not self.deferred and not self.started_empty:
            found: set[int] = set()
            for i in range(0, len(hashes), 500):
                found.update(r[0] for r in fetch_raw(self.conn, select(Event.key_hash).where(
                    Event.key_hash.in_(hashes[i:i + 500]))))
            if found:
                seen |= np.fromiter((h in found for h in hashes), dtype=bool, count=len(hashes))
        return seen

    def stored_keys(self, hashes: list[int]) -> dict[int, tuple[int, str]]:
        """The stored (dataset id, key) of each of ``hashes`` (asked only when a file repeats
        stored ones)."""
        out: dict[int, tuple[int, str]] = {}
        for i in range(0, len(hashes), 500):
            rows = self.conn.execute(select(Event.key_hash, Event.dataset_id, Event.event_key)
                                     .where(Event.key_hash.in_(hashes[i:i + 500])))
            out.update((h, (d, k)) for h, d, k in rows)
        return out

    def _pause(self) -> None:
        if self.slow_ms:
            time.sleep(self.slow_ms / 1000)

    def load(self, src: Source, parsed: ParsedFile, batch: EventBatch | None = None,
             pg: PgCopy | None = None) -> FileReport:
        c = self.conn
        is_police = parsed.kind in ("street", "outcomes")
        kind_ds = "police.uk" if is_police else "extract"
        ds = self.dataset_id(parsed.dataset, kind_ds, parsed.crs, parsed.timezone)
        report = FileReport(name=src.name, status="loaded", dataset=parsed.dataset,
                            kind=parsed.kind, month=parsed.month or "",
                            rows_read=parsed.rows_read)
        active = SourceFile.superseded_at.is_(None)
        same = c.execute(select(SourceFile.__table__).where(
            SourceFile.dataset_id == ds, SourceFile.sha256 == parsed.sha256, active)).first()
        if same is not None:
            f = same
            report.status = "unchanged"
            report.loaded, report.quarantined, report.duplicates = f.loaded, f.quarantined, f.duplicates
            report.message = f"already loaded from {f.name}"
            return report
        keys = self.keys
        if parsed.kind in ("street", "outcomes"):
            # police.uk republishes months: a new file for a force, kind and month replaces
            # the one in force, inside this transaction.
            old = c.execute(select(SourceFile.id, SourceFile.name).where(
                SourceFile.dataset_id == ds, SourceFile.kind == parsed.kind,
                SourceFile.month == parsed.month, active)).all()
            if old:
                old_ids = [o.id for o in old]
                if parsed.kind == "street":
                    in_old = and_(Event.dataset_id == ds, Event.month == parsed.month,
                                  Event.source_file_id.in_(old_ids))
                    for h in c.execute(select(Event.key_hash).where(in_old)).scalars():
                        keys.discard(h)
                    c.execute(delete(Event).where(in_old))
                else:
                    c.execute(delete(Outcome).where(Outcome.source_file_id.in_(old_ids)))
                c.execute(update(SourceFile).where(SourceFile.id.in_(old_ids))
                          .values(superseded_at=_now()))
                report.status = "replaced"
                report.message = "replaces " + ", ".join(o.name for o in old)
        fid = c.execute(insert(SourceFile).values(
            dataset_id=ds, name=src.name, sha256=parsed.sha256, kind=parsed.kind,
            month=parsed.month, rows_read=parsed.rows_read, loaded=0, quarantined=0,
            duplicates=0, loaded_at=_now()).returning(SourceFile.id)).scalar_one()
        dups = [(d.line, d.event_id) for d in parsed.duplicates]
        if parsed.kind == "outcomes":
            ev = parsed.events
            self._bulk(Outcome.__table__, ("dataset_id", "crime_id", "month", "outcome",
                                           "source_file_id", "source_line"),
                       zip(np.repeat(ds, len(ev)).tolist(), ev["crime_id"].tolist(),
                           ev["month"].tolist(), ev["outcome"].tolist(),
                           np.repeat(fid, len(ev)).tolist(), ev["line"].tolist(), strict=True))
            loaded = len(ev)
        else:
            if batch is None:
                batch = EventBatch.from_columns(parsed.columns, parsed.place_codes)
            hashes = batch.values["key_hash"].tolist()
            seen = self.seen_before(hashes)
            if seen.any():
                stored = self.stored_keys(batch.values["key_hash"][seen].tolist())
                for h, k in zip(batch.values["key_hash"][seen].tolist(), batch.keys[seen].tolist(),
                                strict=True):
                    if stored[h] != (ds, k):
                        names = dict(c.execute(select(Dataset.id, Dataset.name)).all())
                        a = f"{stored[h][1]!r} of {names.get(stored[h][0])!r}"
                        raise InputError(f"{src.name}: "
                                         f"{collision_message(a, f'{k!r} of {parsed.dataset!r}', h)}")
                dups += list(zip(batch.lines[seen].tolist(), batch.keys[seen].tolist(), strict=True))
                batch = batch.take(~seen)
                pg = pg.take(~seen) if pg is not None else None
                hashes = batch.values["key_hash"].tolist()
            keys.update(hashes)
            self._events(batch, pg, ds, fid, self.place_ids(ds, batch, src.name))
            loaded = len(batch)
        self._pause()
        self._bulk(QuarantineRow.__table__, ("source_file_id", "line", "reason", "raw"),
                   ((fid, q.line, q.reason, q.raw) for q in parsed.quarantined))
        self._bulk(DuplicateRecord.__table__, ("source_file_id", "line", "event_key"),
                   ((fid, int(line), str(k)) for line, k in dups))
        c.execute(update(SourceFile).where(SourceFile.id == fid).values(
            loaded=loaded, quarantined=len(parsed.quarantined), duplicates=len(dups)))
        report.loaded, report.quarantined, report.duplicates = loaded, len(parsed.quarantined), len(dups)
        if report.loaded + report.quarantined + report.duplicates != report.rows_read:
            raise RuntimeError(f"{src.name}: accounting does not add up: {report}")  # never lose rows
        self.touched.add(ds)
        return report

    def place_ids(self, ds: int, batch: EventBatch, name: str) -> np.ndarray:
        """Store ids of a batch's places, adding the ones the dataset does not have yet.

        Ids are given here, not by the database: this transaction is the only writer of
        ``places`` and SQLite's ``executemany`` returns no ids.
        """
        known = self.places.get(ds)
        if known is None:
            rows = fetch_raw(self.conn, select(Place.id, *(Place.__table__.c[c] for c in PLACE_COLUMNS))
                             .where(Place.dataset_id == ds))
            cols = list(zip(*rows, strict=True)) if rows else [()] * (1 + len(PLACE_COLUMNS))
            stored = {c: np.array([np.nan if v is None else v for v in vals], dtype=float)
                      if c in ("x", "y", "lon", "lat") else np.array(vals, dtype=object)
                      for c, vals in zip(PLACE_COLUMNS, cols[1:], strict=True)}
            known = self.places[ds] = KnownPlaces(np.array(cols[0], dtype=np.int64), stored)
        if self.next_place is None:
            self.next_place = (self.conn.execute(select(func.max(Place.id))).scalar() or 0) + 1
        try:
            ids, new = known.resolve(batch.places, batch.place_hash, self.next_place)
        except ValueError as exc:
            raise InputError(f"{name}: {exc}") from exc
        if new.any():
            self.next_place += int(new.sum())
            rows = place_rows({c: a[new] for c, a in batch.places.items()})
            self._bulk(Place.__table__, ("id", "dataset_id", *PLACE_COLUMNS),
                       [(int(i), ds, *r) for i, r in zip(ids[new].tolist(), rows, strict=True)])
            self.places_added = True
        return ids

    def _events(self, batch: EventBatch, pg: PgCopy | None, ds: int, fid: int,
                place_ids: np.ndarray) -> None:
        """Write a batch of events by the database's fastest path (see :mod:`.bulk`)."""
        if not len(batch):
            return
        dialect = self.conn.dialect.name
        if dialect == "sqlite":
            sql, rows = sqlite_insert(batch, {"dataset_id": ds, "source_file_id": fid}, place_ids)
            # The driver's cursor takes the rows as an iterator (SQLAlchemy wants a list).
            with driver_cursor(self.conn) as cur:
                cur.executemany(sql, rows)
        elif dialect == "postgresql":
            pg = pg if pg is not None else pg_copy_binary(batch)
            payload = pg.with_ids(self.event_ids(len(batch)), ds, fid, place_ids[batch.place])
            with driver_cursor(self.conn) as cur:
                sql = f"COPY events ({', '.join(PG_COLUMNS)}) FROM STDIN WITH (FORMAT binary)"
                with cur.copy(sql) as cp:
                    cp.write(payload)
        else:
            cols = [c for c in COLUMNS if c in batch.values]
            rows = [{**dict(zip(cols, r, strict=True)), **batch.const,
                     "dataset_id": ds, "source_file_id": fid, "place_id": int(p)}
                    for *r, p in zip(*(batch.column(c).tolist() for c in cols),
                                     place_ids[batch.place].tolist(), strict=True)]
            self.conn.execute(insert(Event), rows)

    def finish_ids(self) -> None:
        """Bring PostgreSQL's id sequences for ``places`` and ``events`` past the ids given
        here."""
        if self.conn.dialect.name != "postgresql":
            return
        for table, given in (("places", self.places_added), ("events", self.next_event is not None)):
            if given:
                self.conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                       f"(SELECT max(id) FROM {table}))"))

    def _bulk(self, table, cols: tuple[str, ...], rows: Iterable[tuple]) -> None:
        """Multi-row insert of small tables (places, outcomes, quarantine, duplicates): COPY
        on PostgreSQL, executemany on SQLite."""
        rows = list(rows)
        if not rows:
            return
        dialect = self.conn.dialect.name
        if dialect == "postgresql":
            # Binary COPY, rows encoded by the driver (in C): a third of the time of writing
            # CSV (the float repr) and having the server parse it, for 20k places.
            with driver_cursor(self.conn) as cur:
                sql = f"COPY {table.name} ({', '.join(cols)}) FROM STDIN WITH (FORMAT binary)"
                with cur.copy(sql) as cp:
                    cp.set_types([_pg_type(table.c[c].type) for c in cols])
                    for row in rows:
                        cp.write_row(row)
        elif dialect == "sqlite":
            marks = ", ".join(["?"] * len(cols))
            self.conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({marks})",
                                      rows)
        else:
            self.conn.execute(insert(table), [dict(zip(cols, r, strict=True)) for r in rows])

    def apply_outcomes(self) -> None:
        """Attach each crime's latest outcome (from outcomes files) to its event."""
        for ds in self.touched:
            if self.conn.execute(select(Outcome.id).where(Outcome.dataset_id == ds).limit(1)).first() is None:
                continue
            latest = (
                select(Outcome.outcome)
                .where(Outcome.dataset_id == Event.dataset_id, Outcome.crime_id == Event.event_key)
                .order_by(Outcome.month.desc(), Outcome.id.desc()).limit(1).scalar_subquery()
            )
            latest_month = (
                select(func.max(Outcome.month))
                .where(Outcome.dataset_id == Event.dataset_id, Outcome.crime_id == Event.event_key)
                .scalar_subquery()
            )
            has = select(Outcome.id).where(
                Outcome.dataset_id == Event.dataset_id, Outcome.crime_id == Event.event_key
            ).exists()
            self.conn.execute(
                update(Event).where(and_(Event.dataset_id == ds, has))
                .values(outcome=latest, outcome_month=latest_month)
            )


def ingest(
    engine: Engine,
    paths: list,
    *,
    mapping: ExtractMapping | None = None,
    workers: int | None = None,
    progress: Callable[[FileReport], None] | None = None,
) -> list[FileReport]:
    """Load police.uk files (or a force extract with ``mapping``) into the store.

    Parameters
    ----------
    engine : Engine
        Migrated store.
    paths : list of path
        Files (.csv/.csv.gz), folders (searched recursively) or police.uk archive zips.
    mapping : ExtractMapping, optional
        Column mapping for a force extract; without it files are read as police.uk.
    workers : int, optional
        Processes parsing files in parallel (default: 2, or 1 for a single file).
    progress : callable, optional
        Called with each file's report as it is stored.

    Returns
    -------
    list of FileReport
        One per file, in load order. A file that is not a readable police.uk / extract file is
        reported with status ``"error"`` and nothing of it is stored; everything else in the
        command is stored in one transaction.
    """
    sources = list(iter_sources(paths))
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    slow = int(os.environ.get("GUARDIAN_TEST_SLOW_INGEST_MS", "0") or 0)
    results, pool = _start_parsing(sources, mapping, workers, engine.dialect.name)
    try:
        return _ingest_all(engine, sources, results, slow, progress)
    except UnreadableFile as exc:
        # Raised inside the transaction, which has rolled back: say so, so a user knows a
        # rerun after fixing the file is all that is needed.
        raise UnreadableFile(f"{exc}; nothing was loaded (the store is unchanged)") from exc
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _ingest_all(engine: Engine, sources: list[Source], results, slow: int,
                progress: Callable[[FileReport], None] | None) -> list[FileReport]:
    """Load every parsed source in one transaction (the body of :func:`ingest`)."""
    reports: list[FileReport] = []
    with engine.connect() as conn, _first_load_journal(conn), conn.begin():
        loader = _Loader(conn, slow_ms=slow)
        loader.defer_indexes()
        for src, result in zip(sources, results, strict=True):
            if isinstance(result, str):
                rep = FileReport(name=src.name, status="error", message=result)
            else:
                rep = loader.load(src, *result)
            reports.append(rep)
            if progress is not None:
                progress(rep)
        loader.build_indexes()
        loader.finish_ids()
        loader.apply_outcomes()
        if conn.dialect.name == "postgresql":
            # Planner statistics for the columns queries filter and join on, from the
            # moment the load commits. A sample of 9,000 rows (statistics target 30, not
            # 100: 0.03 s, not 0.09 s, for 254k rows) keeps every value of the columns
            # filtered on (15 months, 14 categories here) among the most common values;
            # autovacuum analyses with the server's own target once the load has landed.
            conn.execute(text("SET LOCAL default_statistics_target = 30"))
            conn.execute(text("ANALYZE events (dataset_id, month, category, place_id, "
                              "source_file_id, key_hash)"))
    return reports


@contextmanager
def _first_load_journal(conn: Connection):
    """On SQLite, run a first load (``events`` empty) with a rollback journal, not the WAL.

    Almost every page a first load writes is new, and a rollback journal keeps only the old
    ones: the rows are written once, where the WAL writes them twice (log, then checkpoint) —
    0.19 s against 0.08 s of commit for the 15 Essex months. Atomicity is the journal's: a crash
    leaves a hot journal that the next opening rolls back. Durability: ``synchronous=FULL``
    meanwhile. If another connection has the file open the switch is refused and the load runs
    in the WAL as any other. The connection goes back to WAL and ``synchronous=NORMAL`` after.
    """
    raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
    switched = False
    if raw is not None:
        empty = conn.execute(select(Event.id).limit(1)).first() is None
        conn.rollback()  # end the read: the journal mode changes outside a transaction
        if empty:
            # Leaving the WAL needs the file to itself: ask once, without waiting.
            wait = raw.execute("PRAGMA busy_timeout").fetchone()[0]
            raw.execute("PRAGMA busy_timeout=0")
            try:
                mode = raw.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
                switched = str(mode).lower() == "delete"
            except sqlite3.OperationalError:  # another connection has the file open
                switched = False
            finally:
                raw.execute(f"PRAGMA busy_timeout={int(wait)}")
            if switched:
                raw.execute("PRAGMA synchronous=FULL")
    try:
        yield
    finally:
        if switched:
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute("PRAGMA synchronous=NORMAL")


def quarantine_frame(engine: Engine, *, dataset: str | None = None) -> pd.DataFrame:
    """Quarantined rows of the files currently in force: file, line, reason, raw."""
    q = (
        select(Dataset.name.label("dataset"), SourceFile.name.label("file"),
               QuarantineRow.line, QuarantineRow.reason, QuarantineRow.raw)
        .join(SourceFile, QuarantineRow.source_file_id == SourceFile.id)
        .join(Dataset, SourceFile.dataset_id == Dataset.id)
        .where(SourceFile.superseded_at.is_(None))
        .order_by(SourceFile.name, QuarantineRow.line)
    )
    if dataset:
        q = q.where(Dataset.name == dataset)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    return pd.DataFrame(rows, columns=["dataset", "file", "line", "reason", "raw"])


def quarantine_csv(frame: pd.DataFrame) -> str:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue()
