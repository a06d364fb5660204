"""A small hand-made force for the initiatives tests: two districts, a few places, known counts.

Places (British National Grid metres; LSOA gives the district):

* Southend (district "Southend-on-Sea UA"): place 1 at (585100, 186100) and place 2 at
  (585300, 186300) - both in 500 m cell (1170, 372); place 3 at (586100, 186100) in cell
  (1172, 372).
* Basildon (district "Basildon"): place 4 at (570100, 189100) in cell (1140, 378).

Events are added per test with :func:`add_events`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select

from guardian.data.geography import lsoa_table
from guardian.store.bulk import key_hash
from guardian.store.models import Dataset, Event, Place

DS = "Essex Police"
PLACES = {1: (585100.0, 186100.0, "Southend-on-Sea UA"), 2: (585300.0, 186300.0, "Southend-on-Sea UA"),
          3: (586100.0, 186100.0, "Southend-on-Sea UA"), 4: (570100.0, 189100.0, "Basildon")}


def _lsoa(lad: str) -> str:
    t = lsoa_table()
    return str(t[(t.force == "Essex") & (t.lad_name == lad)].iloc[0].lsoa_code)


def seed(engine) -> dict[int, int]:
    """Create the dataset (unless there) and places; returns our place number -> place id."""
    with engine.begin() as conn:
        ds = conn.execute(select(Dataset.id).where(Dataset.name == DS)).scalar()
        if ds is None:
            ds = conn.execute(insert(Dataset).values(
                name=DS, kind="police.uk", crs="EPSG:27700", timezone="Europe/London",
                created_at=datetime(2026, 1, 1)).returning(Dataset.id)).scalar_one()
        ids = {}
        for k, (x, y, lad) in PLACES.items():
            ids[k] = conn.execute(insert(Place).values(
                dataset_id=ds, x=x, y=y, lon=None, lat=None, location=f"On or near {k}",
                lsoa_code=_lsoa(lad), lsoa_name="").returning(Place.id)).scalar_one()
    return ids


def add_events(engine, rows: list[tuple[int, str, str, int]], ids: dict[int, int]) -> None:
    """``rows``: (place number, month, category, count)."""
    with engine.begin() as conn:
        ds = conn.execute(select(Dataset.id).where(Dataset.name == DS)).scalar_one()
        n0 = conn.execute(select(Event.id)).all()
        seq = len(n0)
        batch = []
        for place, month, cat, count in rows:
            for _ in range(count):
                seq += 1
                key = f"e{seq}"
                batch.append({"dataset_id": ds, "event_key": key, "key_hash": key_hash(key, DS),
                              "month": month, "occurred_local": datetime.fromisoformat(month + "-01"),
                              "time_precision": "month", "category": cat, "dwelling": None,
                              "place_id": ids[place], "outcome": "", "outcome_month": None,
                              "source_file_id": 1, "source_line": seq})
        if batch:
            conn.execute(insert(Event), batch)
