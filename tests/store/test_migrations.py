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
