"""Where an initiative is: a polygon (GeoJSON, British National Grid or WGS84), a list of grid
cells, or whole districts; which districts it touches; whether it lies inside the force; which
of the store's places (map points) are in it.

The store holds no force boundary, so "inside the force" is judged from the force's own recorded
places (police.uk map points or extract coordinates, with their LSOA): a polygon or cell set is
inside when it contains at least one of the force's places, or its centre lies within
:data:`NEAR_M` metres of one. That refuses a polygon drawn in the wrong county (or lon/lat typed
in the wrong order) but cannot refuse one a few hundred metres over the boundary.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry import box, mapping, shape
from shapely.ops import unary_union
from sqlalchemy import Connection, select

from guardian.data.geography import (
    OUTSIDE,
    district_grouping,
    districts_for,
    force_short_name,
    forces,
)
from guardian.data.names import matching_names
from guardian.errors import InputError
from guardian.store.models import Place

NEAR_M = 1000.0
"""A polygon with no recorded place inside must have its centre this close to one (metres)."""

MAX_CELLS = 5000
NO_DISTRICT = "(no district)"


def force_districts(dataset_name: str) -> list[str]:
    """Policing districts of the dataset's force (empty for a force not in the reference
    tables, e.g. an extract of a non-English force)."""
    short = force_short_name(dataset_name)
    if short not in forces():
        return []
    return sorted(set(district_grouping(short).values()))


def _reproject(geom: shapely.Geometry, t: Transformer) -> shapely.Geometry:
    return shapely.transform(geom, lambda c: np.column_stack(t.transform(c[:, 0], c[:, 1])))


def _lonlat_like(coords: np.ndarray) -> bool:
    return bool(np.all(np.abs(coords[:, 0]) <= 180) and np.all(np.abs(coords[:, 1]) <= 90))


def _all_coords(geom) -> np.ndarray:
    return np.asarray(shapely.get_coordinates(geom), dtype=float)


def parse_polygon(value: Any, crs: str) -> shapely.Geometry:
    """A GeoJSON polygon (geometry, Feature or FeatureCollection, text or dict) as a shapely
    geometry in ``crs`` (the dataset's CRS, metres).

    Coordinates that all look like longitude/latitude (|x| <= 180, |y| <= 90) are read as WGS84
    and projected; others are taken to be in ``crs`` already (British National Grid for
    police.uk). Raises :class:`InputError` on anything that is not a valid, non-empty polygon.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InputError(f"area: not GeoJSON ({exc.msg} at character {exc.pos})") from exc
    if not isinstance(value, dict):
        raise InputError("area: expected a GeoJSON object (Polygon, MultiPolygon, Feature or "
                         "FeatureCollection)")
    kind = value.get("type")
    try:
        if kind == "FeatureCollection":
            geoms = [shape(f["geometry"]) for f in value.get("features", [])]
            geom = unary_union(geoms) if geoms else None
        elif kind == "Feature":
            geom = shape(value["geometry"])
        else:
            geom = shape(value)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"area: not a GeoJSON geometry ({exc})") from exc
    if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        got = "nothing" if geom is None or geom.is_empty else geom.geom_type
        raise InputError(f"area: expected a Polygon or MultiPolygon, got {got}")
    coords = _all_coords(geom)
    if not np.isfinite(coords).all():
        raise InputError("area: coordinates must be finite numbers")
    if _lonlat_like(coords):
        t = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        geom = _reproject(geom, t)
    if not geom.is_valid:
        raise InputError(f"area: the polygon is not valid ({shapely.is_valid_reason(geom)}); "
                         "check that its edges do not cross")
    if geom.area <= 0:
        raise InputError("area: the polygon has no area")
    return geom


def parse_cells(value: Any) -> dict[str, Any]:
    """Grid cells ``{"cell_m": 250, "cells": [[i, j], ...]}`` (cell ``(i, j)`` covers
    ``i*cell_m <= x < (i+1)*cell_m`` and the same for y, in the dataset's CRS), or text
    ``"250:2345_891,2346_891"``. Returns the normalised dict (cells sorted, unique)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(f"cells: not JSON ({exc.msg})") from exc
        else:
            size, _, rest = text.partition(":")
            try:
                cells = [[int(a) for a in c.split("_")] for c in rest.split(",") if c.strip()]
                value = {"cell_m": float(size), "cells": cells}
            except ValueError as exc:
                raise InputError(f"cells {value!r}: expected CELL_M:I_J,I_J,... "
                                 "(e.g. 250:2345_891,2346_891)") from exc
    if not isinstance(value, dict) or "cells" not in value or "cell_m" not in value:
        raise InputError('cells: expected {"cell_m": metres, "cells": [[i, j], ...]}')
    raw = value["cells"]
    if not isinstance(raw, list | tuple):
        raise InputError("cells: expected a list of [i, j] pairs")
    cells_set = set()
    for c in raw:
        ok = (isinstance(c, list | tuple) and len(c) == 2
              and all(isinstance(v, int | float) and not isinstance(v, bool)
                      and math.isfinite(v) and float(v) == int(v) for v in c))
        if not ok:
            raise InputError(f"cells: each cell is a pair of whole numbers [i, j], got {c!r}")
        cells_set.add((int(c[0]), int(c[1])))
    cells = sorted(cells_set)
    try:
        size = float(value["cell_m"])
    except (TypeError, ValueError) as exc:
        raise InputError(f"cells: cell_m must be a number of metres, got {value['cell_m']!r}") from exc
    if not math.isfinite(size) or not 25 <= size <= 5000:
        raise InputError(f"cells: cell_m must be between 25 and 5000 metres, got {value['cell_m']}")
    if not cells:
        raise InputError("cells: at least one cell is needed")
    if len(cells) > MAX_CELLS:
        raise InputError(f"cells: at most {MAX_CELLS} cells, got {len(cells)}")
    return {"cell_m": size, "cells": [list(c) for c in cells]}


def cells_geometry(cells: dict[str, Any]) -> shapely.Geometry:
    s = float(cells["cell_m"])
    return unary_union([box(i * s, j * s, (i + 1) * s, (j + 1) * s) for i, j in cells["cells"]])


def parse_districts(value: Any, dataset_name: str) -> list[str]:
    """District names (a list or comma-separated text), each matched to one of the force's
    districts (case-insensitive, or a unique prefix)."""
    names = value if isinstance(value, list | tuple) else str(value).split(",")
    names = [str(n).strip() for n in names if str(n).strip()]
    if not names:
        raise InputError("districts: at least one district is needed")
    known = force_districts(dataset_name)
    if not known:
        raise InputError(f"{dataset_name}: its districts are unknown (not a force of England and "
                         "Wales in the reference tables); give an area or cells instead")
    out = []
    for n in names:
        hits = matching_names(n, known)
        if len(hits) != 1:
            why = "matches several" if hits else "is not one"
            raise InputError(f"district {n!r} {why} of the districts of "
                             f"{force_short_name(dataset_name)}: {known}")
        if hits[0] not in out:
            out.append(hits[0])
    return out


def dataset_places(conn: Connection, dataset_id: int, dataset_name: str) -> pd.DataFrame:
    """The dataset's recorded places with their district: columns ``place_id, x, y, district``
    (places without coordinates left out)."""
    rows = conn.execute(select(Place.id, Place.x, Place.y, Place.lsoa_code)
                        .where(Place.dataset_id == dataset_id, Place.x.is_not(None),
                               Place.y.is_not(None))).all()
    df = pd.DataFrame(rows, columns=["place_id", "x", "y", "lsoa_code"])
    df["x"] = pd.to_numeric(df["x"]).astype(float)
    df["y"] = pd.to_numeric(df["y"]).astype(float)
    short = force_short_name(dataset_name)
    if short in forces() and len(df):
        df["district"] = districts_for(df["lsoa_code"].astype("string"), short).to_numpy()
    else:
        df["district"] = ""
    df["district"] = df["district"].replace("", NO_DISTRICT)
    return df[["place_id", "x", "y", "district"]]


def places_in(geom: shapely.Geometry, places: pd.DataFrame) -> np.ndarray:
    """Boolean mask: which places (x, y) lie inside or on the edge of ``geom``."""
    if places.empty:
        return np.zeros(0, dtype=bool)
    pts = shapely.points(places["x"].to_numpy(), places["y"].to_numpy())
    shapely.prepare(geom)
    return np.asarray(shapely.intersects(geom, pts), dtype=bool)


def check_inside_and_districts(geom: shapely.Geometry, places: pd.DataFrame, dataset_name: str
                               ) -> list[str]:
    """Districts a polygon touches, after checking it is inside the force (module docstring).

    Raises :class:`InputError` when the polygon holds none of the force's places and its centre
    is more than :data:`NEAR_M` from every one.
    """
    if places.empty:
        raise InputError(f"{dataset_name}: the store holds no located places for this force, so "
                         "an area cannot be checked; load its data first or give districts")
    inside = places_in(geom, places)
    own = places[inside & (places["district"] != OUTSIDE)]
    if len(own):
        return sorted(set(own["district"]))
    c = geom.centroid
    d = np.hypot(places["x"].to_numpy() - c.x, places["y"].to_numpy() - c.y)
    k = int(np.argmin(d))
    if d[k] > NEAR_M or places["district"].iloc[k] == OUTSIDE:
        raise InputError(
            f"area: outside {force_short_name(dataset_name)}: it holds none of the force's "
            f"{len(places):,} recorded places and its centre is {d[k] / 1000:.1f} km from the "
            f"nearest (limit {NEAR_M / 1000:.1f} km). Check the coordinates (GeoJSON is "
            "longitude, latitude in that order)")
    return [str(places["district"].iloc[k])]


def to_geojson(geom: shapely.Geometry) -> dict[str, Any]:
    """GeoJSON geometry dict (coordinates rounded to 0.1 m)."""
    return json.loads(json.dumps(mapping(shapely.set_precision(geom, 0.1))))


def wgs84_geojson(geom: shapely.Geometry, crs: str) -> dict[str, Any]:
    """The geometry reprojected to WGS84 (for web maps), coordinates to 6 decimals."""
    t = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    g = _reproject(geom, t)
    return json.loads(json.dumps(mapping(shapely.set_precision(g, 1e-6))))


def dataset_events(conn: Connection, dataset_id: int, dataset_name: str, *,
                   start_month: str, end_month: str,
                   categories: list[str] | None = None) -> pd.DataFrame:
    """The dataset's events between two months (inclusive) with their place and district:
    columns ``month, category, place_id, x, y, district`` (x, y NaN where the source gave no
    point; district :data:`NO_DISTRICT` where the LSOA is unknown)."""
    from guardian.store.db import fetch_raw
    from guardian.store.models import Event

    q = (select(Event.month, Event.category, Event.place_id, Place.x, Place.y, Place.lsoa_code)
         .join(Place, Place.id == Event.place_id)
         .where(Event.dataset_id == dataset_id, Event.month >= start_month,
                Event.month <= end_month))
    if categories:
        q = q.where(Event.category.in_(list(categories)))
    rows = fetch_raw(conn, q)
    df = pd.DataFrame.from_records(rows, columns=["month", "category", "place_id", "x", "y",
                                                  "lsoa_code"])
    df["x"] = pd.to_numeric(df["x"]).astype(float)
    df["y"] = pd.to_numeric(df["y"]).astype(float)
    short = force_short_name(dataset_name)
    if short in forces() and len(df):
        codes = pd.Series(df["lsoa_code"].fillna("").unique(), dtype="string")
        lookup = dict(zip(codes, districts_for(codes, short).to_numpy(), strict=True))
        df["district"] = df["lsoa_code"].fillna("").map(lookup).fillna("")
    else:
        df["district"] = ""
    df["district"] = df["district"].replace("", NO_DISTRICT)
    return df[["month", "category", "place_id", "x", "y", "district"]]
