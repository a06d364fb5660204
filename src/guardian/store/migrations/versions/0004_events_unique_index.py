"""events: the (dataset, key) uniqueness becomes a unique index

A first load into an empty events table drops the table's two indexes and builds them once at
the end (sorting beats 250k random B-tree inserts); SQLite cannot drop a table constraint, so
the uniqueness moves from a constraint to a unique index of the same name.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 12:10:00
"""

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events') as batch:
        batch.drop_constraint('uq_events_dataset_key', type_='unique')
    op.create_index('uq_events_dataset_key', 'events', ['dataset_id', 'event_key'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_events_dataset_key', table_name='events')
    with op.batch_alter_table('events') as batch:
        batch.create_unique_constraint('uq_events_dataset_key', ['dataset_id', 'event_key'])
