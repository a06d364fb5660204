"""Hot-spot patrols: planning a district's week, logging visits, delivered dosage, the briefing.

Every function is keyword-only, takes an :class:`~sqlalchemy.Engine` (one transaction per call)
or a :class:`~sqlalchemy.Connection` (the caller's transaction) and raises :mod:`guardian.errors`
domain errors.

The rules (``docs/patrols.md`` explains them for users)
-------------------------------------------------------
* **Spots**: the top ``spots`` grid cells (``cell_m`` metres square, default 150) of a district by
  harm over the latest ``lookback_months`` (default 12) loaded months before the plan week,
  selected by :func:`guardian.analysis.hotspots.harm_spots` (harm, then offences, then
  south-to-north / west-to-east). Categories default to street violence
  (:data:`~guardian.operations.patrols.planning.DEFAULT_PATROL_CATEGORIES`); police-generated
  categories (drugs, possession of weapons) are excluded unless asked, and the plan says so.
* **Harm**: each offence weighted by the shipped harm table (:mod:`guardian.data.harm_table`,
  ``harm_index_v1``: ONS Crime Severity Score per police.uk category); ``harm_table=None`` gives
  plain counts. The plan states which.
* **Dosage**: on a patrol day each spot gets ``visits_per_day`` visits of ``minutes`` (default 3
  of 15 minutes; Koper 1995).
* **Days**: every day of the week is a patrol day, or (``random_days=k``) each spot is patrolled
  on ``k`` random days and is a control on the others, balanced across days
  (:func:`~guardian.operations.patrols.planning.random_day_design`); the seed is stored.
* **Peak hours**: an hour-of-day profile of the targeted offences in the spots when every one
  has a time of day; police.uk has months only, and then the plan says "no time-of-day data;
  peak hours unknown".
* **Visits**: a visit counts towards the local calendar day on which it started; it must start
  within the plan week, end after it starts and last at most 12 hours. A visit on a control day
  is logged and flagged as *contamination*.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, and_, func, insert, select
from sqlalchemy.exc import IntegrityError

from guardian.analysis.hotspots import StudyArea, harm_spots
from guardian.data.harm_table import load_harm_weights
from guardian.data.months import months_back
from guardian.data.names import matching_names
from guardian.data.schema import CATEGORIES, empty_events
from guardian.errors import Conflict, InputError, NotFound
from guardian.operations.patrols.models import PatrolDay, PatrolPlan, PatrolSpot, PatrolVisit
from guardian.operations.patrols.planning import (
    DAYS_PER_WEEK,
    DEFAULT_PATROL_CATEGORIES,
    INTERACTIONS,
    KOPER_MAX_MINUTES,
    KOPER_MIN_MINUTES,
    MAX_VISIT_MINUTES,
    all_days_design,
    dosage,
    hour_profile,
    in_koper_band,
    random_day_design,
)
from guardian.store.db import begin as _begin
from guardian.store.models import PLACE_COLUMNS, Dataset, Event, Place
from guardian.store.status import projected_dataset

DEFAULT_SPOTS = 20
DEFAULT_CELL_M = 150.0
DEFAULT_VISITS_PER_DAY = 3
DEFAULT_MINUTES = 15.0
DEFAULT_LOOKBACK_MONTHS = 12
DEFAULT_HARM_TABLE = "harm_index_v1"
ALL = "all"
ALL_DISTRICTS = ("all", "*")
"""``district`` values meaning the whole dataset (force extracts have no districts)."""

_OFFICER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/#-]{0,59}$")
_PLAN_REF = re.compile(r"^\s*[Pp]?-?(\d+)\s*$")
_STALE_MONTHS = 3
_VIOLENCE_NOTE = (
    "police.uk 'Violence and sexual offences' includes domestic incidents inside homes, which "
    "street patrols cannot reach: check each spot's streets before deploying"
)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------




def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def plan_ref(plan_id: int) -> str:
    """``"P-<id>"``, the reference users see for a plan."""
    return f"P-{plan_id}"


def _plan_id(value: Any) -> int:
    if isinstance(value, bool):
        raise InputError(f"plan id {value!r} is not a plan id")
    if isinstance(value, int | np.integer):
        return int(value)
    m = _PLAN_REF.match(str(value))
    if not m:
        raise InputError(f"{value!r} is not a plan id; write 12 or P-12 (as shown by "
                         "`guardian patrols plan`)")
    return int(m.group(1))


def _week(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not re.match(r"^\d{4}-\d{2}-\d{2}$", text):
        raise InputError(f"week {value!r} is not a date; write the first day of the week as "
                         "YYYY-MM-DD, e.g. 2022-01-03")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"week {value!r} is not a real date ({exc})") from exc


def _int(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(f"{name} must be a whole number, got {value!r}")
    if not lo <= int(value) <= hi:
        raise InputError(f"{name} must be between {lo} and {hi}, got {value}")
    return int(value)


def _float(value: Any, name: str, lo: float, hi: float, unit: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be a number of {unit}, got {value!r}") from exc
    if not (math.isfinite(v) and lo <= v <= hi):
        raise InputError(f"{name} must be between {lo:g} and {hi:g} {unit}, got {value!r}")
    return v


def _check_officer(value: Any) -> str:
    text = str(value or "").strip()
    if not _OFFICER.match(text):
        raise InputError(f"officer {value!r} is not valid: give a collar number or team (letters, "
                         "digits, space . _ / # -, up to 60 characters), never the name of a "
                         "member of the public")
    return text


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


def _why(text: str, scope: str, streets: str) -> str:
    """The harm-spot reason, worded for a plan (shares are of the district, or the dataset),
    with the spot's main streets."""
    why = (text.replace("of force harm", f"of {scope} harm")
           .replace("of offences)", f"of {scope} offences)")
           .replace(" of area;", f" of {scope} study area;"))
    return f"{why}; streets: {streets}" if streets else why


def _lonlat(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[list, list]:
    if not crs or not len(x):
        return [None] * len(x), [None] * len(x)
    from pyproj import Transformer
    from pyproj.exceptions import CRSError

    try:
        tr = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        lon, lat = tr.transform(np.asarray(x, float), np.asarray(y, float))
    except CRSError:  # an unknown CRS string: keep metres only
        return [None] * len(x), [None] * len(x)
    return [round(float(v), 6) for v in lon], [round(float(v), 6) for v in lat]


def _to_utc_naive(value: Any, tz: str, name: str) -> datetime:
    """An aware datetime (or ISO text) as naive UTC; naive values are local time in ``tz``."""
    if isinstance(value, str):
        try:
            value = pd.Timestamp(value.strip())
        except ValueError as exc:
            raise InputError(f"{name} {value!r} is not a date-time; write e.g. "
                             "2022-01-04T14:05") from exc
    if isinstance(value, pd.Timestamp):
        if value is pd.NaT:
            raise InputError(f"{name} is missing")
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        raise InputError(f"{name} must be a date-time, got {value!r}")
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        try:
            ts = ts.tz_localize(tz, ambiguous="raise", nonexistent="raise")
        except (ValueError, TypeError) as exc:  # pytz/zoneinfo DST gaps and overlaps
            raise InputError(f"{name} {ts.isoformat()} does not exist or is ambiguous in {tz} "
                             "(a clock change); give it with its UTC offset, e.g. "
                             f"{ts.date()}T01:30+01:00") from exc
    return ts.tz_convert("UTC").tz_localize(None).to_pydatetime()


def _local(utc_naive: datetime, tz: str) -> pd.Timestamp:
    return pd.Timestamp(utc_naive).tz_localize("UTC").tz_convert(tz)


def _iso_local(utc_naive: datetime | None, tz: str) -> str | None:
    if utc_naive is None:
        return None
    return _local(utc_naive, tz).isoformat()


def _iso_utc(value: datetime | None) -> str | None:
    return None if value is None else value.replace(tzinfo=UTC).isoformat()


def _pct(x: float | None) -> str:
    """A share as a percentage: 16.7%, 0.9%, 0.043% (small shares keep two digits)."""
    if x is None or not np.isfinite(x):
        return "n/a"
    v = 100 * x
    return f"{v:.1f}%" if v >= 0.1 or v == 0 else f"{v:.2g}%"


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


# --------------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------------


def create_plan(
    bind: Engine | Connection,
    *,
    dataset: str,
    district: str | None,
    week: date | str,
    spots: int = DEFAULT_SPOTS,
    cell_m: float = DEFAULT_CELL_M,
    visits_per_day: int = DEFAULT_VISITS_PER_DAY,
    minutes: float = DEFAULT_MINUTES,
    random_days: int | None = None,
    random_state: int | None = None,
    categories: Sequence[str] | None = None,
    include_police_generated: bool = False,
    lookback_months: int = DEFAULT_LOOKBACK_MONTHS,
    harm_table: str | None = DEFAULT_HARM_TABLE,
    peak_window_h: int = 4,
) -> dict[str, Any]:
    """Plan a district's week of hot-spot patrols and store it.

    Parameters
    ----------
    bind : Engine or Connection
    dataset : str
        Exact dataset name (``guardian.store.status.resolve_dataset`` turns "essex" into
        "Essex Police").
    district : str or None
        Policing district (case-insensitive; a unique prefix is enough), or ``"all"`` / None
        for the whole dataset (force extracts carry no districts).
    week : date or "YYYY-MM-DD"
        First of the 7 days planned.
    spots : int
        Number of spots (grid cells), default 20.
    cell_m : float
        Cell side in metres (default 150).
    visits_per_day : int
        Visits per spot on each patrol day (default 3).
    minutes : float
        Planned minutes per visit (default 15, the Koper curve).
    random_days : int, optional
        Patrol days per spot (``1..6``) for an evaluable design; the other days are controls.
        Default: every day is a patrol day.
    random_state : int, optional
        Seed of the random day design; drawn (and stored) when not given.
    categories : sequence of str, optional
        Default :data:`~guardian.operations.patrols.planning.DEFAULT_PATROL_CATEGORIES`.
    include_police_generated : bool
        Allow drugs / possession of weapons in ``categories`` (feedback-loop risk).
    lookback_months : int
        Targeting window: the latest ``lookback_months`` calendar months up to the last month
        loaded before the plan week (default 12).
    harm_table : str or None
        Harm table version or CSV path (default ``"harm_index_v1"``); ``None`` for counts.
    peak_window_h : int
        Width of the peak-hours window (hours) when times of day exist.

    Returns
    -------
    dict
        The stored plan, as :func:`get_plan` returns it.

    Raises
    ------
    InputError
        Bad parameters, no events to target.
    NotFound
        Unknown dataset or district.
    Conflict
        A plan already exists for the dataset, district and week.
    """
    week0 = _week(week)
    n_spots = _int(spots, "spots", 1, 500)
    cell = _float(cell_m, "cell_m", 25.0, 2000.0, "metres")
    vpd = _int(visits_per_day, "visits_per_day", 1, 48)
    mins = _float(minutes, "minutes", 1.0, 240.0, "minutes")
    lookback = _int(lookback_months, "lookback_months", 1, 60)
    if random_days is not None:
        random_days = _int(random_days, "random_days", 1, DAYS_PER_WEEK - 1)
        if random_state is None:
            random_state = secrets.randbelow(2**31)
        random_state = _int(random_state, "random_state (seed)", 0, 2**63 - 1)
    elif random_state is not None:
        raise InputError("a seed was given without random days; add random_days=K (--random-days "
                         "K) for a random patrol/control design, or drop the seed")
    chosen = list(DEFAULT_PATROL_CATEGORIES) if categories is None else (
        [categories] if isinstance(categories, str) else list(categories))
    weights, harm_basis, harm_version = _harm_weights(harm_table)

    with _begin(bind) as conn:
        ds = _dataset(conn, dataset)
        week_month = f"{week0.year:04d}-{week0.month:02d}"
        loaded = list(conn.execute(
            select(Event.month).where(Event.dataset_id == ds.id, Event.month < week_month)
            .distinct().order_by(Event.month)).scalars())
    if not loaded:
        raise InputError(f"no events of {ds.name} before the plan week {week0} (month "
                         f"{week_month}); load earlier data or choose a later week")
    end_month = loaded[-1]
    window = months_back(end_month, lookback)
    start_month = window[0]
    used = [m for m in loaded if start_month <= m <= end_month]
    missing = [m for m in window if m not in set(used)]
    if district is None or str(district).strip().lower() in ALL_DISTRICTS:
        dname, codes, scope = ALL, None, "the dataset's"
    else:
        table = _district_table(ds.name)
        dname = _resolve_district(district, sorted(table["district"].unique()))
        codes = table.loc[table["district"] == dname, "lsoa_code"].tolist()
        scope = "the district's"
    with _begin(bind) as conn:
        ev = _district_events(conn, ds, dname, codes, start_month, end_month)

    with _begin(bind) as conn:
        dup = conn.execute(select(PatrolPlan.id).where(
            PatrolPlan.dataset_id == ds.id, PatrolPlan.district == dname,
            PatrolPlan.week_start == week0)).scalar()
    if dup is not None:
        raise Conflict(f"plan {plan_ref(dup)} already exists for {dname}, week of {week0}; use it "
                       f"(`guardian patrols dosage {dup}`) or plan another week")

    located = ev[np.isfinite(ev["x"].to_numpy(float)) & np.isfinite(ev["y"].to_numpy(float))]
    if located.empty:
        raise InputError(f"no events with a location in {dname} in {start_month}..{end_month}")
    area = StudyArea.from_events(located, cell_m=cell)
    result = harm_spots(ev, area=area, categories=chosen,
                        include_police_generated=include_police_generated, weights=weights,
                        top_n=n_spots)
    sp = result.spots
    n_found = len(sp)

    # hour-of-day profile of the targeted offences inside the spots
    target = ev[ev["category"].isin(result.categories)]
    grid = area.grid
    row, col, inside = grid.cell_index(target["x"].to_numpy(float), target["y"].to_numpy(float))
    gx0, gy0 = int(round(grid.x0 / grid.cell_m)), int(round(grid.y0 / grid.cell_m))
    keys = {tuple(k) for ks in sp["cell_keys"] for k in ks}
    in_spot = np.array([bool(ok) and (gx0 + c, gy0 + r) in keys
                        for r, c, ok in zip(row.tolist(), col.tolist(), inside.tolist(),
                                            strict=True)], dtype=bool)
    tgt = target.loc[in_spot]
    hours = hour_profile(tgt["time"].dt.tz_convert(ds.timezone), tgt["time_precision"],
                         window_h=peak_window_h)

    # day design
    days = [week0 + timedelta(days=k) for k in range(DAYS_PER_WEEK)]
    if random_days is None:
        design = all_days_design(n_found)
        design_name = "every-day"
        patrol_days = DAYS_PER_WEEK
    else:
        design = random_day_design(n_found, patrol_days=random_days, random_state=random_state)
        design_name = "random"
        patrol_days = random_days

    lon, lat = _lonlat(sp["x"].to_numpy(float), sp["y"].to_numpy(float), ds.crs)
    share_h = float(sp["share_harm"].sum()) if n_found else 0.0
    share_o = float(sp["share_offences"].sum()) if n_found else 0.0
    share_a = float(sp["share_area"].sum()) if n_found else 0.0
    notes = list(result.notes)
    if harm_version is None:
        notes.append("harm = offence counts (no harm weights)")
    if ds.kind == "police.uk" and "Violence and sexual offences" in result.categories:
        notes.append(_VIOLENCE_NOTE)
    station = [int(r) for r, w in zip(sp["rank"], sp["why"], strict=True)
               if "police-station" in str(w)]
    if station:
        notes.append(f"spot(s) {', '.join(map(str, station))} include a police-station map point: "
                     "offences recorded at the station may not have happened there; check "
                     "before patrolling")
    if n_found < n_spots:
        notes.append(f"only {n_found} cells in {dname} had any targeted harm; {n_spots} asked")
    if missing:
        notes.append(f"{len(missing)} of the {lookback} months of the targeting window are not "
                     f"loaded ({', '.join(missing)})")
    gap = (pd.Period(week_month, freq="M") - pd.Period(end_month, freq="M")).n
    if gap > _STALE_MONTHS:
        notes.append(f"the targeting data end {end_month}, {gap} months before the plan week: "
                     "spots may be out of date; load newer data")
    if not hours.known:
        notes.append(hours.note)
    summary = {
        "months_used": used, "months_missing": missing, "lookback_months": lookback,
        "harm_table": harm_version, "spots_found": n_found,
        "share_harm": share_h, "share_offences": share_o, "share_area": share_a,
        "offences_in_spots": int(sp["offences"].sum()) if n_found else 0,
        "harm_in_spots": float(sp["harm"].sum()) if n_found else 0.0,
        "district_offences": int(result.totals["offences"]),
        "district_harm": float(result.totals["harm"]),
        "no_location": int(result.totals["no_location"]),
        "area_cells": int(area.n_cells), "area_rule": area.rule,
        "include_police_generated": bool(include_police_generated),
        "sentence": (f"{n_found} spots of {cell:g} m cover {_pct(share_a)} of {scope} "
                     f"study area but {_pct(share_h)} of its "
                     f"{'harm' if harm_version else 'offences'} ({_pct(share_o)} of offences)"),
    }
    with _begin(bind) as conn:
        pid = _insert_plan(conn, dname, week0, dict(
            dataset_id=ds.id, district=dname, week_start=week0, created_at=_now(), cell_m=cell,
            spots_requested=n_spots, visits_per_day=vpd, minutes=mins, design=design_name,
            patrol_days=patrol_days, seed=random_state, start_month=start_month,
            end_month=end_month, categories=list(result.categories),
            excluded_categories=list(result.excluded_categories), harm_basis=harm_basis,
            precision=result.precision, hours=hours.to_dict(), summary=summary, notes=notes,
        ))
        spot_ids = []
        for k, r in enumerate(sp.itertuples(index=False)):
            gx, gy = r.cell_keys[0]
            spot_ids.append(conn.execute(insert(PatrolSpot).values(
                plan_id=pid, rank=int(r.rank), gx=int(gx), gy=int(gy), x=float(r.x),
                y=float(r.y), lon=lon[k], lat=lat[k], offences=int(r.offences),
                harm=float(r.harm), share_harm=float(r.share_harm),
                share_offences=float(r.share_offences), share_area=float(r.share_area),
                streets=str(r.streets), why=_why(str(r.why), scope, str(r.streets)),
            ).returning(PatrolSpot.id)).scalar_one())
        rows = []
        for i, sid in enumerate(spot_ids):
            for j, d in enumerate(days):
                on = bool(design[i, j])
                rows.append({"plan_id": pid, "spot_id": sid, "day": d,
                             "arm": "patrol" if on else "control",
                             "visits_planned": vpd if on else 0,
                             "minutes_planned": vpd * mins if on else 0.0})
        if rows:
            conn.execute(insert(PatrolDay), rows)
        return get_plan(conn, plan_id=pid)


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


def _plan_header(p) -> dict[str, Any]:
    week0 = p.week_start if isinstance(p.week_start, date) else date.fromisoformat(str(p.week_start))
    return {
        "id": p.id, "ref": plan_ref(p.id), "dataset": p.dataset_name, "district": p.district,
        "week_start": week0.isoformat(),
        "week_end": (week0 + timedelta(days=DAYS_PER_WEEK - 1)).isoformat(),
        "timezone": p.timezone, "created_at": _iso_utc(p.created_at),
        "parameters": {
            "spots": p.spots_requested, "cell_m": p.cell_m, "visits_per_day": p.visits_per_day,
            "minutes": p.minutes, "design": p.design, "patrol_days": p.patrol_days,
            "random_days": p.patrol_days if p.design == "random" else None,
            "seed": p.seed, "lookback_months": p.summary.get("lookback_months"),
            "categories": list(p.categories),
            "excluded_categories": list(p.excluded_categories),
            "include_police_generated": p.summary.get("include_police_generated", False),
        },
        "targeting": {
            "start_month": p.start_month, "end_month": p.end_month,
            "months_used": p.summary.get("months_used", []),
            "months_missing": p.summary.get("months_missing", []),
            "harm_basis": p.harm_basis, "harm_table": p.summary.get("harm_table"),
            "precision": p.precision,
            "location_note": ("approximate (snapped map points)" if p.precision == "approximate"
                              else "exact (force extract coordinates)"),
            "excluded_note": (
                f"{' and '.join(p.excluded_categories)} excluded from targeting by default "
                "(police-generated: found by patrols, so targeting them is a feedback loop)"
                if p.excluded_categories else
                "police-generated categories included on request (feedback-loop risk)"),
            "district_offences": p.summary.get("district_offences"),
            "district_harm": p.summary.get("district_harm"),
            "spots_found": p.summary.get("spots_found"),
            "share_harm": p.summary.get("share_harm"),
            "share_offences": p.summary.get("share_offences"),
            "share_area": p.summary.get("share_area"),
            "area_cells": p.summary.get("area_cells"), "area_rule": p.summary.get("area_rule"),
            "sentence": p.summary.get("sentence"),
        },
        "hours": dict(p.hours),
        "peak_hours": (f"{p.hours['peak_start']:02d}:00-{p.hours['peak_end']:02d}:00 local"
                       if p.hours.get("known") else p.hours.get("note")),
        "notes": list(p.notes),
    }


def get_plan(bind: Engine | Connection, *, plan_id: int | str) -> dict[str, Any]:
    """A stored plan: header, parameters, targeting, peak hours, spots and the day schedule.

    Returns
    -------
    dict
        ``id, ref, dataset, district, week_start, week_end, timezone, created_at, parameters``
        (incl. ``seed``), ``targeting`` (window, harm basis, precision, shares), ``hours``,
        ``peak_hours``, ``notes``, ``days`` (the 7 dates) and ``spots`` (``rank, x, y, lon,
        lat, gx, gy, offences, harm, share_*, streets, why, patrol_days, control_days``).
    """
    with _begin(bind) as conn:
        p = _load_plan(conn, plan_id)
        spots = _spots_of(conn, p.id)
        days = _days_frame(conn, p.id)
    out = _plan_header(p)
    week0 = date.fromisoformat(out["week_start"])
    out["days"] = [(week0 + timedelta(days=k)).isoformat() for k in range(DAYS_PER_WEEK)]
    by_spot = dict(tuple(days.groupby("spot"))) if len(days) else {}
    out["spots"] = []
    for s in spots:
        d = by_spot.get(s.rank)
        pat = [x.isoformat() for x in d.loc[d["arm"] == "patrol", "day"]] if d is not None else []
        ctl = [x.isoformat() for x in d.loc[d["arm"] == "control", "day"]] if d is not None else []
        out["spots"].append({
            "rank": s.rank, "id": s.id, "gx": s.gx, "gy": s.gy, "x": s.x, "y": s.y,
            "lon": s.lon, "lat": s.lat, "offences": s.offences, "harm": s.harm,
            "share_harm": s.share_harm, "share_offences": s.share_offences,
            "share_area": s.share_area, "streets": s.streets, "why": s.why,
            "patrol_days": pat, "control_days": ctl,
        })
    return out


def list_plans(bind: Engine | Connection, *, dataset: str | None = None,
               district: str | None = None) -> list[dict[str, Any]]:
    """Plans (newest week first): ref, dataset, district, week, design, seed, spots."""
    q = (select(PatrolPlan.id, PatrolPlan.district, PatrolPlan.week_start, PatrolPlan.design,
                PatrolPlan.patrol_days, PatrolPlan.seed, Dataset.name,
                func.count(PatrolSpot.id).label("spots"))
         .join(Dataset, PatrolPlan.dataset_id == Dataset.id)
         .outerjoin(PatrolSpot, PatrolSpot.plan_id == PatrolPlan.id)
         .group_by(PatrolPlan.id, PatrolPlan.district, PatrolPlan.week_start, PatrolPlan.design,
                   PatrolPlan.patrol_days, PatrolPlan.seed, Dataset.name)
         .order_by(PatrolPlan.week_start.desc(), PatrolPlan.id.desc()))
    if dataset is not None:
        q = q.where(Dataset.name == dataset)
    if district is not None:
        q = q.where(func.lower(PatrolPlan.district) == str(district).strip().lower())
    with _begin(bind) as conn:
        rows = conn.execute(q).all()
    return [{"id": r.id, "ref": plan_ref(r.id), "dataset": r.name, "district": r.district,
             "week_start": str(r.week_start), "design": r.design, "patrol_days": r.patrol_days,
             "seed": r.seed, "spots": int(r.spots)} for r in rows]


# --------------------------------------------------------------------------------------------
# Visits
# --------------------------------------------------------------------------------------------


def log_visit(
    bind: Engine | Connection,
    *,
    plan_id: int | str,
    spot: int,
    start: datetime | str,
    end: datetime | str,
    officer: str,
    business_checks: int = 0,
    stop_search: int = 0,
    engagements: int = 0,
    arrests: int = 0,
    weapons_found: int = 0,
) -> dict[str, Any]:
    """Log one patrol visit to a spot of a plan.

    Parameters
    ----------
    plan_id : int or "P-<id>"
    spot : int
        The spot's rank in the plan (1 = most harm), as printed by the plan.
    start, end : datetime or ISO text
        Naive values are local time in the dataset's timezone; aware values are converted.
    officer : str
        Collar number or team (never a member of the public's name).
    business_checks, stop_search, engagements, arrests, weapons_found : int
        Counts (>= 0) of interactions during the visit.

    Returns
    -------
    dict
        ``id, plan, spot, day, start, end`` (local ISO), ``minutes, koper`` (10-20 minutes),
        ``arm`` and ``contamination`` (True on a control day) with a ``warning`` then.

    Raises
    ------
    NotFound
        Unknown plan or spot.
    InputError
        End not after start, a visit over 12 hours, a start outside the plan week, a bad
        officer string or a negative count.
    Conflict
        The same officer already has a visit overlapping this one.
    """
    if isinstance(spot, str) and spot.strip().isdigit():
        spot = int(spot.strip())
    spot_rank = _int(spot, "spot (its rank in the plan)", 1, 10_000)
    who = _check_officer(officer)
    counts = {name: _int(v, name, 0, 10_000) for name, v in (
        ("business_checks", business_checks), ("stop_search", stop_search),
        ("engagements", engagements), ("arrests", arrests), ("weapons_found", weapons_found))}
    with _begin(bind) as conn:
        p = _load_plan(conn, plan_id)
        srow = conn.execute(select(PatrolSpot.id, PatrolSpot.rank).where(
            PatrolSpot.plan_id == p.id, PatrolSpot.rank == spot_rank)).first()
        if srow is None:
            n = conn.execute(select(func.max(PatrolSpot.rank)).where(
                PatrolSpot.plan_id == p.id)).scalar() or 0
            raise NotFound(f"plan {plan_ref(p.id)} has spots 1-{n}; there is no spot {spot_rank}")
        tz = p.timezone
        s_u = _to_utc_naive(start, tz, "start")
        e_u = _to_utc_naive(end, tz, "end")
        if e_u <= s_u:
            raise InputError(f"end {_iso_local(e_u, tz)} is not after start {_iso_local(s_u, tz)}; "
                             "give the time the visit ended (it must be later than the start)")
        mins = (e_u - s_u).total_seconds() / 60.0
        if mins > MAX_VISIT_MINUTES:
            raise InputError(f"the visit lasts {mins / 60:.1f} hours (start {_iso_local(s_u, tz)}, "
                             f"end {_iso_local(e_u, tz)}); a hot-spot visit is about 15 minutes "
                             f"and at most {MAX_VISIT_MINUTES / 60:g} hours are accepted: check "
                             "the end date")
        day = _local(s_u, tz).date()
        week0 = p.week_start if isinstance(p.week_start, date) else date.fromisoformat(str(p.week_start))
        week_end = week0 + timedelta(days=DAYS_PER_WEEK - 1)
        if not week0 <= day <= week_end:
            raise InputError(f"the visit starts on {day} ({_iso_local(s_u, tz)}), outside plan "
                             f"{plan_ref(p.id)}'s week {week0}..{week_end}; log it against the "
                             "plan for that week")
        clash = conn.execute(select(PatrolVisit.id, PatrolVisit.start_at, PatrolVisit.end_at,
                                    PatrolSpot.rank).join(PatrolSpot,
                                                          PatrolVisit.spot_id == PatrolSpot.id)
                             .where(PatrolVisit.plan_id == p.id, PatrolVisit.officer == who,
                                    PatrolVisit.start_at < e_u, PatrolVisit.end_at > s_u)).first()
        if clash is not None:
            raise Conflict(f"{who} already has visit {clash.id} at spot {clash.rank} from "
                           f"{_iso_local(clash.start_at, tz)} to {_iso_local(clash.end_at, tz)}, "
                           "overlapping this one (logged twice?)")
        arm = conn.execute(select(PatrolDay.arm).where(PatrolDay.spot_id == srow.id,
                                                       PatrolDay.day == day)).scalar_one()
        vid = conn.execute(insert(PatrolVisit).values(
            plan_id=p.id, spot_id=srow.id, day=day, start_at=s_u, end_at=e_u, officer=who,
            logged_at=_now(), **counts).returning(PatrolVisit.id)).scalar_one()
    out = {"id": vid, "plan": plan_ref(p.id), "spot": spot_rank, "day": day.isoformat(),
           "start": _iso_local(s_u, tz), "end": _iso_local(e_u, tz), "officer": who,
           "minutes": round(mins, 2), "koper": bool(in_koper_band(mins)), "arm": arm,
           "contamination": arm == "control", **counts}
    if arm == "control":
        out["warning"] = (f"{day} is a control day for spot {spot_rank}: this visit is logged as "
                          "contamination of the design")
    return out


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


def plan_dosage(bind: Engine | Connection, *, plan_id: int | str,
                as_of: datetime | None = None) -> dict[str, Any]:
    """Delivered dosage of a plan against what it planned.

    Parameters
    ----------
    plan_id : int or "P-<id>"
    as_of : datetime, optional
        Count only visits that started before this time (aware; default: all).

    Returns
    -------
    dict
        ``plan`` (header), ``status`` (upcoming / in progress / ended at ``as_of``),
        ``totals`` (visits planned / delivered / credited, completion, minutes planned /
        delivered, Koper share, contamination, interactions), ``spots`` (per spot),
        ``days`` (per spot and day: planned and delivered minutes and visits), ``visits``
        (the log, with minutes, Koper flag, arm and contamination) and ``definitions``.
    """
    before = None
    if as_of is not None:
        if not isinstance(as_of, datetime) or as_of.tzinfo is None:
            raise InputError(f"as_of must be an aware datetime, got {as_of!r}")
        before = as_of.astimezone(UTC).replace(tzinfo=None)
    with _begin(bind) as conn:
        p = _load_plan(conn, plan_id)
        planned = _days_frame(conn, p.id)
        visits = _visits_frame(conn, p.id, before)
    today = None if as_of is None else pd.Timestamp(as_of).tz_convert(p.timezone).date()
    res = dosage(planned, visits, days_before=today)
    header = _plan_header(p)
    arms = planned.set_index(["spot", "day"])["arm"] if len(planned) else pd.Series(dtype=str)
    vis = []
    for r in visits.itertuples(index=False):
        arm = str(arms.get((r.spot, r.day), "patrol"))
        vis.append({"id": int(r.id), "spot": int(r.spot), "day": r.day.isoformat(),
                    "start": _iso_local(r.start_at.to_pydatetime(), p.timezone),
                    "end": _iso_local(r.end_at.to_pydatetime(), p.timezone),
                    "officer": r.officer, "minutes": round(float(r.minutes), 2),
                    "koper": bool(in_koper_band(r.minutes)), "arm": arm,
                    "contamination": arm == "control",
                    **{c: int(getattr(r, c)) for c in INTERACTIONS}})
    week0 = date.fromisoformat(header["week_start"])
    status = "recorded"
    if today is not None:
        local_day = today
        if local_day < week0:
            status = "upcoming"
        elif local_day <= week0 + timedelta(days=DAYS_PER_WEEK - 1):
            status = f"in progress (day {(local_day - week0).days + 1} of {DAYS_PER_WEEK})"
        else:
            status = "ended"
    days = res.days.copy()
    days["day"] = days["day"].map(lambda d: d.isoformat())
    spots = res.spots.copy()
    spots["completion"] = spots["completion"].astype(object).where(spots["completion"].notna(),
                                                                   None)
    warnings_ = []
    if res.totals["contamination_visits"]:
        bad = sorted({(v["spot"], v["day"]) for v in vis if v["contamination"]})
        warnings_.append(f"{res.totals['contamination_visits']} visit(s) on control days "
                         "(contamination): " + ", ".join(f"spot {s} on {d}" for s, d in bad))
    return {
        "plan": header, "status": status, "as_of": None if as_of is None else as_of.isoformat(),
        "totals": res.totals, "spots": spots.rename(columns={"spot": "rank"}).to_dict("records"),
        "days": days.rename(columns={"spot": "rank"}).to_dict("records"), "visits": vis,
        "warnings": warnings_,
        "definitions": {
            "minutes": "end - start of each logged visit",
            "visits_delivered": "visits logged on the spot's patrol days",
            "visits_credited": "per spot-day, min(visits logged, visits planned): extra visits "
                               "on one day do not make up for a missed one",
            "completion": "visits credited / visits planned",
            "completion_to_date": "the same over the days before as_of's local date (weeks in "
                                  "progress)",
            "koper_share": f"share of all logged visits lasting {KOPER_MIN_MINUTES:g}-"
                           f"{KOPER_MAX_MINUTES:g} minutes inclusive (Koper 1995)",
            "contamination": "visits logged on a spot's control day",
        },
    }


# --------------------------------------------------------------------------------------------
# Briefing section
# --------------------------------------------------------------------------------------------


def patrol_section_data(engine: Engine | Connection, *, dataset: str, as_of: datetime,
                        period_days: int = 28) -> dict[str, Any]:
    """What the monthly briefing shows about hot-spot patrols for one dataset.

    Plans whose week overlaps ``[as_of - period_days, as_of + 7 days)`` (the last month's
    plans and next week's), each with delivered dosage against plan counting visits that
    started before ``as_of``.

    Parameters
    ----------
    dataset : str
        Exact dataset name.
    as_of : datetime
        Aware "as of" time of the briefing.
    period_days : int
        How far back, in days (default 28).

    Returns
    -------
    dict
        ``dataset, as_of, period`` ``{start, end}`` (local dates), ``plans`` (one per plan:
        ``ref, district, week_start, week_end, status, design, seed, spots, share_harm,
        share_area, harm_basis, precision, peak_hours, totals``), ``totals`` (summed over
        plans), ``caveats``.
    """
    if not isinstance(as_of, datetime) or as_of.tzinfo is None:
        raise InputError(f"as_of must be an aware datetime, got {as_of!r}")
    pdays = _int(period_days, "period_days", 1, 366)
    with _begin(engine) as conn:
        ds = _dataset(conn, dataset)
        local = pd.Timestamp(as_of).tz_convert(ds.timezone).date()
        lo = local - timedelta(days=pdays)
        hi = local + timedelta(days=DAYS_PER_WEEK)
        ids = list(conn.execute(select(PatrolPlan.id).where(
            PatrolPlan.dataset_id == ds.id,
            and_(PatrolPlan.week_start > lo - timedelta(days=DAYS_PER_WEEK),
                 PatrolPlan.week_start < hi))
            .order_by(PatrolPlan.week_start, PatrolPlan.district, PatrolPlan.id)).scalars())
        plans = [plan_dosage(conn, plan_id=i, as_of=as_of) for i in ids]
    out_plans = []
    keys = ("visits_planned", "visits_delivered", "visits_credited", "visits_logged",
            "koper_visits", "contamination_visits")
    totals: dict[str, Any] = {k: 0 for k in keys}
    totals["minutes_planned"] = 0.0
    totals["minutes_delivered"] = 0.0
    caveats: list[str] = []
    for d in plans:
        h, t = d["plan"], d["totals"]
        out_plans.append({
            "ref": h["ref"], "id": h["id"], "district": h["district"],
            "week_start": h["week_start"], "week_end": h["week_end"], "status": d["status"],
            "design": h["parameters"]["design"], "patrol_days": h["parameters"]["patrol_days"],
            "seed": h["parameters"]["seed"], "spots": h["targeting"]["spots_found"],
            "share_harm": h["targeting"]["share_harm"],
            "share_area": h["targeting"]["share_area"], "sentence": h["targeting"]["sentence"],
            "harm_basis": h["targeting"]["harm_basis"], "precision": h["targeting"]["precision"],
            "peak_hours": h["peak_hours"], "totals": t, "warnings": d["warnings"],
        })
        for k in keys:
            totals[k] += int(t[k])
        totals["minutes_planned"] += float(t["minutes_planned"])
        totals["minutes_delivered"] += float(t["minutes_delivered"])
        for note in (h["targeting"]["excluded_note"],
                     "spots are " + h["targeting"]["location_note"]):
            if note not in caveats:
                caveats.append(note)
        if not h["hours"].get("known") and h["hours"].get("note") not in caveats:
            caveats.append(h["hours"]["note"])
    totals["visits_planned_to_date"] = sum(int(d["totals"]["visits_planned_to_date"])
                                           for d in plans)
    credited_to_date = sum(int(d["totals"]["visits_credited_to_date"]) for d in plans)
    totals["completion_to_date"] = (credited_to_date / totals["visits_planned_to_date"]
                                    if totals["visits_planned_to_date"] else None)
    totals["completion"] = (totals["visits_credited"] / totals["visits_planned"]
                            if totals["visits_planned"] else None)
    totals["koper_share"] = (totals["koper_visits"] / totals["visits_logged"]
                             if totals["visits_logged"] else None)
    return {
        "dataset": ds.name, "as_of": as_of.isoformat(),
        "period": {"start": lo.isoformat(), "end": hi.isoformat()},
        "plans": out_plans, "totals": totals, "caveats": caveats,
    }


__all__ = [
    "DEFAULT_CELL_M", "DEFAULT_MINUTES", "DEFAULT_SPOTS", "DEFAULT_VISITS_PER_DAY",
    "create_plan", "get_plan", "list_plans", "log_visit",
    "patrol_section_data", "plan_dosage", "plan_ref",
]
