"""initiatives: the initiative (Street Week, day of action, Crime Stoppers Zone, campaign), its
days per district and phase, its outcomes

Revision ID: 0008_initiatives
Revises: 0005
Create Date: 2026-12-06 20:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0008_initiatives'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('initiatives',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('place_kind', sa.String(length=10), nullable=False),
    sa.Column('place', sa.JSON(), nullable=False),
    sa.Column('districts', sa.JSON(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('partners', sa.JSON(), nullable=False),
    sa.Column('band', sa.String(length=5), nullable=False),
    sa.Column('uplift', sa.Float(), nullable=False),
    sa.Column('volunteer_hours', sa.Float(), nullable=False),
    sa.Column('officer_hours', sa.Float(), nullable=False),
    sa.Column('cash_gbp', sa.Float(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'],
                            name=op.f('fk_initiatives_dataset_id_datasets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_initiatives')),
    sa.UniqueConstraint('dataset_id', 'name', name=op.f('uq_initiatives_dataset_name'))
    )
    op.create_table('initiatives_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('initiative_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('phase', sa.String(length=12), nullable=False),
    sa.Column('district', sa.String(length=100), nullable=False),
    sa.Column('band', sa.String(length=5), nullable=False),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiatives.id'],
                            name=op.f('fk_initiatives_days_initiative_id_initiatives')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_initiatives_days')),
    sa.UniqueConstraint('initiative_id', 'day', 'district', 'band',
                        name=op.f('uq_initiatives_days_initiative_day_district_band'))
    )
    op.create_index('ix_initiatives_days_day', 'initiatives_days', ['day'])
    op.create_index(op.f('ix_initiatives_days_initiative_id'), 'initiatives_days',
                    ['initiative_id'])
    op.create_table('initiatives_outcomes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('initiative_id', sa.Integer(), nullable=False),
    sa.Column('measure', sa.String(length=40), nullable=False),
    sa.Column('detail', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_by', sa.String(length=60), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiatives.id'],
                            name=op.f('fk_initiatives_outcomes_initiative_id_initiatives')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_initiatives_outcomes')),
    sa.UniqueConstraint('initiative_id', 'measure', 'detail',
                        name=op.f('uq_initiatives_outcomes_initiative_measure_detail'))
    )
    op.create_index(op.f('ix_initiatives_outcomes_initiative_id'), 'initiatives_outcomes',
                    ['initiative_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_initiatives_outcomes_initiative_id'), table_name='initiatives_outcomes')
    op.drop_table('initiatives_outcomes')
    op.drop_index(op.f('ix_initiatives_days_initiative_id'), table_name='initiatives_days')
    op.drop_index('ix_initiatives_days_day', table_name='initiatives_days')
    op.drop_table('initiatives_days')
    op.drop_table('initiatives')
