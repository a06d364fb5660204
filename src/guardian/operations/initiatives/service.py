"""Initiatives: create, list, show, record outcomes and resources, import from a file, and the
planned events the mobilisation plan reads.

An initiative's days are stored per district and phase (``initiatives_days``) when it is
created, so :func:`planned_events` is one indexed query over a date window.

Resources are hours and direct spend; their pound value uses rates per force from
``[initiatives.<force>]`` in ``$GUARDIAN_HOME/forces.toml`` (``volunteer_hour_gbp``,
``officer_hour_gbp``), else :data:`DEFAULT_RATES` (placeholders, stated as such in every output).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from guardian.data.geography import force_short_name
from guardian.data.names import matching_names
from guardian.data.quarantine import QuarantinedRow
from guardian.data.schema import normalise_category
from guardian.errors import Conflict, InputError, NotFound
from guardian.operations.initiatives import place as P
from guardian.operations.initiatives.models import (
    KINDS,
    PHASES,
    Initiative,
    InitiativeDay,
    InitiativeOutcome,
)
from guardian.store.db import read_connection, write_begin
from guardian.store.models import Dataset


@contextmanager
def writing(bind: Engine | Connection) -> Iterator[Connection]:
    """A connection in a write transaction: a new one (``BEGIN IMMEDIATE`` on SQLite) for an
    Engine, committed on success; a savepoint on the caller's Connection."""
    if isinstance(bind, Engine):
        with write_begin(bind) as conn:
            yield conn
    else:
        with bind.begin_nested():
            yield bind


BANDS: tuple[str, ...] = ("08-16", "16-24", "24-08")
"""Time bands, as the mobilisation plan uses them (08-16, 16-24, 24-08)."""

DEFAULT_UPLIFT: dict[str, float] = {"street-week": 2.0, "day-of-action": 1.5, "cs-zone": 1.2,
                                    "campaign": 1.25}
"""Demand multiplier on deployment days when the owner gives none: a judgement, not a
measurement (a Street Week's 24/7 deployment doubles the street presence asked for)."""

DEFAULT_RATES: dict[str, float] = {"volunteer_hour_gbp": 15.0, "officer_hour_gbp": 40.0}
"""Placeholder pound values of an hour; set the force's own in forces.toml."""

MEASURES: dict[str, str] = {
    "residents-reached": "residents reached face to face",
    "referrals": "referrals (detail: to whom)",
    "action-plans": "community action plans",
    "nhw-signups": "Neighbourhood Watch sign-ups",
    "volunteer-signups": "volunteer sign-ups",
    "cs-reports": "Crime Stoppers reports (detail: before / after)",
    "leaflets": "leaflets delivered",
    "households-visited": "households visited",
    "other": "other outcome (detail: what)",
}
"""Outcome measures (counts, never negative)."""

NEEDS_DETAIL = frozenset({"referrals", "other"})
MAX_DAYS = {"street-week": 21, "day-of-action": 7, "cs-zone": 366, "campaign": 184}
CS_ZONE_DEFAULT_DAYS = 90
_NAME = re.compile(r"^[\w][\w .,'&()/:+-]{1,118}$")


def initiative_ref(initiative_id: int) -> str:
    return f"I-{initiative_id}"


def parse_ref(value: Any) -> int:
    """``I-3``, ``3`` -> 3. Raises :class:`InputError`."""
    text = str(value).strip().upper().removeprefix("I-")
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise InputError(f"initiative {value!r}: expected I-<number>")
    return int(text)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _date(value: Any, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise InputError(f"{name} {value!r}: expected a date YYYY-MM-DD") from exc


def _number(value: Any, name: str, *, lo: float = 0.0, hi: float = 1e9) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} {value!r}: expected a number") from exc
    if isinstance(value, bool) or not math.isfinite(x) or not lo <= x <= hi:
        raise InputError(f"{name} must be between {lo:g} and {hi:g}, got {value!r}")
    return x


def street_week_phases(start: date) -> dict[str, tuple[date, date]]:
    """The three weeks of a Street Week starting on ``start``: pre-scoping (days 0-6),
    deployment 24/7 (days 7-13), evaluation (days 14-20), each ``(first, last)`` inclusive."""
    start = _date(start, "start")
    return {ph: (start + timedelta(days=7 * k), start + timedelta(days=7 * k + 6))
            for k, ph in enumerate(PHASES)}


def schedule(kind: str, start: date, end: date | None = None, *,
             drop_days: Sequence[date] | None = None) -> tuple[date, list[tuple[date, str]]]:
    """The days of an initiative and their phase.

    Street Week: three weeks from ``start`` (:func:`street_week_phases`; an ``end`` must be the
    21st day). Day of action: every day ``start``..``end`` (default one day, at most 7).
    Crime Stoppers Zone: the zone runs ``start``..``end`` (default 90 days); its deployment
    days are the leaflet drops (``drop_days``, default the first day). Campaign: every day
    ``start``..``end`` (``end`` required, at most 184 days).

    Returns
    -------
    (date, list of (date, phase))
        The last day and every day with its phase, in order.
    """
    if kind not in KINDS:
        raise InputError(f"kind {kind!r}; expected one of {list(KINDS)}")
    start = _date(start, "start")
    end = None if end in (None, "") else _date(end, "end")
    if end is not None and end < start:
        raise InputError(f"dates out of order: end {end} is before start {start}")
    if kind == "street-week":
        ph = street_week_phases(start)
        last = ph["evaluation"][1]
        if end is not None and end != last:
            raise InputError(f"a Street Week is three weeks: from {start} it ends on {last} "
                             f"(pre-scoping {start}..{ph['pre-scoping'][1]}, deployment "
                             f"{ph['deployment'][0]}..{ph['deployment'][1]}, evaluation "
                             f"{ph['evaluation'][0]}..{last}), not {end}")
        days = [(start + timedelta(days=i), PHASES[i // 7]) for i in range(21)]
        return last, days
    if kind == "day-of-action":
        end = end or start
    elif kind == "cs-zone":
        end = end or start + timedelta(days=CS_ZONE_DEFAULT_DAYS - 1)
    elif end is None:
        raise InputError("a campaign needs an end date")
    n = (end - start).days + 1
    if n > MAX_DAYS[kind]:
        raise InputError(f"a {kind} lasts at most {MAX_DAYS[kind]} days; {start}..{end} is {n}")
    if kind == "cs-zone":
        drops = sorted({_date(d, "drop day") for d in (drop_days or [start])})
        bad = [d for d in drops if not start <= d <= end]
        if bad:
            raise InputError(f"leaflet drop day {bad[0]} is outside the zone's dates "
                             f"{start}..{end}")
        return end, [(d, "deployment") for d in drops]
    if drop_days:
        raise InputError("drop days belong to Crime Stoppers Zones only")
    return end, [(start + timedelta(days=i), "deployment") for i in range(n)]


def _home() -> Path | None:
    from guardian.config import get_settings

    return get_settings().home


def _force_table(dataset_name: str, home: Path | None) -> tuple[dict, str]:
    if home is None or not (home / "forces.toml").exists():
        return {}, ""
    try:
        conf = tomllib.loads((home / "forces.toml").read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{home / 'forces.toml'}: not a TOML file ({exc})") from exc
    tables = conf.get("initiatives", {}) or {}

    def key(t: str) -> str:
        return " ".join(str(t).replace("_", " ").replace("-", " ").split()).casefold()

    want = {key(dataset_name), key(force_short_name(dataset_name))}
    for name, table in tables.items():
        if key(name) in want and isinstance(table, dict):
            return table, f"[initiatives.{name}] in {home / 'forces.toml'}"
    return {}, ""


def resource_rates(dataset_name: str, home: Path | None = None) -> dict[str, Any]:
    """Pound value of an hour for the dataset's force.

    Returns
    -------
    dict
        ``volunteer_hour_gbp``, ``officer_hour_gbp`` (GBP per hour) and ``source`` (the
        forces.toml table, or "default (placeholder...)").
    """
    table, src = _force_table(dataset_name, home if home is not None else _home())
    out: dict[str, Any] = {}
    for k, v in DEFAULT_RATES.items():
        out[k] = _number(table[k], k, hi=10000) if k in table else v
    out["source"] = src if any(k in table for k in DEFAULT_RATES) else (
        "default (placeholder rates; set volunteer_hour_gbp and officer_hour_gbp under "
        "[initiatives.<force>] in $GUARDIAN_HOME/forces.toml)")
    return out


def resources_of(row, rates: dict[str, Any]) -> dict[str, Any]:
    """Hours, spend and their pound equivalent for an initiative row."""
    vh, oh, cash = float(row.volunteer_hours), float(row.officer_hours), float(row.cash_gbp)
    v_gbp = vh * rates["volunteer_hour_gbp"]
    o_gbp = oh * rates["officer_hour_gbp"]
    return {"volunteer_hours": vh, "officer_hours": oh, "cash_gbp": round(cash, 2),
            "volunteer_gbp": round(v_gbp, 2), "officer_gbp": round(o_gbp, 2),
            "total_gbp": round(v_gbp + o_gbp + cash, 2),
            "volunteer_hour_gbp": rates["volunteer_hour_gbp"],
            "officer_hour_gbp": rates["officer_hour_gbp"], "rates_source": rates["source"]}


def _dataset(conn: Connection, name: str):
    if not str(name or "").strip():
        raise InputError("give the force's dataset (e.g. essex)")
    rows = conn.execute(select(Dataset.id, Dataset.name, Dataset.crs, Dataset.timezone)
                        .order_by(Dataset.name)).all()
    hits = matching_names(name, [r.name for r in rows])
    if len(hits) > 1:
        raise InputError(f"{name!r} matches several datasets {hits}; give the full name")
    if not hits:
        raise NotFound(f"no dataset {name!r} in the store; loaded: "
                       f"{[r.name for r in rows] or 'none'}")
    return next(r for r in rows if r.name == hits[0])


def _categories(values: Iterable[str] | str | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [v for v in values.split(",")]
    out = []
    for v in values:
        v = str(v).strip()
        if v and normalise_category(v) not in out:
            out.append(normalise_category(v))
    return out


def _text_list(values: Iterable[str] | str | None, name: str, limit: int = 40) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = values.split(",")
    out = [" ".join(str(v).split())[:120] for v in values if str(v).strip()]
    if len(out) > limit:
        raise InputError(f"{name}: at most {limit}")
    return list(dict.fromkeys(out))


def resolve_place(conn: Connection, ds, *, area: Any = None, cells: Any = None,
                  districts: Any = None) -> tuple[str, Any, list[str]]:
    """Exactly one of ``area`` (GeoJSON polygon), ``cells`` or ``districts``, validated and
    checked to be inside the force. Returns ``(place_kind, place, districts)``."""
    given = [k for k, v in (("area", area), ("cells", cells), ("districts", districts))
             if v not in (None, "", [])]
    if len(given) != 1:
        raise InputError("give the place as exactly one of: an area (GeoJSON polygon), grid "
                         f"cells, or districts (got {given or 'none'})")
    if districts not in (None, "", []):
        names = P.parse_districts(districts, ds.name)
        return "districts", names, names
    places = P.dataset_places(conn, ds.id, ds.name)
    if area not in (None, "", []):
        geom = P.parse_polygon(area, ds.crs)
        return "polygon", P.to_geojson(geom), P.check_inside_and_districts(geom, places, ds.name)
    c = P.parse_cells(cells)
    return "cells", c, P.check_inside_and_districts(P.cells_geometry(c), places, ds.name)


def place_geometry(place_kind: str, place: Any):
    """The shapely geometry of a stored place (None for districts)."""
    from shapely.geometry import shape

    if place_kind == "polygon":
        return shape(place)
    if place_kind == "cells":
        return P.cells_geometry(place)
    return None


def create_initiative(
    bind: Engine | Connection,
    *,
    dataset: str,
    kind: str,
    name: str,
    start: date | str,
    end: date | str | None = None,
    area: Any = None,
    cells: Any = None,
    districts: Any = None,
    partners: Iterable[str] | str | None = None,
    categories: Iterable[str] | str | None = None,
    band: str | None = None,
    uplift: float | None = None,
    volunteer_hours: float = 0.0,
    officer_hours: float = 0.0,
    cash_gbp: float = 0.0,
    drop_days: Sequence[date | str] | None = None,
    details: dict | None = None,
    notes: str = "",
    by: str = "cli",
) -> dict[str, Any]:
    """Record an initiative and its days per district and phase.

    Parameters
    ----------
    dataset : str
        The force's dataset (name or unique prefix).
    kind : str
        One of :data:`~guardian.operations.initiatives.models.KINDS`.
    start, end : date
        First and last day (see :func:`schedule` for each kind's rules).
    area, cells, districts
        The place: exactly one (see :func:`resolve_place`).
    band : str, optional
        Time band of the deployment days (``"08-16"``, ``"16-24"``, ``"24-08"``); default every
        band. A Street Week's deployment is 24/7, so it takes no band.
    uplift : float, optional
        Demand multiplier on deployment days (1-10; default :data:`DEFAULT_UPLIFT`).
    volunteer_hours, officer_hours, cash_gbp : float
        Resources (hours; pounds of direct spend), all >= 0.
    drop_days : list of date, optional
        Leaflet drop days of a Crime Stoppers Zone.

    Returns
    -------
    dict
        The initiative as :func:`get_initiative` gives it.

    Raises
    ------
    InputError
        Dates out of order, a place outside the force, a negative resource, bad names.
    Conflict
        An initiative of that name already exists for the dataset.
    """
    name = " ".join(str(name or "").split())
    if not _NAME.match(name):
        raise InputError(f"name {name!r}: 2-120 characters, starting with a letter or digit")
    if kind not in KINDS:
        raise InputError(f"kind {kind!r}; expected one of {list(KINDS)}")
    band = (band or "").strip()
    if band and band not in BANDS:
        raise InputError(f"band {band!r}; expected one of {list(BANDS)} (or none for all day)")
    if kind == "street-week" and band:
        raise InputError("a Street Week's deployment week runs 24/7: it takes no band")
    up = DEFAULT_UPLIFT[kind] if uplift is None else _number(uplift, "uplift", lo=1.0, hi=10.0)
    vh = _number(volunteer_hours or 0, "volunteer hours", hi=1e7)
    oh = _number(officer_hours or 0, "officer hours", hi=1e7)
    cash = _number(cash_gbp or 0, "cash (GBP)", hi=1e9)
    last, days = schedule(kind, start, end, drop_days=drop_days)
    first = _date(start, "start")
    cats = _categories(categories)
    parts = _text_list(partners, "partners")
    notes = str(notes or "").strip()[:4000]
    with writing(bind) as conn:
        ds = _dataset(conn, dataset)
        if conn.execute(select(Initiative.id).where(Initiative.dataset_id == ds.id,
                                                    Initiative.name == name)).first():
            raise Conflict(f"{ds.name} already has an initiative named {name!r}")
        place_kind, place, dists = resolve_place(conn, ds, area=area, cells=cells,
                                                 districts=districts)
        iid = conn.execute(insert(Initiative).values(
            dataset_id=ds.id, kind=kind, name=name, start_date=first, end_date=last,
            place_kind=place_kind, place=place, districts=dists, categories=cats,
            partners=parts, band=band, uplift=up, volunteer_hours=vh, officer_hours=oh,
            cash_gbp=cash, details=dict(details or {}), notes=notes, created_at=_now(),
            created_by=str(by)[:60]).returning(Initiative.id)).scalar_one()
        rows = [{"initiative_id": iid, "day": d, "phase": ph, "district": dist, "band": band}
                for d, ph in days for dist in dists]
        if rows:
            conn.execute(insert(InitiativeDay), rows)
        return get_initiative(conn, ref=iid)


def _row(conn: Connection, ref: Any):
    iid = parse_ref(ref)
    r = conn.execute(select(Initiative.__table__, Dataset.name.label("dataset"),
                            Dataset.crs.label("crs"))
                     .join(Dataset, Dataset.id == Initiative.dataset_id)
                     .where(Initiative.id == iid)).first()
    if r is None:
        raise NotFound(f"no initiative {initiative_ref(iid)}")
    return r


def _phases(conn: Connection, iid: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(InitiativeDay.phase, func.min(InitiativeDay.day),
                               func.max(InitiativeDay.day),
                               func.count(func.distinct(InitiativeDay.day)))
                        .where(InitiativeDay.initiative_id == iid)
                        .group_by(InitiativeDay.phase)).all()
    order = {p: i for i, p in enumerate(PHASES)}
    return [{"phase": p, "first": a.isoformat(), "last": b.isoformat(), "days": int(n)}
            for p, a, b, n in sorted(rows, key=lambda r: order.get(r[0], 9))]


def _outcomes(conn: Connection, iid: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(InitiativeOutcome.__table__)
                        .where(InitiativeOutcome.initiative_id == iid)
                        .order_by(InitiativeOutcome.measure, InitiativeOutcome.detail)).all()
    return [{"measure": r.measure, "label": MEASURES.get(r.measure, r.measure),
             "detail": r.detail, "value": float(r.value), "note": r.note,
             "recorded_at": r.recorded_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
             "recorded_by": r.recorded_by} for r in rows]


def outcome_totals(outcomes: list[dict[str, Any]]) -> dict[str, float]:
    """Total per measure (referrals summed over partners)."""
    out: dict[str, float] = {}
    for o in outcomes:
        out[o["measure"]] = out.get(o["measure"], 0.0) + o["value"]
    return out


def _summary(r, rates: dict[str, Any]) -> dict[str, Any]:
    return {"ref": initiative_ref(r.id), "id": r.id, "dataset": r.dataset, "kind": r.kind,
            "name": r.name, "start": r.start_date.isoformat(), "end": r.end_date.isoformat(),
            "place_kind": r.place_kind, "districts": list(r.districts),
            "categories": list(r.categories), "partners": list(r.partners),
            "band": r.band or None, "uplift": float(r.uplift),
            "resources": resources_of(r, rates)}


def get_initiative(bind: Engine | Connection, *, ref: Any) -> dict[str, Any]:
    """One initiative in full: summary, place, phases, outcomes (with totals), details,
    leaflet-drop tasks (a count per status)."""
    with read_connection(bind) as conn:
        r = _row(conn, ref)
        rates = resource_rates(r.dataset)
        out = _summary(r, rates)
        out["place"] = r.place
        geom = place_geometry(r.place_kind, r.place)
        out["place_wgs84"] = None if geom is None else P.wgs84_geojson(geom, r.crs)
        out["area_km2"] = None if geom is None else round(geom.area / 1e6, 4)
        out["phases"] = _phases(conn, r.id)
        out["outcomes"] = _outcomes(conn, r.id)
        out["outcome_totals"] = outcome_totals(out["outcomes"])
        out["details"] = dict(r.details or {})
        out["notes"] = r.notes
        out["created_at"] = r.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        out["created_by"] = r.created_by
        from guardian.operations.initiatives.zones import leaflet_task_counts

        out["leaflet_tasks"] = leaflet_task_counts(conn, r.id)
    return out


def list_initiatives(bind: Engine | Connection, *, dataset: str | None = None,
                     kind: str | None = None, start: date | str | None = None,
                     end: date | str | None = None,
                     categories: Iterable[str] | str | None = None) -> list[dict[str, Any]]:
    """Initiatives (summaries with resources and outcome totals), newest first.

    ``start``/``end`` keep those whose dates overlap the window; ``categories`` keeps those
    targeting any of them or targeting every category (no categories given).
    """
    if kind is not None and kind not in KINDS:
        raise InputError(f"kind {kind!r}; expected one of {list(KINDS)}")
    s = None if start in (None, "") else _date(start, "start")
    e = None if end in (None, "") else _date(end, "end")
    if s and e and e < s:
        raise InputError(f"dates out of order: end {e} is before start {s}")
    cats = set(_categories(categories))
    with read_connection(bind) as conn:
        q = (select(Initiative.__table__, Dataset.name.label("dataset"),
                    Dataset.crs.label("crs"))
             .join(Dataset, Dataset.id == Initiative.dataset_id)
             .order_by(Initiative.start_date.desc(), Initiative.id.desc()))
        if dataset:
            q = q.where(Dataset.id == _dataset(conn, dataset).id)
        if kind:
            q = q.where(Initiative.kind == kind)
        if s:
            q = q.where(Initiative.end_date >= s)
        if e:
            q = q.where(Initiative.start_date <= e)
        rows = conn.execute(q).all()
        if cats:
            rows = [r for r in rows if not r.categories or cats & set(r.categories)]
        rates_by: dict[str, dict] = {}
        out = []
        for r in rows:
            rates = rates_by.setdefault(r.dataset, resource_rates(r.dataset))
            d = _summary(r, rates)
            d["outcome_totals"] = outcome_totals(_outcomes(conn, r.id))
            out.append(d)
    return out


def record_outcome(bind: Engine | Connection, *, ref: Any, measure: str, value: Any,
                   detail: str = "", note: str = "", by: str = "cli") -> dict[str, Any]:
    """Set an outcome value (replacing an earlier value of the same measure and detail).

    Raises :class:`InputError` for an unknown measure, a negative or fractional count, or a
    referral without its partner.
    """
    if measure not in MEASURES:
        raise InputError(f"measure {measure!r}; expected one of {list(MEASURES)}")
    v = _number(value, measure, hi=1e8)
    if v != int(v):
        raise InputError(f"{measure} is a count: a whole number >= 0, got {value!r}")
    detail = " ".join(str(detail or "").split())[:100]
    if measure in NEEDS_DETAIL and not detail:
        raise InputError(f"{measure} needs its detail ({MEASURES[measure]})")
    with writing(bind) as conn:
        r = _row(conn, ref)
        conn.execute(delete(InitiativeOutcome).where(
            InitiativeOutcome.initiative_id == r.id, InitiativeOutcome.measure == measure,
            InitiativeOutcome.detail == detail))
        conn.execute(insert(InitiativeOutcome).values(
            initiative_id=r.id, measure=measure, detail=detail, value=v, recorded_at=_now(),
            recorded_by=str(by)[:60], note=str(note or "").strip()[:2000]))
        return get_initiative(conn, ref=r.id)


def set_resources(bind: Engine | Connection, *, ref: Any, volunteer_hours: Any = None,
                  officer_hours: Any = None, cash_gbp: Any = None) -> dict[str, Any]:
    """Update an initiative's resources (only those given; each >= 0)."""
    vals = {}
    for k, v in (("volunteer_hours", volunteer_hours), ("officer_hours", officer_hours),
                 ("cash_gbp", cash_gbp)):
        if v not in (None, ""):
            vals[k] = _number(v, k.replace("_", " "), hi=1e9)
    if not vals:
        raise InputError("give at least one of volunteer hours, officer hours, cash")
    with writing(bind) as conn:
        r = _row(conn, ref)
        conn.execute(update(Initiative).where(Initiative.id == r.id).values(**vals))
        return get_initiative(conn, ref=r.id)


def for_partner(d: dict[str, Any]) -> dict[str, Any]:
    """What a partner sees of an initiative: aggregates only. The exact area, the notes, who
    recorded what, outcome details (named referral partners) and leaflet tasks are left out;
    outcomes are totals per measure."""
    keep = ("ref", "id", "dataset", "kind", "name", "start", "end", "place_kind", "districts",
            "categories", "partners", "band", "uplift", "resources", "phases", "outcome_totals",
            "area_km2", "evaluation")
    out = {k: d[k] for k in keep if k in d}
    out["aggregated"] = True
    return out


# --------------------------------------------------------------------------------------------
# Import from a TOML or CSV file, with quarantine
# --------------------------------------------------------------------------------------------

IMPORT_FIELDS = ("kind", "name", "start", "end", "districts", "cells", "area", "partners",
                 "categories", "band", "uplift", "volunteer_hours", "officer_hours", "cash_gbp",
                 "drop_days", "notes")


@dataclass(frozen=True)
class ImportReport:
    """What an import did: rows read = created + unchanged + quarantined."""

    rows_read: int
    created: list[str]
    unchanged: list[str]
    quarantined: list[QuarantinedRow]

    def to_dict(self) -> dict[str, Any]:
        return {"rows_read": self.rows_read, "created": self.created,
                "unchanged": self.unchanged,
                "quarantined": [{"line": q.line, "reason": q.reason, "raw": q.raw}
                                for q in self.quarantined]}


def _read_rows(path: Path) -> list[tuple[int, dict[str, Any], str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from exc
    if path.suffix.lower() == ".toml":
        try:
            conf = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: not a TOML file ({exc})") from exc
        items = conf.get("initiative")
        if not isinstance(items, list):
            raise InputError(f"{path}: expected [[initiative]] tables")
        return [(i + 1, dict(it) if isinstance(it, dict) else {"_bad": it},
                 json.dumps(it, default=str)[:2000]) for i, it in enumerate(items)]
    if path.suffix.lower() != ".csv":
        raise InputError(f"{path}: expected a .toml or .csv file")
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"kind", "name", "start"} <= set(reader.fieldnames):
        raise InputError(f"{path}: the header must name at least kind, name, start; columns "
                         f"may be {list(IMPORT_FIELDS)}")
    lines = text.splitlines()
    out = []
    for rec in reader:
        line = reader.line_num
        raw = lines[line - 1] if 0 < line <= len(lines) else ""
        out.append((line, {k: v for k, v in rec.items() if k is not None}, raw[:2000]))
    return out


def _same(existing: dict[str, Any], rec: dict[str, Any]) -> bool:
    return (existing["kind"] == rec["kind"] and existing["start"] == str(rec["start"])
            and (not rec.get("end") or existing["end"] == str(rec["end"])))


def import_initiatives(bind: Engine | Connection, path: str | Path, *, dataset: str,
                       by: str = "import") -> ImportReport:
    """Create the initiatives a TOML (``[[initiative]]`` tables) or CSV file lists.

    Each row is validated as :func:`create_initiative` does; a bad row is quarantined with
    its reason and the rest go in, all in one transaction. Re-running is idempotent: a name
    already stored with the same kind and dates is counted ``unchanged``; with other dates it
    is quarantined (edit or rename it; nothing is overwritten).
    """
    path = Path(path)
    rows = _read_rows(path)
    created, unchanged, bad = [], [], []
    with writing(bind) as conn:
        ds = _dataset(conn, dataset)
        for line, rec, raw in rows:
            unknown = sorted(set(rec) - set(IMPORT_FIELDS))
            if unknown:
                bad.append(QuarantinedRow(line, f"unknown fields {unknown}", raw))
                continue
            rec = {k: v for k, v in rec.items() if v not in (None, "")}
            name = " ".join(str(rec.get("name", "")).split())
            old = conn.execute(select(Initiative.id).where(Initiative.dataset_id == ds.id,
                                                           Initiative.name == name)).first()
            if old is not None:
                existing = get_initiative(conn, ref=old.id)
                if _same(existing, rec):
                    unchanged.append(existing["ref"])
                else:
                    bad.append(QuarantinedRow(line, f"{name!r} is already stored as "
                                              f"{existing['ref']} with other kind or dates", raw))
                continue
            kwargs = dict(rec)
            if isinstance(kwargs.get("drop_days"), str):
                kwargs["drop_days"] = [d for d in kwargs["drop_days"].replace(";", ",").split(",")
                                       if d.strip()]
            if isinstance(kwargs.get("districts"), str):
                kwargs["districts"] = kwargs["districts"].replace(";", ",")
            for k in ("partners", "categories"):
                if isinstance(kwargs.get(k), str):
                    kwargs[k] = kwargs[k].replace(";", ",")
            try:
                with conn.begin_nested():
                    d = create_initiative(conn, dataset=ds.name, by=by, **kwargs)
            except (InputError, Conflict, NotFound, TypeError) as exc:
                bad.append(QuarantinedRow(line, str(exc), raw))
                continue
            created.append(d["ref"])
    return ImportReport(len(rows), created, unchanged, bad)


@dataclass(frozen=True)
class PlannedEvent:
    """A deployment day of an initiative in one district, as the mobilisation plan's demand
    reads it.

    Attributes
    ----------
    district : str
        Policing district the initiative's place touches.
    day : date
        Calendar day (the dataset's local calendar).
    band : str or None
        Time band (``"08-16"``, ``"16-24"``, ``"24-08"``), or None for every band (a Street
        Week's deployment week runs 24/7).
    kind : str
        ``street-week``, ``day-of-action``, ``cs-zone`` or ``campaign``.
    name : str
        The initiative's name.
    uplift : float
        Multiplier on the expected demand of that district, day and band (1.5 = half as much
        again), as the initiative's owner set it (defaults per kind: :data:`DEFAULT_UPLIFT`).
    """

    district: str
    day: date
    band: str | None
    kind: str
    name: str
    uplift: float


def _dataset_ids(conn: Connection, force: str) -> list[int]:
    rows = conn.execute(select(Dataset.id, Dataset.name)).all()
    hits = set(matching_names(force, [r.name for r in rows]))
    # A force short name ("Essex") matches its police.uk dataset ("Essex Police") by prefix.
    return [r.id for r in rows if r.name in hits]


def planned_events(engine: Engine | Connection, force: str, start: date, end: date
                   ) -> list[PlannedEvent]:
    """Deployment days of the force's initiatives between ``start`` and ``end`` (inclusive).

    Parameters
    ----------
    engine : Engine or Connection
        The store.
    force : str
        Dataset name or a unique prefix of it (``"Essex Police"``, ``"essex"``). A name that
        matches no loaded dataset has no initiatives: the answer is an empty list.
    start, end : date
        Inclusive window of calendar days.

    Returns
    -------
    list of PlannedEvent
        One per initiative, district, day and band, sorted by day, district, band, name. Only
        deployment days count (a Street Week's pre-scoping and evaluation weeks do not add
        street demand).
    """
    if end < start:
        return []
    with read_connection(engine) as conn:
        ids = _dataset_ids(conn, force)
        if not ids:
            return []
        rows = conn.execute(
            select(InitiativeDay.district, InitiativeDay.day, InitiativeDay.band,
                   Initiative.kind, Initiative.name, Initiative.uplift)
            .join(Initiative, Initiative.id == InitiativeDay.initiative_id)
            .where(Initiative.dataset_id.in_(ids), InitiativeDay.phase == "deployment",
                   InitiativeDay.day >= start, InitiativeDay.day <= end)
        ).all()
    out = [PlannedEvent(r.district, r.day, r.band or None, r.kind, r.name, float(r.uplift))
           for r in rows]
    return sorted(out, key=lambda e: (e.day, e.district, e.band or "", e.name))


