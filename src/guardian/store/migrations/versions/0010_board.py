"""board report: the analyst's text per section, versioned

Revision ID: 0010_board
Revises: 0005
Create Date: 2026-12-06 20:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0010_board'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('board_texts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('force', sa.String(length=100), nullable=False),
    sa.Column('quarter', sa.String(length=6), nullable=False),
    sa.Column('section', sa.String(length=80), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('author', sa.String(length=60), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_board_texts')),
    sa.UniqueConstraint('force', 'quarter', 'section', 'version',
                        name='uq_board_texts_force_quarter_section_version')
    )


def downgrade() -> None:
    op.drop_table('board_texts')
