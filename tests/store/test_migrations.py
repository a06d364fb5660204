"""The Alembic migrations build exactly the schema the models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import guardian.operations.cocoons.models  # noqa: F401
import guardian.operations.patrols.models  # noqa: F401
from guardian.store.base import Base
from guardian.store.db import migrate


def test_migrated_schema_matches_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrate_is_idempotent(engine):
    migrate(engine)  # already at head: nothing to do, no error
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_0004_gives_stored_events_their_key_hash_and_place(store_url):
    """A store loaded before revision 0004 keeps its events; each gets its hash, and the
    places its rows repeated are stored once (a missing point is a place too)."""
    from alembic import command
    from sqlalchemy import text

    from guardian.store.bulk import key_hash
    from guardian.store.db import _alembic_config, make_engine

    engine = make_engine(store_url)
    rows = [("a1" * 32, 571234.5, 201000.25, 0.5, 51.75, "On or near A", "E01000001", "Barking 001A"),
            ("asb-" + "c" * 32, None, None, None, None, "No Location", "", ""),
            ("b2" * 32, 571234.5, 201000.25, 0.5, 51.75, "On or near A", "E01000001", "Barking 001A")]
    with engine.begin() as conn:
        cfg = _alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
        conn.execute(text("INSERT INTO datasets (id, name, kind, crs, timezone, created_at) VALUES "
                          "(1, 'Essex Police', 'police.uk', 'EPSG:27700', 'Europe/London', "
                          "'2026-11-24 00:00:00')"))
        for i, (k, x, y, lon, lat, loc, code, name) in enumerate(rows):
            conn.execute(text(
                "INSERT INTO events (dataset_id, event_key, month, occurred_local, time_precision,"
                " category, dwelling, x, y, lon, lat, location, lsoa_code, lsoa_name, outcome,"
                " source_file_id, source_line) VALUES (1, :k, '2021-12', '2021-12-01 00:00:00',"
                " 'month', 'Burglary', NULL, :x, :y, :lon, :lat, :loc, :code, :name, '', 1, :line)"),
                {"k": k, "x": x, "y": y, "lon": lon, "lat": lat, "loc": loc, "code": code,
                 "name": name, "line": i + 2})
    migrate(engine)
    with engine.connect() as conn:
        got = conn.execute(text(
            "SELECT e.event_key, p.x, p.y, p.lon, p.lat, p.location, p.lsoa_code, p.lsoa_name,"
            " e.key_hash FROM events e JOIN places p ON p.id = e.place_id ORDER BY e.source_line"
        )).all()
        n_places = conn.execute(text("SELECT count(*) FROM places")).scalar_one()
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert [tuple(r) for r in got] == [(*r, key_hash(r[0], "Essex Police")) for r in rows]
    assert n_places == 2
    engine.dispose()


def test_one_head():
    # Rooms may branch from the same revision while built side by side; a merge revision
    # brings them back to one head, so `upgrade head` means one thing.
    from alembic.script import ScriptDirectory

    from guardian.store.db import _alembic_config
    from guardian.store.db import get_engine as _get_engine

    cfg = _alembic_config(_get_engine("sqlite://", upgrade=False))
    assert ScriptDirectory.from_config(cfg).get_heads() == ["0011_round_two"]
