"""round two: one head again after the rooms built side by side (Street Safe, volunteers,
initiatives, tag matching, the board report), each of which branched from 0005

Revision ID: 0011_round_two
Revises: 0006_streetsafe, 0007_volunteers, 0008_initiatives, 0009_tagmatch, 0010_board
Create Date: 2026-12-06 21:35:00
"""

revision = '0011_round_two'
down_revision = ('0006_streetsafe', '0007_volunteers', '0008_initiatives', '0009_tagmatch',
                 '0010_board')
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A merge point only: the five branches touch separate tables.
    pass


def downgrade() -> None:
    pass
