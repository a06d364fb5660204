"""SQL of the patrol service: datasets, districts, harm weights, a district's events, and a
plan's rows (spots, days, visits). Each takes the caller's connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from guardian.data.harm_table import load_harm_weights
from guardian.data.names import matching_names
from guardian.data.schema import CATEGORIES, empty_events
from guardian.errors import Conflict, InputError, NotFound
from guardian.operations.patrols.models import PatrolDay, PatrolPlan, PatrolSpot, PatrolVisit
from guardian.operations.patrols.planning import (
    INTERACTIONS,
)
from guardian.operations.patrols.rules import _plan_id, plan_ref
from guardian.store.models import PLACE_COLUMNS, Dataset, Event, Place
from guardian.store.status import projected_dataset


def _dataset(conn: Connection, name: str):
    return projected_dataset(conn, name, purpose="patrol cells")


def _resolve_district(name: str, available: Sequence[str]) -> str:
    if not str(name).strip():
        raise InputError("district is empty; give a district name, e.g. 'Southend-on-Sea UA'")
    hits = matching_names(name, available)
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise InputError(f"district {name!r} matches several districts {hits}; give the full name")
    raise NotFound(f"no district {name!r} in the data; districts: {list(available)}")


def _harm_weights(harm_table: str | None) -> tuple[dict[str, float] | None, str, str | None]:
    """Weights per category (ASB 0), a sentence saying what harm is, and the table version."""
    if harm_table is None:
        return None, "counts: every offence weighs 1 (no harm table asked for)", None
    hw = load_harm_weights(harm_table)
    weights = {c: float(hw.weight(c)) for c in CATEGORIES}
    basis = (f"harm: {hw.version} ({hw.unit}); {hw.source}. Category weights hide the offence "
             "mix within a category.")
    return weights, basis, hw.version


def _district_table(dataset_name: str) -> pd.DataFrame:
    """``lsoa_code, district`` of the dataset's force (reference geography)."""
    from guardian.data.geography import district_grouping, force_short_name, forces, lsoa_table

    short = force_short_name(dataset_name)
    if short not in forces():
        raise InputError(f"dataset {dataset_name!r} is not a police force in the reference "
                         "geography, so it has no policing districts; district plans need them")
    ref = lsoa_table()
    ref = ref[ref["force"] == short]
    return pd.DataFrame({"lsoa_code": ref["lsoa_code"].to_numpy(),
                         "district": ref["lad_name"].map(district_grouping(short)).to_numpy()})


def _district_events(conn: Connection, ds, district: str, codes: Sequence[str] | None,
                     start_month: str, end_month: str) -> pd.DataFrame:
    """Events of one district (by LSOA) and month range as a canonical event frame.

    ``codes=None`` reads the whole dataset. Reads only the district's rows (an indexed month range, then the LSOA filter), which is
    several times faster than building the whole force's frame and filtering it.
    """
    cols = ["event_key", "month", "occurred_local", "time_precision", "category", "dwelling",
            "x", "y", "lon", "lat", "location", "lsoa_code", "lsoa_name", "outcome"]
    base = select(*[getattr(Place if c in PLACE_COLUMNS else Event, c) for c in cols]).join(
        Place, Event.place_id == Place.id).where(
        Event.dataset_id == ds.id, Event.month >= start_month, Event.month <= end_month)
    if codes is None:
        parts = conn.execute(base).all()
    else:
        parts = []
        for chunk in [codes[i:i + 500] for i in range(0, len(codes), 500)]:
            parts += conn.execute(base.where(Place.lsoa_code.in_(list(chunk)))).all()
    raw = pd.DataFrame.from_records([tuple(r) for r in parts], columns=cols)
    if raw.empty:
        return empty_events()
    t = pd.to_datetime(raw["occurred_local"]).dt.tz_localize(
        ds.timezone, ambiguous="NaT", nonexistent="shift_forward")
    out = pd.DataFrame({
        "event_id": raw["event_key"].astype("string"),
        "dataset": pd.Series(ds.name, index=raw.index, dtype="string"),
        "month": raw["month"].astype("string"),
        "time": t,  # local time, as events_frame gives
        "time_precision": raw["time_precision"].astype("string"),
        "category": raw["category"].astype("string"),
        "dwelling": raw["dwelling"].astype("boolean"),
        "x": pd.to_numeric(raw["x"]).astype(float), "y": pd.to_numeric(raw["y"]).astype(float),
        "crs": pd.Series(ds.crs, index=raw.index, dtype="string"),
        "lon": pd.to_numeric(raw["lon"]).astype(float),
        "lat": pd.to_numeric(raw["lat"]).astype(float),
        "location": raw["location"].astype("string"),
        "lsoa_code": raw["lsoa_code"].astype("string"),
        "lsoa_name": raw["lsoa_name"].astype("string"),
        "district": pd.Series(district, index=raw.index, dtype="string"),
        "outcome": raw["outcome"].astype("string"),
    })
    return out.sort_values(["time", "event_id"], kind="stable").reset_index(drop=True)


def _insert_plan(conn: Connection, district: str, week0: date, values: dict) -> int:
    try:
        return conn.execute(insert(PatrolPlan).values(**values)
                            .returning(PatrolPlan.id)).scalar_one()
    except IntegrityError as exc:  # another plan for the same week was stored meanwhile
        raise Conflict(f"a plan already exists for {district}, week of {week0}; see "
                       "`guardian patrols list`") from exc


def _load_plan(conn: Connection, plan_id: Any):
    pid = _plan_id(plan_id)
    row = conn.execute(
        select(PatrolPlan.__table__, Dataset.name.label("dataset_name"),
               Dataset.timezone.label("timezone"), Dataset.crs.label("crs"))
        .join(Dataset, PatrolPlan.dataset_id == Dataset.id).where(PatrolPlan.id == pid)).first()
    if row is None:
        recent = list(conn.execute(select(PatrolPlan.id).order_by(PatrolPlan.id.desc())
                                   .limit(5)).scalars())
        known = ", ".join(plan_ref(i) for i in recent) or "none"
        raise NotFound(f"no patrol plan {plan_ref(pid)}; latest plans: {known} (make one with "
                       "`guardian patrols plan`)")
    return row


def _spots_of(conn: Connection, plan_id: int) -> list:
    return conn.execute(select(PatrolSpot.__table__).where(PatrolSpot.plan_id == plan_id)
                        .order_by(PatrolSpot.rank)).all()


def _days_frame(conn: Connection, plan_id: int) -> pd.DataFrame:
    rows = conn.execute(
        select(PatrolSpot.rank.label("spot"), PatrolDay.day, PatrolDay.arm,
               PatrolDay.visits_planned, PatrolDay.minutes_planned)
        .join(PatrolSpot, PatrolDay.spot_id == PatrolSpot.id)
        .where(PatrolDay.plan_id == plan_id).order_by(PatrolSpot.rank, PatrolDay.day)).all()
    df = pd.DataFrame(rows, columns=["spot", "day", "arm", "visits_planned", "minutes_planned"])
    if len(df):
        df["day"] = pd.to_datetime(df["day"]).dt.date
    return df


def _visits_frame(conn: Connection, plan_id: int, before: datetime | None) -> pd.DataFrame:
    q = (select(PatrolVisit.id, PatrolSpot.rank.label("spot"), PatrolVisit.day,
                PatrolVisit.start_at, PatrolVisit.end_at, PatrolVisit.officer,
                *[getattr(PatrolVisit, c) for c in INTERACTIONS])
         .join(PatrolSpot, PatrolVisit.spot_id == PatrolSpot.id)
         .where(PatrolVisit.plan_id == plan_id).order_by(PatrolVisit.start_at, PatrolVisit.id))
    if before is not None:
        q = q.where(PatrolVisit.start_at < before)
    rows = conn.execute(q).all()
    cols = ["id", "spot", "day", "start_at", "end_at", "officer", *INTERACTIONS]
    df = pd.DataFrame(rows, columns=cols)
    if len(df):
        df["day"] = pd.to_datetime(df["day"]).dt.date
        df["start_at"] = pd.to_datetime(df["start_at"])
        df["end_at"] = pd.to_datetime(df["end_at"])
        df["minutes"] = (df["end_at"] - df["start_at"]).dt.total_seconds() / 60.0
    else:
        df["minutes"] = pd.Series(dtype=float)
    return df
