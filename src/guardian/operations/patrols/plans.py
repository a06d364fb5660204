"""Making a district's weekly patrol plan, and reading plans back.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, func, insert, select

from guardian.analysis.hotspots import StudyArea, harm_spots
from guardian.data.months import months_back
from guardian.errors import Conflict, InputError
from guardian.operations.patrols.models import PatrolDay, PatrolPlan, PatrolSpot
from guardian.operations.patrols.planning import (
    DAYS_PER_WEEK,
    DEFAULT_PATROL_CATEGORIES,
    all_days_design,
    hour_profile,
    random_day_design,
)
from guardian.operations.patrols.queries import (
    _dataset,
    _days_frame,
    _district_events,
    _district_table,
    _harm_weights,
    _insert_plan,
    _load_plan,
    _resolve_district,
    _spots_of,
)
from guardian.operations.patrols.rules import (
    _STALE_MONTHS,
    _VIOLENCE_NOTE,
    ALL,
    ALL_DISTRICTS,
    DEFAULT_CELL_M,
    DEFAULT_HARM_TABLE,
    DEFAULT_LOOKBACK_MONTHS,
    DEFAULT_MINUTES,
    DEFAULT_SPOTS,
    DEFAULT_VISITS_PER_DAY,
    _float,
    _int,
    _iso_utc,
    _lonlat,
    _now,
    _pct,
    _week,
    _why,
    plan_ref,
)
from guardian.store.db import begin as _begin
from guardian.store.models import Dataset, Event


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
