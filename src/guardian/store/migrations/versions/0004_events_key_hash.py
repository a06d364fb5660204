"""events: places apart, uniqueness on a 64-bit key hash as a unique index

Shaped for bulk loading (a 250k-row load spends its time writing rows and indexes):

* A place (map point or extract coordinates, with its LSOA) is stored once in ``places`` and
  events refer to it, instead of every crime repeating seven columns.
* Uniqueness moves from the (dataset, event_key) table constraint to a unique index on
  key_hash, a 64-bit hash of the dataset and key: SQLite cannot drop a table constraint, and a
  first load into an empty table drops the index and builds it once at the end; one integer
  column builds in a third of the time of (dataset, 64-character text).

Stored events get their hash and place here.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 12:10:00
"""

import pandas as pd
import sqlalchemy as sa
from alembic import op

from guardian.store.bulk import key_hashes

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

PLACE = ('x', 'y', 'lon', 'lat', 'location', 'lsoa_code', 'lsoa_name')


def upgrade() -> None:
    op.create_table(
        'places',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dataset_id', sa.Integer(), nullable=False),
        sa.Column('x', sa.Float(), nullable=True),
        sa.Column('y', sa.Float(), nullable=True),
        sa.Column('lon', sa.Float(), nullable=True),
        sa.Column('lat', sa.Float(), nullable=True),
        sa.Column('location', sa.Text(), nullable=False),
        sa.Column('lsoa_code', sa.String(length=12), nullable=False),
        sa.Column('lsoa_name', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_places')),
    )
    op.create_index('ix_places_dataset', 'places', ['dataset_id'], unique=False)
    op.add_column('events', sa.Column('key_hash', sa.BigInteger(), nullable=True))
    op.add_column('events', sa.Column('place_id', sa.Integer(), nullable=True))
    _move_places_and_hash(op.get_bind())
    with op.batch_alter_table('events') as batch:
        batch.drop_constraint('uq_events_dataset_key', type_='unique')
        for c in PLACE:
            batch.drop_column(c)
        batch.alter_column('key_hash', existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column('place_id', existing_type=sa.Integer(), nullable=False)
    op.create_index('uq_events_key_hash', 'events', ['key_hash'], unique=True)


def _move_places_and_hash(conn) -> None:
    events = sa.table('events', *(sa.column(c) for c in ('id', 'dataset_id', 'event_key',
                                                            'key_hash', 'place_id', *PLACE)))
    places = sa.table('places', *(sa.column(c) for c in ('id', 'dataset_id', *PLACE)))
    rows = conn.execute(sa.select(events.c.id, events.c.dataset_id, events.c.event_key,
                                  *(events.c[c] for c in PLACE))).all()
    if not rows:
        return
    ev = pd.DataFrame(rows, columns=['id', 'dataset_id', 'event_key', *PLACE])
    datasets = sa.table('datasets', sa.column('id'), sa.column('name'))
    names = dict(conn.execute(sa.select(datasets.c.id, datasets.c.name)).all())
    ev['key_hash'] = 0
    for ds, idx in ev.groupby('dataset_id').groups.items():
        ev.loc[idx, 'key_hash'] = key_hashes(ev.loc[idx, 'event_key'].to_numpy(dtype=object),
                                             names.get(ds, ''))
    # One place per distinct (dataset, point, location, LSOA); NULL coordinates compare equal.
    ev['place_id'] = ev.groupby(['dataset_id', *PLACE], dropna=False, sort=False).ngroup() + 1
    first = ev.drop_duplicates('place_id')
    conn.execute(places.insert(), [
        {'id': int(r.place_id), 'dataset_id': int(r.dataset_id),
         **{c: (None if c in ('x', 'y', 'lon', 'lat') and pd.isna(getattr(r, c)) else getattr(r, c))
            for c in PLACE}}
        for r in first.itertuples()])
    conn.execute(events.update().where(events.c.id == sa.bindparam('row_id'))
                 .values(key_hash=sa.bindparam('h'), place_id=sa.bindparam('p')),
                 [{'row_id': int(i), 'h': int(h), 'p': int(p)} for i, h, p in
                  zip(ev['id'], ev['key_hash'], ev['place_id'], strict=True)])
    if conn.dialect.name == 'postgresql':
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('places', 'id'), "
                             "(SELECT max(id) FROM places))"))


def downgrade() -> None:
    op.drop_index('uq_events_key_hash', table_name='events')
    with op.batch_alter_table('events') as batch:
        for c in ('x', 'y', 'lon', 'lat'):
            batch.add_column(sa.Column(c, sa.Float(), nullable=True))
        batch.add_column(sa.Column('location', sa.Text(), nullable=False, server_default=''))
        batch.add_column(sa.Column('lsoa_code', sa.String(12), nullable=False, server_default=''))
        batch.add_column(sa.Column('lsoa_name', sa.String(100), nullable=False, server_default=''))
    conn = op.get_bind()
    for c in PLACE:
        conn.execute(sa.text(f"UPDATE events SET {c} = (SELECT p.{c} FROM places p "
                             "WHERE p.id = events.place_id)"))
    with op.batch_alter_table('events') as batch:
        batch.drop_column('place_id')
        batch.drop_column('key_hash')
        batch.create_unique_constraint('uq_events_dataset_key', ['dataset_id', 'event_key'])
    op.drop_index('ix_places_dataset', table_name='places')
    op.drop_table('places')
