"""tagmatch: trail imports, their quarantine, proximity hits for review

Revision ID: 0009_tagmatch
Revises: 0005
Create Date: 2026-12-06 21:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0009_tagmatch'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tagmatch_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('loaded', sa.Integer(), nullable=False),
    sa.Column('quarantined', sa.Integer(), nullable=False),
    sa.Column('first_at', sa.DateTime(), nullable=True),
    sa.Column('last_at', sa.DateTime(), nullable=True),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tagmatch_imports')),
    sa.UniqueConstraint('sha256', name=op.f('uq_tagmatch_imports_sha256'))
    )
    op.create_table('tagmatch_quarantine',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tagmatch_quarantine'))
    )
    op.create_index(op.f('ix_tagmatch_quarantine_import_id'), 'tagmatch_quarantine',
                    ['import_id'])
    op.create_table('tagmatch_hits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset', sa.String(length=120), nullable=False),
    sa.Column('crime_id', sa.String(length=100), nullable=False),
    sa.Column('category', sa.String(length=60), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('crime_x', sa.Float(), nullable=False),
    sa.Column('crime_y', sa.Float(), nullable=False),
    sa.Column('distance_m', sa.Float(), nullable=False),
    sa.Column('time_diff_s', sa.Integer(), nullable=False),
    sa.Column('dwell_s', sa.Integer(), nullable=False),
    sa.Column('n_points', sa.Integer(), nullable=False),
    sa.Column('first_at', sa.DateTime(), nullable=False),
    sa.Column('last_at', sa.DateTime(), nullable=False),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.String(length=60), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tagmatch_hits')),
    sa.UniqueConstraint('dataset', 'crime_id', 'subject', name='uq_tagmatch_hits_crime_subject')
    )
    op.create_index('ix_tagmatch_hits_status', 'tagmatch_hits', ['status', 'created_at'])


def downgrade() -> None:
    for t in ('tagmatch_hits', 'tagmatch_quarantine', 'tagmatch_imports'):
        op.drop_table(t)
