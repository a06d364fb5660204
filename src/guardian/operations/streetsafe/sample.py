"""Synthetic Street Safe data: a small force area and a real-shaped export, for tests,
benchmarks and demonstrations. Nothing here is real: the places are a regular grid over two
boxes of Essex (Basildon and Chelmsford town centres, British National Grid) tagged with one
real LSOA code of each authority so the districts resolve; the export's pins and reasons are
drawn from a seeded random generator."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import numpy as np
from pyproj import Transformer
from sqlalchemy import insert

from guardian.operations.streetsafe.config import REASONS
from guardian.store.db import write_begin
from guardian.store.models import Dataset, Event, Place

BOXES = {
    # district: (x0, y0, x1, y1) metres EPSG:27700, an LSOA code of that authority
    "Basildon": ((569000, 186000, 576000, 192000), "E01021237"),
    "Chelmsford": ((568000, 204000, 573000, 209000), "E01021533"),
}
BASILDON_CENTRE = (51.5705, 0.4573)  # lat, lon: inside the Basildon box
CHELMSFORD_CENTRE = (51.7356, 0.4685)
LONDON = (51.5074, -0.1278)  # outside Essex Police's area


def seed_force(engine, *, name: str = "Essex Police", step_m: int = 250,
               crimes_per_place: int = 1, month: str = "2021-12",
               districts: tuple[str, ...] = tuple(BOXES)) -> int:
    """Write a dataset with a grid of places over the :data:`BOXES` of ``districts`` and
    ``crimes_per_place`` recorded crimes at each (``month``). Returns the dataset id."""
    to_ll = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    now = datetime(2026, 12, 1)
    with write_begin(engine) as conn:
        ds = conn.execute(insert(Dataset).values(name=name, kind="police.uk", crs="EPSG:27700",
                                                 timezone="Europe/London", created_at=now)
                          .returning(Dataset.id)).scalar_one()
        places = []
        for district in districts:
            (x0, y0, x1, y1), lsoa = BOXES[district]
            for x in range(x0, x1 + 1, step_m):
                for y in range(y0, y1 + 1, step_m):
                    lon, lat = to_ll.transform(x + 0.5, y + 0.5)
                    places.append({"dataset_id": ds, "x": x + 0.5, "y": y + 0.5, "lon": lon,
                                   "lat": lat, "location": f"On or near {district} grid",
                                   "lsoa_code": lsoa, "lsoa_name": f"{district} 001A"})
        conn.execute(insert(Place), places)
        from sqlalchemy import select

        ids = conn.execute(select(Place.id).where(Place.dataset_id == ds)
                           .order_by(Place.id)).scalars().all()
        events = []
        for i, pid in enumerate(ids):
            for j in range(crimes_per_place):
                events.append({"dataset_id": ds, "event_key": f"syn-{i}-{j}",
                               "key_hash": ds * 10_000_000 + i * 10 + j, "month": month,
                               "occurred_local": datetime(2021, 12, 1),
                               "time_precision": "month", "category": "anti-social-behaviour",
                               "dwelling": None, "place_id": pid, "outcome": "",
                               "outcome_month": None, "source_file_id": 0,
                               "source_line": i + 2})
        if events:
            conn.execute(insert(Event), events)
    return ds


def synthetic_export(n: int = 60, *, seed: int = 11) -> str:
    """A CSV in the shape of a force's Street Safe export: ``lat, lon, reasons, timestamp``.

    ``n`` good rows (two hot places in Basildon and one in Chelmsford, and scattered pins), then
    four rows that must be quarantined (outside the area, unknown reason, bad timestamp, no
    coordinates) and one exact duplicate of the first row."""
    rng = np.random.default_rng(seed)
    to_ll = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    hot = [(572100, 189100), (573600, 190600), (570600, 206600)]
    codes = list(REASONS)
    labels = list(REASONS.values())
    start = datetime(2026, 9, 1, tzinfo=UTC)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["lat", "lon", "reasons", "timestamp"])
    rows = []
    for i in range(n):
        if i % 5 == 4:  # scattered over the Basildon box
            x, y = rng.uniform(569500, 575500), rng.uniform(186500, 191500)
        else:
            cx, cy = hot[i % 3]
            x, y = cx + rng.uniform(-90, 90), cy + rng.uniform(-90, 90)
        lon, lat = to_ll.transform(x, y)
        k = int(rng.integers(1, 4))
        pick = sorted(set(rng.choice(len(codes), size=k, replace=False).tolist()))
        # a force's export may give codes or labels: mix both
        reasons = ";".join(labels[p] if i % 2 else codes[p] for p in pick)
        ts = start + timedelta(minutes=int(rng.integers(0, 90 * 24 * 60)))
        rows.append([f"{lat:.6f}", f"{lon:.6f}", reasons, ts.strftime("%Y-%m-%dT%H:%M:%SZ")])
    for r in rows:
        w.writerow(r)
    w.writerow([f"{LONDON[0]}", f"{LONDON[1]}", "badly-lit", "2026-10-01T21:00:00Z"])
    w.writerow(rows[1][:2] + ["dragons", "2026-10-01T21:00:00Z"])
    w.writerow(rows[2][:3] + ["yesterday-ish"])
    w.writerow(["", "", "followed", "2026-10-02T22:00:00Z"])
    w.writerow(rows[0])
    return buf.getvalue()
