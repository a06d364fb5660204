"""What is in the store: per dataset, months loaded, gaps, rows, quarantine, duplicates."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, func, select

from guardian.data.months import month_range
from guardian.data.names import matching_names
from guardian.errors import InputError, NotFound
from guardian.store.models import Dataset, Event, SourceFile


def month_gaps(months: list[str]) -> list[list[str]]:
    """Runs of missing months between the first and last month present.

    >>> month_gaps(["2019-01", "2019-02", "2019-05", "2019-06"])
    [['2019-03', '2019-04']]
    """
    if not months:
        return []
    have = set(months)
    gaps, run = [], []
    for m in month_range(min(have), max(have)):
        if m in have:
            if run:
                gaps.append([run[0], run[-1]])
                run = []
        else:
            run.append(m)
    return gaps


def dataset_names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(Dataset.name).order_by(Dataset.name)).scalars())


def resolve_dataset(engine: Engine, name: str) -> str:
    """Dataset name from a user's word: exact, case-insensitive, or a unique prefix.

    ``"essex"`` -> ``"Essex Police"``. Raises :class:`NotFound` listing what is loaded.
    """
    names = dataset_names(engine)
    hits = matching_names(name, names)
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise InputError(f"{name!r} matches several datasets {hits}; give the full name")
    raise NotFound(f"no dataset {name!r} in the store; loaded: {names or 'none'} "
                   "(load data with `guardian ingest PATH`)")


def dataset_status(engine: Engine) -> list[dict]:
    """Per dataset: months, gaps, rows, quarantined, duplicates and the files in force.

    Returns
    -------
    list of dict
        Keys: ``dataset, kind, crs, months, first_month, last_month, gaps, rows, quarantined,
        duplicates, rows_read, files`` (files: ``name, sha256, kind, month, rows_read, loaded,
        quarantined, duplicates``).
    """
    out = []
    with engine.connect() as conn:
        datasets = conn.execute(select(Dataset.__table__).order_by(Dataset.name)).all()
        for ds in datasets:
            months = list(conn.execute(
                select(Event.month).where(Event.dataset_id == ds.id).distinct()
                .order_by(Event.month)).scalars())
            rows = conn.execute(select(func.count()).select_from(Event)
                                .where(Event.dataset_id == ds.id)).scalar_one()
            files = conn.execute(
                select(SourceFile.__table__).where(SourceFile.dataset_id == ds.id,
                                         SourceFile.superseded_at.is_(None))
                .order_by(SourceFile.month, SourceFile.name)).all()
            if ds.kind == "police.uk":
                # Months come from the street files (a month of a force with zero rows would
                # still be "loaded"); gaps are between the first and last of them.
                months = sorted({f.month for f in files if f.kind == "street" and f.month})
            out.append({
                "dataset": ds.name,
                "kind": ds.kind,
                "crs": ds.crs,
                "months": months,
                "first_month": months[0] if months else None,
                "last_month": months[-1] if months else None,
                "gaps": month_gaps(months),
                "rows": rows,
                "rows_read": sum(f.rows_read for f in files),
                "quarantined": sum(f.quarantined for f in files),
                "duplicates": sum(f.duplicates for f in files),
                "files": [{"name": f.name, "sha256": f.sha256, "kind": f.kind, "month": f.month,
                           "rows_read": f.rows_read, "loaded": f.loaded,
                           "quarantined": f.quarantined, "duplicates": f.duplicates}
                          for f in files],
            })
    return out


def loaded_months(engine: Engine, dataset: str) -> list[str]:
    """Months loaded for ``dataset`` (street files for police.uk)."""
    for st in dataset_status(engine):
        if st["dataset"] == dataset:
            return st["months"]
    raise NotFound(f"no dataset {dataset!r} in the store")


def projected_dataset(conn: Connection, name: str, *, purpose: str):
    """The dataset row (id, name, kind, crs, timezone) for distance work in metres.

    Raises :class:`NotFound` listing what is loaded, or :class:`InputError` when the dataset's
    coordinates are degrees. ``purpose`` names what needs metres, for the message.
    """
    row = conn.execute(select(Dataset.id, Dataset.name, Dataset.kind, Dataset.crs,
                              Dataset.timezone).where(Dataset.name == name)).first()
    if row is None:
        names = list(conn.execute(select(Dataset.name).order_by(Dataset.name)).scalars())
        raise NotFound(f"no dataset {name!r} in the store; loaded: {names or 'none'} "
                       "(use the exact name, e.g. from `guardian status`)")
    if str(row.crs).upper() in ("EPSG:4326", "OGC:CRS84"):
        raise InputError(f"dataset {name!r} has coordinates in {row.crs} (degrees); {purpose} "
                         "are metres, so the data must be projected")
    return row
