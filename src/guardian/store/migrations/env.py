"""Alembic environment: runs on the connection Guardian hands over (no URL in an ini file)."""

from __future__ import annotations

from alembic import context

import guardian.operations.accounts.models  # noqa: F401
import guardian.operations.audit.models  # noqa: F401
import guardian.operations.board.models  # noqa: F401
import guardian.operations.cocoons.models  # noqa: F401
import guardian.operations.initiatives.models  # noqa: F401
import guardian.operations.patrols.models  # noqa: F401
import guardian.operations.streetsafe.models  # noqa: F401
import guardian.operations.tagmatch.models  # noqa: F401
import guardian.operations.tasks.models  # noqa: F401
import guardian.operations.volunteers.models  # noqa: F401
import guardian.store.models  # noqa: F401  (register tables)
from guardian.store.base import Base

target_metadata = Base.metadata


def run() -> None:
    conn = context.config.attributes.get("connection")
    if conn is None:
        engine = context.config.attributes["engine"]
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata,
                              render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
        return
    context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
