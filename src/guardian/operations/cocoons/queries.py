"""SQL reads of the cocoon service: datasets, burglaries, known places, cocoons, members and
visit counts. Each function takes a connection (the caller's transaction) unless it is public
and says otherwise; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, case, func, or_, select

from guardian.errors import InputError, NotFound
from guardian.operations.cocoons.models import Cocoon, CocoonMember, CocoonVisit
from guardian.operations.cocoons.planning import _place_label, read_addresses
from guardian.operations.cocoons.times import _to_utc_naive
from guardian.operations.cocoons.validation import cocoon_ref, parse_ref
from guardian.store.db import begin as _begin
from guardian.store.models import Dataset, Event, Place
from guardian.store.status import projected_dataset, resolve_dataset


def _dataset(conn: Connection, name: str):
    return projected_dataset(conn, name, purpose="cocoon radii")


def _frame(rows: Sequence[Any], columns: list[str]) -> pd.DataFrame:
    """DataFrame from SQLAlchemy rows (as plain tuples: building from Row objects is slow)."""
    return pd.DataFrame.from_records([tuple(r) for r in rows], columns=columns)


def known_places(bind: Engine | Connection, *, dataset: str) -> pd.DataFrame:
    """Known places of a dataset: distinct ``(x, y, location)`` of any of its events.

    On police.uk data these are the anonymised map points with their street descriptions
    ("On or near ..."), each standing for a street segment rather than one address; on an
    extract without addresses they are the points of its recorded events.

    Returns
    -------
    DataFrame
        Columns ``x, y, place`` (metres; ``place`` is the location text, or ``point (x, y)``).
    """
    with _begin(bind) as conn:
        ds = _dataset(conn, dataset)
        rows = conn.execute(
            select(Place.x, Place.y, Place.location)
            .where(Place.dataset_id == ds.id, Place.x.is_not(None), Place.y.is_not(None))
            .distinct()
        ).all()
    frame = _frame(rows, columns=["x", "y", "location"])
    if frame.empty:
        return pd.DataFrame({"x": pd.Series(dtype=float), "y": pd.Series(dtype=float),
                             "place": pd.Series(dtype=str)})
    frame["location"] = frame["location"].fillna("").astype(str)
    frame["place"] = [_place_label(x, y, loc) for x, y, loc in
                      zip(frame["x"], frame["y"], frame["location"], strict=True)]
    frame = frame.drop_duplicates(["x", "y", "place"])
    return frame[["x", "y", "place"]].sort_values(["x", "y", "place"]).reset_index(drop=True)


def _places_frame(conn: Connection, dataset: str, addresses: Any) -> pd.DataFrame:
    if addresses is None:
        return known_places(conn, dataset=dataset)
    if isinstance(addresses, str | Path):
        return read_addresses(addresses)
    frame = pd.DataFrame(addresses)
    if "address" in frame.columns and "place" not in frame.columns:
        frame = frame.rename(columns={"address": "place"})
    if not {"x", "y", "place"} <= set(frame.columns):
        raise InputError(f"addresses need columns x, y, address; got {list(frame.columns)}")
    return frame[["x", "y", "place"]].astype({"x": float, "y": float, "place": str})


def _burglaries(conn: Connection, ds, start_month: str | None, end_month: str | None):
    q = select(Event.event_key, Event.month, Event.occurred_local, Event.time_precision,
               Event.dwelling, Place.x, Place.y, Place.lon, Place.lat, Place.location).join(
        Place, Event.place_id == Place.id).where(
        Event.dataset_id == ds.id, Event.category == "Burglary")
    if start_month:
        q = q.where(Event.month >= start_month)
    if end_month:
        q = q.where(Event.month <= end_month)
    rows = conn.execute(q).all()
    frame = _frame(rows, columns=["event_key", "month", "local", "precision", "dwelling",
                                        "x", "y", "lon", "lat", "location"])
    frame["dwelling"] = frame["dwelling"].map(
        {True: True, False: False}).astype("boolean")
    frame["local"] = pd.to_datetime(frame["local"])
    frame["utc"] = _to_utc_naive(frame["local"], ds.timezone)
    for c in ("x", "y", "lon", "lat"):
        frame[c] = pd.to_numeric(frame[c]).astype(float)
    frame["location"] = frame["location"].fillna("").astype(str)
    return frame


def _in_chunks(values: Sequence[Any], size: int = 500) -> Iterator[list[Any]]:
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _resolve_cocoon(conn: Connection, cocoon_id: int):
    row = conn.execute(select(Cocoon.__table__).where(Cocoon.id == cocoon_id)).first()
    if row is None:
        raise NotFound(f"no cocoon {cocoon_ref(cocoon_id)}; see `guardian cocoons list`")
    seen = {row.id}
    while row.state == "merged" and row.merged_into_id is not None:
        row = conn.execute(select(Cocoon.__table__).where(Cocoon.id == row.merged_into_id)).first()
        if row is None or row.id in seen:  # pragma: no cover - guarded by the merge code
            raise NotFound(f"cocoon {cocoon_ref(cocoon_id)} was merged into a missing cocoon")
        seen.add(row.id)
    return row


def _members_frame(conn: Connection, cocoon_ids: Sequence[int], as_of: datetime) -> pd.DataFrame:
    m = CocoonMember
    rows = []
    for chunk in _in_chunks(sorted(set(cocoon_ids))):
        rows += conn.execute(select(
            m.id, m.cocoon_id, m.event_key, m.month, m.reported_local, m.reported_at,
            m.time_precision, m.x, m.y, m.lon, m.lat, m.location, m.radius_m, m.window_days,
            m.near_repeat_of_id).where(m.cocoon_id.in_(chunk), m.reported_at <= as_of)).all()
    return _frame(rows, columns=[
        "id", "cocoon_id", "event_key", "month", "reported_local", "reported_at", "precision",
        "x", "y", "lon", "lat", "location", "radius_m", "window_days", "near_repeat_of_id"])


def _visit_counts(conn: Connection, cocoon_ids: Sequence[int], as_of: datetime) -> dict[int, dict]:
    v = CocoonVisit
    done = case((v.visited_at <= as_of, 1), else_=0)
    pending_over = case(((or_(v.visited_at.is_(None), v.visited_at > as_of))
                         & (v.due_at < as_of), 1), else_=0)
    pending = case((or_(v.visited_at.is_(None), v.visited_at > as_of), 1), else_=0)
    next_due = case((or_(v.visited_at.is_(None), v.visited_at > as_of), v.due_at), else_=None)
    out: dict[int, dict] = {}
    for chunk in _in_chunks(sorted(set(cocoon_ids))):
        q = (select(v.cocoon_id, func.count(), func.sum(done), func.sum(pending_over),
                    func.sum(pending), func.min(next_due))
             .join(CocoonMember, CocoonMember.id == v.member_id)
             .where(v.cocoon_id.in_(chunk), CocoonMember.reported_at <= as_of)
             .group_by(v.cocoon_id))
        for cid, n, nd, no, npend, nxt in conn.execute(q):
            out[int(cid)] = {"planned": int(n), "done": int(nd or 0), "overdue": int(no or 0),
                             "pending": int(npend or 0), "next_due": nxt}
    return out


def _places_near(conn: Connection, dataset_id: int, members: pd.DataFrame) -> pd.DataFrame:
    """:func:`known_places` restricted (in SQL) to the box around the members' discs."""
    empty = pd.DataFrame({"x": pd.Series(dtype=float), "y": pd.Series(dtype=float),
                          "place": pd.Series(dtype=str)})
    if members.empty:
        return empty
    # Only the places in the box around the members' discs can be inside a zone.
    mx, my = members["x"].to_numpy(float), members["y"].to_numpy(float)
    mr = members["radius_m"].to_numpy(float)
    x0, x1 = float((mx - mr).min() - 1.0), float((mx + mr).max() + 1.0)
    y0, y1 = float((my - mr).min() - 1.0), float((my + mr).max() + 1.0)
    rows = conn.execute(
        select(Place.x, Place.y, Place.location)
        .where(Place.dataset_id == dataset_id, Place.x.between(x0, x1), Place.y.between(y0, y1))
        .distinct()).all()
    if not rows:
        return empty
    xs, ys, locs = (np.asarray(c) for c in zip(*rows, strict=True))
    frame = pd.DataFrame({"x": xs.astype(float), "y": ys.astype(float), "location": locs})
    frame["location"] = frame["location"].fillna("").astype(str)
    frame["place"] = [_place_label(x, y, loc) for x, y, loc in
                      zip(frame["x"], frame["y"], frame["location"], strict=True)]
    return frame.drop_duplicates(["x", "y", "place"])[["x", "y", "place"]].reset_index(drop=True)


def cocoon_dataset(engine: Engine, *, force: str | None = None) -> tuple[str, str]:
    """``(dataset name, timezone)``: ``force`` resolved, or the only dataset with cocoons.

    Raises :class:`NotFound` when no cocoon exists, :class:`InputError` when several datasets
    have cocoons and ``force`` is not given.
    """
    with engine.connect() as conn:
        if force:
            name = resolve_dataset(engine, force)
        else:
            names = list(conn.execute(
                select(Dataset.name).join(Cocoon, Cocoon.dataset_id == Dataset.id).distinct()
                .order_by(Dataset.name)).scalars())
            if not names:
                raise NotFound("no cocoons yet: open them with `guardian cocoons open --force NAME`")
            if len(names) > 1:
                raise InputError(f"cocoons exist for several datasets {names}; choose one with --force")
            name = names[0]
        tz = conn.execute(select(Dataset.timezone).where(Dataset.name == name)).scalar_one()
    return name, tz


def dataset_of_ref(engine: Engine, *, ref: str) -> tuple[str, str]:
    """``(dataset name, timezone)`` of the cocoon (``C-12``) or visit (``V-7``) ``ref``."""
    kind, num = parse_ref(ref)
    with engine.connect() as conn:
        if kind == "V":
            cid = conn.execute(select(CocoonVisit.cocoon_id).where(CocoonVisit.id == num)).scalar()
            if cid is None:
                raise NotFound(f"no visit V-{num}; see `guardian cocoons show C-<id>`")
        else:
            cid = num
        row = conn.execute(select(Dataset.name, Dataset.timezone)
                           .join(Cocoon, Cocoon.dataset_id == Dataset.id)
                           .where(Cocoon.id == cid)).first()
    if row is None:
        raise NotFound(f"no cocoon C-{cid}; see `guardian cocoons list`")
    return row.name, row.timezone

