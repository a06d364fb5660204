"""The canonical event frame every loader produces and every analysis consumes.

One row per recorded crime or ASB incident. Distance work only ever uses ``x``/``y``
(projected metres, CRS named in ``crs``); ``lon``/``lat`` are kept for maps.

Columns
-------
event_id : str
    police.uk Crime ID (64 hex), a stable content key for ASB rows (``asb-<sha1>``), or the
    force extract's own id.
dataset : str
    Who published it: the police.uk "Falls within" force name (e.g. ``"Essex Police"``)
    or the force-extract dataset name (e.g. ``"chicago_be"``).
month : str
    ``"YYYY-MM"`` of the offence (police.uk publishes month only).
time : datetime64[ns, tz]
    Offence time, tz-aware in the dataset's timezone. For month-resolution data this is
    the first instant of the month; ``time_precision`` says how much of it to trust.
time_precision : {"month", "day", "minute"}
category : str
    One of :data:`CATEGORIES` (force codes are mapped onto these at load).
dwelling : boolean (nullable)
    Burglary of a dwelling: True/False when the source says, <NA> when unknown (police.uk).
x, y : float
    Projected coordinates in metres (EPSG:27700 for UK data); NaN when no location.
crs : str
    CRS of x/y, e.g. ``"EPSG:27700"``.
lon, lat : float
    WGS84 degrees when known (display only), NaN otherwise.
location : str
    Street description ("On or near Smythe Road") or ``""``.
lsoa_code, lsoa_name : str
    2011 LSOA ("" when unknown).
district : str
    Policing district (local authority by default, see :mod:`guardian.data.geography`);
    ``""`` when unknown.
outcome : str
    Last outcome category ("" when none).
"""

from __future__ import annotations

import pandas as pd

from guardian.errors import InputError

ASB = "Anti-social behaviour"

CATEGORIES: tuple[str, ...] = (
    "Anti-social behaviour",
    "Bicycle theft",
    "Burglary",
    "Criminal damage and arson",
    "Drugs",
    "Other crime",
    "Other theft",
    "Possession of weapons",
    "Public order",
    "Robbery",
    "Shoplifting",
    "Theft from the person",
    "Vehicle crime",
    "Violence and sexual offences",
)
"""The 14 police.uk categories (since May 2013)."""

CATEGORY_LOOKUP: dict[str, str] = {c.lower(): c for c in CATEGORIES}
"""Lower-case name -> canonical police.uk spelling."""


def normalise_category(name: str) -> str:
    """police.uk category in canonical spelling (``"burglary"`` -> ``"Burglary"``,
    ``"Violence and Sexual Offences"`` -> ``"Violence and sexual offences"``).

    Raises :class:`InputError` for a name that is not one of the 14 categories.
    """
    key = str(name).strip().lower()
    if key not in CATEGORY_LOOKUP:
        raise InputError(f"{name!r} is not a police.uk category; expected one of {list(CATEGORIES)}")
    return CATEGORY_LOOKUP[key]


CRIME_CATEGORIES: tuple[str, ...] = tuple(c for c in CATEGORIES if c != ASB)
"""Everything police.uk counts as crime: every category except ASB."""

POLICE_GENERATED: tuple[str, ...] = ("Drugs", "Possession of weapons")
"""Categories mostly found by police activity; excluded from targeting by default because
patrols that find them would send patrols back to the same places (a feedback loop)."""

TIME_PRECISIONS = ("month", "day", "minute")

EVENT_COLUMNS: dict[str, str] = {
    "event_id": "string",
    "dataset": "string",
    "month": "string",
    "time": "datetime64[ns, UTC]",  # any tz is accepted; checked as tz-aware
    "time_precision": "string",
    "category": "string",
    "dwelling": "boolean",
    "x": "float64",
    "y": "float64",
    "crs": "string",
    "lon": "float64",
    "lat": "float64",
    "location": "string",
    "lsoa_code": "string",
    "lsoa_name": "string",
    "district": "string",
    "outcome": "string",
}


def empty_events() -> pd.DataFrame:
    """An empty canonical event frame with the right dtypes."""
    frame = pd.DataFrame({c: pd.Series(dtype=t) for c, t in EVENT_COLUMNS.items()})
    return frame


def to_canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast an event frame's columns to the canonical dtypes (extra columns are kept)."""
    out = frame.copy()
    for c, t in EVENT_COLUMNS.items():
        if c != "time" and c in out.columns:
            out[c] = out[c].astype(t)
    return out


def check_events(frame: pd.DataFrame) -> pd.DataFrame:
    """Check a frame is a canonical event frame; raise :class:`InputError` naming the problem.

    Returns the frame unchanged so it can be used inline.
    """
    missing = [c for c in EVENT_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            f"event frame is missing columns {missing}; build it with a guardian loader "
            "or guardian.store.events.events_frame()"
        )
    if len(frame) and not isinstance(frame["time"].dtype, pd.DatetimeTZDtype):
        raise InputError(f"event frame 'time' must be tz-aware, got dtype {frame['time'].dtype}")
    bad = ~frame["category"].isin(CATEGORIES)
    if bad.any():
        raise InputError(
            f"unknown categories {sorted(frame.loc[bad, 'category'].unique())[:5]}; "
            f"expected one of {list(CATEGORIES)}"
        )
    crs = frame["crs"].dropna().unique()
    if len(crs) > 1:
        raise InputError(f"event frame mixes coordinate systems {list(crs)}; project first")
    if len(crs) == 1 and str(crs[0]).upper() in ("EPSG:4326", "OGC:CRS84"):
        raise InputError("x/y are in a geographic CRS (degrees); distance work needs metres")
    return frame
