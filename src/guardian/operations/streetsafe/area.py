"""The force area a Street Safe page accepts pins in, and the district of a place.

No boundary polygons ship with Guardian, so the area is derived from what is loaded: the places
of the force's recorded crime whose LSOA belongs to the force in the ONS lookup
(``data/reference/lsoa2011.csv.gz``; the force is the one owning most of the places' LSOAs), put on a grid of ``area_cell_m`` cells (1 km by default)
and widened by one ring of cells. A pin is accepted when its grid cell is in that set: anywhere
within one to two cells of a place where the force has recorded crime. Edges are therefore
approximate (a pin just over the border near a busy street is accepted; a pin in an empty
corner of the force with no recorded crime for kilometres is refused) and docs/street-safe.md
says so. The district of a point is that of the nearest such place.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy.spatial import cKDTree
from sqlalchemy import func, select

from guardian.errors import NotFound
from guardian.store.models import Dataset, Place


@dataclass
class ForceArea:
    """The accepted area of one dataset and the nearest-place district lookup."""

    dataset_id: int
    dataset: str
    crs: str
    timezone: str
    area_cell_m: int
    cells: frozenset[tuple[int, int]]
    places: int
    force: str | None = None
    _tree: cKDTree | None = field(repr=False, default=None)
    _districts: np.ndarray | None = field(repr=False, default=None)
    built_at: float = 0.0

    def to_xy(self, lat: float, lon: float) -> tuple[float, float]:
        """Metres in the dataset's CRS of a WGS84 point."""
        x, y = _transformer("EPSG:4326", self.crs).transform(lon, lat)
        return float(x), float(y)

    def to_xy_many(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Metres in the dataset's CRS of WGS84 points (arrays)."""
        x, y = _transformer("EPSG:4326", self.crs).transform(lon, lat)
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)

    def to_latlon(self, x, y):
        """WGS84 (lat, lon) of points in the dataset's CRS (arrays or scalars)."""
        lon, lat = _transformer(self.crs, "EPSG:4326").transform(x, y)
        return lat, lon

    def contains(self, x: float, y: float) -> bool:
        """True when ``(x, y)`` (metres) is in the accepted area."""
        if not np.isfinite(x) or not np.isfinite(y):
            return False
        c = (int(np.floor(x / self.area_cell_m)), int(np.floor(y / self.area_cell_m)))
        return c in self.cells

    def districts(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """District of each point: that of the nearest recorded-crime place of the force."""
        if self._tree is None or len(x) == 0:
            return np.array([""] * len(x), dtype=object)
        _, idx = self._tree.query(np.column_stack([x, y]))
        return self._districts[idx]


_LOCAL = threading.local()


def _transformer(src: str, dst: str) -> Transformer:
    # One per thread: a pyproj Transformer used from a thread other than the one that made it
    # costs about half a millisecond per call (measured), which the intake pays on every pin.
    cache = getattr(_LOCAL, "cache", None)
    if cache is None:
        cache = _LOCAL.cache = {}
    t = cache.get((src, dst))
    if t is None:
        t = cache[(src, dst)] = Transformer.from_crs(src, dst, always_xy=True)
    return t


def resolve_dataset(conn, name: str | None) -> tuple[int, str, str, str]:
    """(id, name, crs, timezone) of the dataset ``name``, or of the one with most places."""
    if name:
        row = conn.execute(select(Dataset.id, Dataset.name, Dataset.crs, Dataset.timezone)
                           .where(Dataset.name == name)).first()
        if row is None:
            raise NotFound(f"no dataset named {name!r} is loaded; load the force's data with "
                           "`guardian ingest` first")
        return tuple(row)
    counts = (select(Place.dataset_id, func.count().label("n")).group_by(Place.dataset_id)
              .subquery())
    row = conn.execute(select(Dataset.id, Dataset.name, Dataset.crs, Dataset.timezone)
                       .outerjoin(counts, counts.c.dataset_id == Dataset.id)
                       .order_by(func.coalesce(counts.c.n, 0).desc(), Dataset.id)).first()
    if row is None:
        raise NotFound("Street Safe is not set up: no force data is loaded, so there is no force "
                       "area to accept pins in (load it with `guardian ingest`)")
    return tuple(row)


def build_area(engine, dataset: str | None, area_cell_m: int) -> ForceArea:
    """Derive the force area from the store (see the module docstring)."""
    from guardian.data.geography import districts_for, lsoa_table

    with engine.connect() as conn:
        ds_id, name, crs, tz = resolve_dataset(conn, dataset)
        rows = conn.execute(select(Place.x, Place.y, Place.lsoa_code)
                            .where(Place.dataset_id == ds_id, Place.x.is_not(None),
                                   Place.y.is_not(None))).all()
    df = pd.DataFrame(rows, columns=["x", "y", "lsoa"])
    # The force is the one owning most of the places' LSOAs (the dataset's name need not be a
    # force's); places in other forces' LSOAs (police.uk files carry a few) are left out.
    ref = lsoa_table().set_index("lsoa_code")["force"]
    owner = df["lsoa"].map(ref)
    force = str(owner.mode().iloc[0]) if owner.notna().any() else None
    if force is not None:
        df = df[owner == force].copy()
        df["district"] = districts_for(df["lsoa"], force).to_numpy()
    else:
        df["district"] = df["lsoa"].astype(str)
    cells: set[tuple[int, int]] = set()
    if len(df):
        base = np.unique(np.floor(df[["x", "y"]].to_numpy() / area_cell_m).astype(np.int64),
                         axis=0)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                cells.update(zip((base[:, 0] + dx).tolist(), (base[:, 1] + dy).tolist(),
                                 strict=True))
    tree = cKDTree(df[["x", "y"]].to_numpy()) if len(df) else None
    return ForceArea(dataset_id=ds_id, dataset=name, crs=crs, timezone=tz,
                     area_cell_m=area_cell_m, cells=frozenset(cells), places=len(df), force=force,
                     _tree=tree, _districts=df["district"].to_numpy(dtype=object),
                     built_at=time.monotonic())
