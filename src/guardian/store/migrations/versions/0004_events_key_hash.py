"""events: uniqueness on a 64-bit key hash, as a unique index

A first load into an empty events table drops the table's two indexes and builds them once at
the end (sorting beats 250k random B-tree inserts); SQLite cannot drop a table constraint, so
the uniqueness moves from a constraint to a unique index, and onto ``key_hash`` (an integer
index builds in half the time of one on 64-character text). Stored events get their hash here.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 12:10:00
"""

import numpy as np
import sqlalchemy as sa
from alembic import op

from guardian.store.bulk import key_hashes

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('events', sa.Column('key_hash', sa.BigInteger(), nullable=True))
    conn = op.get_bind()
    events = sa.table('events', sa.column('id', sa.Integer), sa.column('event_key', sa.String),
                      sa.column('key_hash', sa.BigInteger))
    rows = conn.execute(sa.select(events.c.id, events.c.event_key)).all()
    if rows:
        hashes = key_hashes(np.array([r.event_key for r in rows], dtype=object))
        conn.execute(events.update().where(events.c.id == sa.bindparam('row_id'))
                     .values(key_hash=sa.bindparam('h')),
                     [{'row_id': r.id, 'h': int(h)} for r, h in zip(rows, hashes, strict=True)])
    with op.batch_alter_table('events') as batch:
        batch.drop_constraint('uq_events_dataset_key', type_='unique')
        batch.alter_column('key_hash', existing_type=sa.BigInteger(), nullable=False)
    op.create_index('uq_events_dataset_key', 'events', ['dataset_id', 'key_hash'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_events_dataset_key', table_name='events')
    with op.batch_alter_table('events') as batch:
        batch.drop_column('key_hash')
        batch.create_unique_constraint('uq_events_dataset_key', ['dataset_id', 'event_key'])
