"""An interrupt while the driver has a statement in flight leaves no traceback and no write."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from guardian.store.db import driver_cursor, fetch_raw


@pytest.fixture
def scratch(engine):
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE scratch (n integer)"))
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE scratch"))


def _in_flight(conn, cur) -> None:
    """Leave a statement running in the driver, as Ctrl-C can between send and result."""
    if conn.dialect.name == "postgresql":
        conn.connection.driver_connection.pgconn.send_query(b"SELECT pg_sleep(0.2)")
    else:
        cur.execute("SELECT 1")


def test_interrupt_mid_statement_closes_the_connection_and_writes_nothing(scratch, caplog):
    caplog.set_level(logging.ERROR, logger="sqlalchemy.pool")
    with pytest.raises(KeyboardInterrupt):
        with scratch.connect() as conn, conn.begin():
            conn.execute(text("INSERT INTO scratch VALUES (1)"))
            with driver_cursor(conn) as cur:
                _in_flight(conn, cur)
                raise KeyboardInterrupt
    # The pool's "Exception during reset" is what printed a traceback under Ctrl-C.
    assert not [r for r in caplog.records if "reset" in r.getMessage()], caplog.text
    with scratch.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM scratch")).scalar() == 0


def test_an_ordinary_error_keeps_the_connection_and_its_rollback(scratch):
    with scratch.connect() as conn:
        with pytest.raises(ValueError), conn.begin():
            conn.execute(text("INSERT INTO scratch VALUES (1)"))
            with driver_cursor(conn):
                raise ValueError("bad row")
        assert not conn.invalidated
        assert conn.execute(text("SELECT count(*) FROM scratch")).scalar() == 0
        assert fetch_raw(conn, text("SELECT 2").columns()) == [(2,)]
