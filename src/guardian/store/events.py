"""Reading events back out of the store as the canonical event frame."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from sqlalchemy import Engine, func, select

from guardian.data.geography import districts_for, fill_districts, force_short_name, forces
from guardian.data.schema import EVENT_COLUMNS, normalise_category
from guardian.store.db import fetch_raw
from guardian.store.models import Dataset, Event, Place


def _categories(categories: Iterable[str] | None) -> list[str] | None:
    if categories is None:
        return None
    return [normalise_category(c) for c in categories]


def events_frame(
    engine: Engine,
    *,
    dataset: str | None = None,
    categories: Iterable[str] | None = None,
    start_month: str | None = None,
    end_month: str | None = None,
) -> pd.DataFrame:
    """Events from the store as a canonical event frame (see :mod:`guardian.data.schema`).

    Parameters
    ----------
    dataset : str, optional
        Exact dataset name (use :func:`guardian.store.status.resolve_dataset` for "essex").
    categories : iterable of str, optional
        police.uk categories (case-insensitive).
    start_month, end_month : str, optional
        Inclusive ``YYYY-MM`` bounds.

    Returns
    -------
    DataFrame
        Times are tz-aware in the dataset's own timezone (so month and day boundaries are
        local), or in UTC when datasets of different timezones are mixed.
        Sorted by time, then load order; ``district`` filled from the reference geography for
        police.uk datasets (policing district of the LSOA).
    """
    cats = _categories(categories)
    q = select(
        Event.event_key, Dataset.name, Event.month, Event.occurred_local, Event.time_precision,
        Event.category, Event.dwelling, Place.x, Place.y, Dataset.crs, Place.lon, Place.lat,
        Place.location, Place.lsoa_code, Place.lsoa_name, Event.outcome, Dataset.timezone,
    ).join(Dataset, Event.dataset_id == Dataset.id).join(Place, Event.place_id == Place.id)
    if dataset is not None:
        q = q.where(Dataset.name == dataset)
    if cats is not None:
        q = q.where(Event.category.in_(cats))
    if start_month:
        q = q.where(Event.month >= start_month)
    if end_month:
        q = q.where(Event.month <= end_month)
    q = q.order_by(Event.id)
    # Raw DBAPI fetch: SQLAlchemy's per-row type processing costs seconds at 250k rows, and every
    # column is converted below, vectorised, anyway. Bound values are plain strings.
    with engine.connect() as conn:
        rows = fetch_raw(conn, q)
    cols = ["event_id", "dataset", "month", "local", "time_precision", "category", "dwelling",
            "x", "y", "crs", "lon", "lat", "location", "lsoa_code", "lsoa_name", "outcome", "tz"]
    raw = pd.DataFrame.from_records(rows, columns=cols)
    if raw.empty:
        from guardian.data.schema import empty_events

        return empty_events()
    parts = []
    for (_dataset, tz), sub in raw.groupby(["dataset", "tz"], sort=True):
        t = pd.to_datetime(sub["local"], format="ISO8601").dt.tz_localize(tz, ambiguous="NaT",
                                                        nonexistent="shift_forward")
        parts.append(sub.assign(time=t, district=""))
    if len({str(p["time"].dt.tz) for p in parts}) > 1:
        # Datasets in different timezones share one column only in UTC.
        parts = [p.assign(time=p["time"].dt.tz_convert("UTC")) for p in parts]
    out = fill_districts(pd.concat(parts, ignore_index=True))
    out = out[list(EVENT_COLUMNS)]
    for c, t in EVENT_COLUMNS.items():
        if c == "time":
            continue
        if c in ("x", "y", "lon", "lat"):
            out[c] = pd.to_numeric(out[c]).astype(float)
        elif c == "dwelling":
            out[c] = out[c].map(lambda v: None if v is None else bool(v)).astype("boolean")
        else:
            out[c] = out[c].astype(t)
    # Rows arrive in load order (by id); a stable sort on time keeps that order within a time.
    return out.sort_values("time", kind="stable").reset_index(drop=True)


def monthly_counts(engine: Engine, datasets: list[str]) -> pd.DataFrame:
    """Events per dataset, month and category, counted in the database (one GROUP BY).

    Returns
    -------
    DataFrame
        ``dataset, month, category, count`` (int64).
    """
    q = (
        select(Dataset.name, Event.month, Event.category, func.count())
        .join(Dataset, Event.dataset_id == Dataset.id)
        .where(Dataset.name.in_(datasets))
        .group_by(Dataset.name, Event.month, Event.category)
    )
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    out = pd.DataFrame(rows, columns=["dataset", "month", "category", "count"])
    out["count"] = out["count"].astype("int64")
    return out


def monthly_counts_by_district(engine: Engine, dataset: str, month: str) -> pd.DataFrame:
    """``month, district, category, count`` of one dataset and month, counted in the database
    and placed in districts with the same rule as :func:`events_frame`."""
    q = (
        select(Event.month, Place.lsoa_code, Event.category, func.count())
        .join(Dataset, Event.dataset_id == Dataset.id)
        .join(Place, Event.place_id == Place.id)
        .where(Dataset.name == dataset, Event.month == month)
        .group_by(Event.month, Place.lsoa_code, Event.category)
    )
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    raw = pd.DataFrame(rows, columns=["month", "lsoa_code", "category", "count"])
    short = force_short_name(dataset)
    if short in forces():
        raw["district"] = districts_for(raw["lsoa_code"].astype("string"), short).to_numpy()
    else:
        raw["district"] = ""
    out = raw.groupby(["month", "district", "category"], as_index=False)["count"].sum()
    out["count"] = out["count"].astype("int64")
    return out
