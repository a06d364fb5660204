"""volunteers: the registry, availability, import quarantine, mobilisation plans

Revision ID: 0007_volunteers
Revises: 0005
Create Date: 2026-12-06 20:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0007_volunteers'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('volunteers_people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('organisation', sa.String(length=120), nullable=False),
    sa.Column('district', sa.String(length=100), nullable=False),
    sa.Column('also_districts', sa.JSON(), nullable=False),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('accredited_on', sa.Date(), nullable=True),
    sa.Column('accreditation_expiry', sa.Date(), nullable=True),
    sa.Column('date_of_birth', sa.Date(), nullable=True),
    sa.Column('needs_supervision', sa.Boolean(), nullable=False),
    sa.Column('max_shifts', sa.Integer(), nullable=True),
    sa.Column('max_hours', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=60), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteers_people')),
    sa.UniqueConstraint('source_id', name=op.f('uq_volunteers_people_source_id')),
    sa.UniqueConstraint('username', name=op.f('uq_volunteers_people_username'))
    )
    op.create_table('volunteers_quarantine',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('what', sa.String(length=20), nullable=False),
    sa.Column('file_name', sa.Text(), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteers_quarantine')),
    sa.UniqueConstraint('file_sha256', 'line', name='uq_volunteers_quarantine_line')
    )
    op.create_table('volunteers_availability',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('band', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers_people.id'], name=op.f('fk_volunteers_availability_volunteer_id_volunteers_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteers_availability')),
    sa.UniqueConstraint('volunteer_id', 'day', 'band', name='uq_volunteers_availability_slot')
    )
    op.create_index('ix_volunteers_availability_day', 'volunteers_availability', ['day'], unique=False)
    op.create_table('volunteers_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=60), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('method', sa.String(length=12), nullable=False),
    sa.Column('objective', sa.Integer(), nullable=False),
    sa.Column('bound', sa.Float(), nullable=True),
    sa.Column('gap', sa.Float(), nullable=True),
    sa.Column('coverage', sa.Float(), nullable=False),
    sa.Column('demand', sa.Float(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('basis', sa.JSON(), nullable=False),
    sa.Column('blocked_by', sa.JSON(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_volunteers_plans_dataset_id_datasets')),
    sa.ForeignKeyConstraint(['parent_id'], ['volunteers_plans.id'], name=op.f('fk_volunteers_plans_parent_id_volunteers_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteers_plans'))
    )
    op.create_table('volunteers_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('volunteer_id', sa.Integer(), nullable=False),
    sa.Column('district', sa.String(length=100), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('band', sa.Integer(), nullable=False),
    sa.Column('why', sa.Text(), nullable=False),
    sa.Column('fixed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['volunteers_plans.id'], name=op.f('fk_volunteers_assignments_plan_id_volunteers_plans')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteers_people.id'], name=op.f('fk_volunteers_assignments_volunteer_id_volunteers_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteers_assignments')),
    sa.UniqueConstraint('plan_id', 'volunteer_id', 'day', 'band', name='uq_volunteers_assignments_slot')
    )
    op.create_index('ix_volunteers_assignments_volunteer', 'volunteers_assignments', ['volunteer_id'], unique=False)
    op.create_table('volunteers_plan_slots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('district', sa.String(length=100), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('band', sa.Integer(), nullable=False),
    sa.Column('demand', sa.Float(), nullable=False),
    sa.Column('need', sa.Integer(), nullable=False),
    sa.Column('min_people', sa.Integer(), nullable=False),
    sa.Column('max_people', sa.Integer(), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['volunteers_plans.id'], name=op.f('fk_volunteers_plan_slots_plan_id_volunteers_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteers_plan_slots')),
    sa.UniqueConstraint('plan_id', 'district', 'day', 'band', name='uq_volunteers_plan_slots_key')
    )


def downgrade() -> None:
    for t in ('volunteers_plan_slots', 'volunteers_assignments', 'volunteers_plans', 'volunteers_availability', 'volunteers_quarantine', 'volunteers_people'):
        op.drop_table(t)
