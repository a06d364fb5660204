"""The Alembic migrations build exactly the schema the models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import guardian.operations.cocoons.models  # noqa: F401
import guardian.operations.patrols.models  # noqa: F401
from guardian.store.base import Base
from guardian.store.db import migrate


def test_migrated_schema_matches_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrate_is_idempotent(engine):
    migrate(engine)  # already at head: nothing to do, no error
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_0004_gives_stored_events_their_key_hash(store_url):
    """A store loaded before revision 0004 keeps its events and gets their hashes."""
    from alembic import command
    from sqlalchemy import text

    from guardian.store.bulk import key_hash
    from guardian.store.db import _alembic_config, make_engine

    engine = make_engine(store_url)
    keys = ["a1" * 32, "asb-" + "c" * 32]
    with engine.begin() as conn:
        cfg = _alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        for i, k in enumerate(keys):
            conn.execute(text(
                "INSERT INTO events (dataset_id, event_key, month, occurred_local, time_precision,"
                " category, location, lsoa_code, lsoa_name, outcome, source_file_id, source_line)"
                " VALUES (1, :k, '2021-12', '2021-12-01 00:00:00', 'month', 'Burglary', '', '', '',"
                " '', 1, :line)"), {"k": k, "line": i + 2})
    migrate(engine)
    with engine.connect() as conn:
        got = conn.execute(text("SELECT event_key, key_hash FROM events ORDER BY source_line")).all()
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert [tuple(r) for r in got] == [(k, key_hash(k)) for k in keys]
    engine.dispose()
