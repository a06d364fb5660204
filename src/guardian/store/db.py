"""Engines and migrations. SQLite file by default, PostgreSQL by URL; same models, same
Alembic migrations."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, inspect

from guardian.config import get_settings
from guardian.errors import InputError


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    loc = resources.files("guardian.store") / "migrations"
    cfg.set_main_option("script_location", str(loc))
    cfg.attributes["connection"] = None
    cfg.attributes["engine"] = engine
    return cfg


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL + NORMAL sync: a crash loses no committed transaction and never leaves half of one.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # Big page cache: loading 250k rows updates several indexes on random keys.
    cur.execute("PRAGMA cache_size=-262144")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (no migration). SQLite files get WAL and foreign keys."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        # The driver's own transaction handling opens a transaction only before INSERT,
        # UPDATE or DELETE, so a DDL statement (a load drops and rebuilds indexes) or the
        # reads before the first write would run outside it. SQLAlchemy's recipe: the driver
        # does nothing implicit, and every SQLAlchemy transaction starts with BEGIN.
        # A transaction that will write asks for ``immediate`` (see :func:`write_begin`): BEGIN
        # IMMEDIATE takes the write lock up front, so concurrent writers wait their turn
        # (busy timeout) instead of failing with "database is locked" when a reader upgrades.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(
            "BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN"))
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def write_begin(bind: Engine | Connection):
    """A transaction that will write: on an Engine, ``BEGIN IMMEDIATE`` on SQLite (a plain
    BEGIN elsewhere); on a Connection, a savepoint in its transaction."""
    if isinstance(bind, Engine):
        return bind.execution_options(immediate=True).begin()
    return bind.begin_nested()


def read_connection(bind: Engine | Connection):
    """A context for reads that take no write lock: a new connection on an Engine, the
    caller's own connection (and transaction) on a Connection."""
    if isinstance(bind, Engine):
        return bind.connect()
    return contextlib.nullcontext(bind)


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision."""
    with engine.begin() as conn:
        cfg = _alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def get_engine(url: str | None = None, *, upgrade: bool = True) -> Engine:
    """Engine for ``url`` (default: settings), migrated to the latest schema.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL; default ``GUARDIAN_DATABASE_URL`` or SQLite under ``GUARDIAN_HOME``.
    upgrade : bool
        Run migrations (default True).
    """
    engine = make_engine(url or get_settings().database_url)
    if upgrade:
        migrate(engine)
    return engine


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())


@contextmanager
def begin(bind: Engine | Connection) -> Iterator[Connection]:
    """A connection in a transaction: a new one for an Engine (committed on success), or the
    caller's own Connection as it is (its transaction is the caller's)."""
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            yield conn
    elif isinstance(bind, Connection):
        yield bind
    else:
        raise InputError(f"expected a SQLAlchemy Engine or Connection, got {type(bind).__name__}")


def fetch_raw(conn: Connection, query) -> list[tuple]:
    """Rows of a SELECT through the driver's own cursor, as plain tuples.

    For bulk reads (hundreds of thousands of rows): SQLAlchemy's per-row result processing
    costs about a microsecond a row, more than the database read. Bound values must be plain
    numbers or strings (they are written into the SQL).
    """
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    with driver_cursor(conn) as cur:
        cur.execute(sql)
        return cur.fetchall()


@contextmanager
def driver_cursor(conn: Connection) -> Iterator:
    """The driver's own cursor on ``conn``, closed after.

    An interrupt (Ctrl-C, SIGTERM made SystemExit) mid-statement invalidates the connection:
    the driver may still have the statement in flight, and the ROLLBACK that SQLAlchemy would
    send on the way out then fails ("another command is already in progress") with a traceback
    from the pool. Closing the connection instead ends the server's transaction just as surely.
    SQLAlchemy does the same for statements it runs itself.
    """
    cur = conn.connection.driver_connection.cursor()
    try:
        yield cur
    except BaseException as exc:
        # The cursor first: SQLite defers closing a connection whose statements are unfinished
        # (its locks with it); psycopg's close sends nothing.
        cur.close()
        if not isinstance(exc, Exception):
            conn.invalidate()
        raise
    cur.close()
