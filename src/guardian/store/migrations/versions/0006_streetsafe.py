"""streetsafe: reports, client hashes (short-lived), refusal counters, actions

Revision ID: 0006_streetsafe
Revises: 0005
Create Date: 2026-12-06 20:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0006_streetsafe'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('streetsafe_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('x', sa.Float(), nullable=False),
    sa.Column('y', sa.Float(), nullable=False),
    sa.Column('cell_x', sa.Integer(), nullable=False),
    sa.Column('cell_y', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.String(length=200), nullable=False),
    sa.Column('when', sa.String(length=8), nullable=False),
    sa.Column('daynight', sa.String(length=8), nullable=False),
    sa.Column('not_reported', sa.String(length=40), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('source_file_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_streetsafe_reports')),
    sa.UniqueConstraint('key', name=op.f('uq_streetsafe_reports_key'))
    )
    op.create_index('ix_streetsafe_reports_dataset_month', 'streetsafe_reports',
                    ['dataset_id', 'month'])
    op.create_table('streetsafe_clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_streetsafe_clients'))
    )
    op.create_index('ix_streetsafe_clients_client_at', 'streetsafe_clients', ['client', 'at'])
    op.create_index(op.f('ix_streetsafe_clients_at'), 'streetsafe_clients', ['at'])
    op.create_table('streetsafe_refusals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=24), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_streetsafe_refusals')),
    sa.UniqueConstraint('day', 'reason', name=op.f('uq_streetsafe_refusals_day'))
    )
    op.create_table('streetsafe_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('cell_x', sa.Integer(), nullable=False),
    sa.Column('cell_y', sa.Integer(), nullable=False),
    sa.Column('area', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('done_on', sa.Date(), nullable=False),
    sa.Column('created_by', sa.String(length=60), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_streetsafe_actions'))
    )
    op.create_index('ix_streetsafe_actions_cell', 'streetsafe_actions',
                    ['dataset_id', 'cell_x', 'cell_y'])


def downgrade() -> None:
    for t in ("streetsafe_actions", "streetsafe_refusals", "streetsafe_clients",
              "streetsafe_reports"):
        op.drop_table(t)
