"""Demand per district, day and time band for a month's mobilisation plan.

How it is computed (every plan stores these sentences as its ``basis``):

* **Harm**: each offence of the latest ``lookback_months`` loaded months before the plan month
  (or the latest loaded, when the plan month is beyond the data) weighted by the harm table
  (``harm_index_v1``: ONS Crime Severity Score per police.uk category), summed per policing
  district and divided by the days those months hold: expected harm per district-day.
* **Day and band**: where every event has a time of day (force extracts with minutes), each
  district-day's harm is split over weekday x band in proportion to the harm of the force's
  timed events in that weekday and band. police.uk gives months only: then demand is
  **month-level**, spread evenly over days and bands, and the plan says so.
* **Planned events** multiply the demand of the deployments they touch: the planning calendar
  (``volunteers-calendar.toml``: days of action, the weekly national event) and initiatives'
  deployment days (:func:`guardian.operations.initiatives.service.planned_events`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, select

from guardian.analysis.mobilise.problem import BANDS
from guardian.data.geography import districts_for, force_short_name, forces
from guardian.data.harm_table import load_harm_weights
from guardian.errors import InputError, NotFound
from guardian.operations.volunteers.availability import month_days, parse_band
from guardian.store.db import read_connection
from guardian.store.models import Dataset, Event, Place

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_CALENDAR = "volunteers-calendar.toml"
MONTH_LEVEL = ("month-level demand: the data has months only (police.uk), so each district's "
               "harm is spread evenly over the days and bands of the month")


@dataclass(frozen=True)
class CalendarEntry:
    """A planning-calendar entry: the days, bands and districts it touches and its uplift."""

    name: str
    uplift: float
    bands: tuple[int, ...]
    districts: tuple[str, ...] | None  # None = all
    weekday: int | None = None
    date: str | None = None  # "YYYY-MM-DD" or "MM-DD"

    def touches(self, district: str, day: date, band: int) -> bool:
        if band not in self.bands:
            return False
        if self.districts is not None and district not in self.districts:
            return False
        if self.weekday is not None:
            return day.weekday() == self.weekday
        return self.date in (day.isoformat(), day.strftime("%m-%d"))


def load_calendar(path: Path | str | None = None) -> tuple[list[CalendarEntry], str]:
    """The planning calendar (the shipped one when ``path`` is None) and its name."""
    if path is None:
        text = (resources.files("guardian.data") / "reference" / DEFAULT_CALENDAR).read_text("utf-8")
        name = DEFAULT_CALENDAR
    else:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"calendar file {str(path)!r} does not exist")
        text, name = p.read_text("utf-8"), p.name
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{name}: not valid TOML ({exc})") from exc
    out = []
    for section in ("weekly", "day"):
        for i, e in enumerate(raw.get(section) or []):
            where = f"{name}: [[{section}]] entry {i + 1}"
            nm = str(e.get("name") or "").strip()
            if not nm:
                raise InputError(f"{where} has no name")
            up = e.get("uplift", 1.0)
            if isinstance(up, bool) or not isinstance(up, int | float) or not 0 < up <= 10:
                raise InputError(f"{where} ({nm}): uplift {up!r} must be a number in (0, 10]")
            bands = tuple(sorted({parse_band(b) for b in (e.get("bands") or BANDS)}))
            ds = e.get("districts", "all")
            districts = None if ds in ("all", None) else tuple(str(d) for d in ds)
            if section == "weekly":
                wd = str(e.get("weekday") or "").strip().lower()
                if wd not in WEEKDAYS:
                    raise InputError(f"{where} ({nm}): weekday {e.get('weekday')!r} is not one of "
                                     f"{[w.title() for w in WEEKDAYS]}")
                out.append(CalendarEntry(nm, float(up), bands, districts, weekday=WEEKDAYS.index(wd)))
            else:
                d = str(e.get("date") or "").strip()
                try:
                    datetime.strptime(d, "%Y-%m-%d" if len(d) == 10 else "%m-%d")
                except ValueError as exc:
                    raise InputError(f"{where} ({nm}): date {d!r} is not YYYY-MM-DD or MM-DD") from exc
                out.append(CalendarEntry(nm, float(up), bands, districts, date=d))
    return out, name


def _dataset(conn: Connection, name: str):
    row = conn.execute(select(Dataset.id, Dataset.name, Dataset.timezone).where(
        Dataset.name == name)).first()
    if row is None:
        names = list(conn.execute(select(Dataset.name).order_by(Dataset.name)).scalars())
        raise NotFound(f"no dataset {name!r} in the store; loaded: {names or 'none'}")
    return row


def _months_before(conn: Connection, ds_id: int, month: str, lookback: int) -> tuple[list, str]:
    months = sorted(conn.execute(select(Event.month).where(Event.dataset_id == ds_id)
                                 .distinct()).scalars())
    if not months:
        raise InputError("the dataset has no events: load data before planning")
    before = [m for m in months if m < month]
    if before:
        used = before[-lookback:]
        return used, f"harm of the {len(used)} loaded months before {month} ({used[0]}..{used[-1]})"
    used = months[-lookback:]
    return used, (f"harm of the latest {len(used)} loaded months ({used[0]}..{used[-1]}); none "
                  f"is before {month}")


def district_demand(bind: Engine | Connection, *, dataset: str, month: str,
                    lookback_months: int = 12, harm_table: str = "harm_index_v1",
                    calendar: Path | str | None = None, districts: list[str] | None = None
                    ) -> tuple[pd.DataFrame, list[str]]:
    """Expected harm-weighted demand per district, day and band of ``month``.

    Returns
    -------
    (DataFrame, list of str)
        ``district, day, band, demand, base, uplift, reason`` (demand in harm points per
        8-hour band: CSS sentence-days of the expected offences) and the basis sentences.
    """
    if not 1 <= int(lookback_months) <= 36:
        raise InputError(f"lookback_months must be 1-36, got {lookback_months}")
    days = month_days(month)
    hw = load_harm_weights(harm_table)
    entries, cal_name = load_calendar(calendar)
    with read_connection(bind) as conn:
        ds = _dataset(conn, dataset)
        used, basis0 = _months_before(conn, ds.id, month, int(lookback_months))
        from sqlalchemy import func

        rows = conn.execute(
            select(Place.lsoa_code, Event.category, func.count())
            .join(Place, Event.place_id == Place.id)
            .where(Event.dataset_id == ds.id, Event.month.in_(used))
            .group_by(Place.lsoa_code, Event.category)).all()
        timed = conn.execute(
            select(Event.occurred_local, Event.category)
            .where(Event.dataset_id == ds.id, Event.month.in_(used),
                   Event.time_precision == "minute")).all()
        n_untimed = conn.execute(select(func.count()).where(
            Event.dataset_id == ds.id, Event.month.in_(used),
            Event.time_precision != "minute")).scalar_one()
    raw = pd.DataFrame(rows, columns=["lsoa_code", "category", "count"])
    short = force_short_name(dataset)
    if short in forces():
        raw["district"] = districts_for(raw["lsoa_code"].astype("string"), short).to_numpy()
    else:
        raw["district"] = dataset
    raw = raw[raw["district"].astype(str).str.len() > 0]
    raw["harm"] = raw["count"].astype(float) * raw["category"].map(hw.weight).astype(float)
    per_district = raw.groupby("district")["harm"].sum()
    if districts:
        missing = sorted(set(districts) - set(per_district.index))
        if missing:
            raise NotFound(f"districts {missing} have no events; districts: "
                           f"{sorted(per_district.index)}")
        per_district = per_district.loc[list(districts)]
    n_days = sum(len(month_days(m)) for m in used)
    per_day = per_district / n_days
    basis = [f"{basis0}, weighted by {hw.version} ({hw.unit}), divided by the {n_days} days "
             "of those months"]
    share = np.full((7, 3), 1 / 21)
    if timed and n_untimed == 0:
        t = pd.to_datetime(pd.Series([r[0] for r in timed]))
        w = pd.Series([hw.weight(r[1]) for r in timed], dtype=float)
        hour = t.dt.hour.to_numpy()
        # band of the hour: 08-16 -> 0, 16-24 -> 1, 00-08 -> 2 of the previous day's night
        band = np.where(hour >= 16, 1, np.where(hour >= 8, 0, 2))
        wd = t.dt.weekday.to_numpy()
        wd = np.where(band == 2, (wd - 1) % 7, wd)
        grid = np.zeros((7, 3))
        np.add.at(grid, (wd, band), w.to_numpy())
        if grid.sum() > 0:
            share = grid / grid.sum()
            basis.append(f"split over weekday x band by the harm of {len(timed)} timed events")
    else:
        basis.append(MONTH_LEVEL)
    out = []
    for d, base_day in per_day.items():
        for day in days:
            for b in range(3):
                base = float(base_day) * 7 * share[day.weekday(), b]
                up, why = 1.0, []
                for e in entries:
                    if e.touches(str(d), day, b):
                        up *= e.uplift
                        why.append(f"{e.name} (x{e.uplift:g})")
                out.append(dict(district=str(d), day=day, band=b, base=base, uplift=up,
                                reasons=why))
    frame = pd.DataFrame(out)
    basis.append(f"planning calendar: {cal_name} ({len(entries)} entries)")
    events = _planned(bind, dataset, days[0], days[-1])
    for ev in events:
        ev_band = None if ev["band"] is None else parse_band(ev["band"])
        hit = (frame["district"] == ev["district"]) & (frame["day"] == ev["day"])
        if ev_band is not None:
            hit &= frame["band"] == ev_band
        for i in frame.index[hit]:
            frame.at[i, "uplift"] *= ev["uplift"]
            frame.at[i, "reasons"] = [*frame.at[i, "reasons"],
                                      f"{ev['kind']} {ev['name']} (x{ev['uplift']:g})"]
    basis.append(f"initiatives: {len(events)} planned deployment day-bands in {month}")
    frame["demand"] = frame["base"] * frame["uplift"]
    frame["reason"] = [
        f"expected harm {b:.1f}" + (" x " + ", ".join(r) if r else "")
        for b, r in zip(frame["base"], frame["reasons"], strict=True)]
    return frame.drop(columns=["reasons"]), basis


def _planned(bind, dataset: str, start: date, end: date) -> list[dict[str, Any]]:
    from guardian.operations.initiatives.service import planned_events

    out = []
    for e in planned_events(bind, dataset, start, end):
        get = e.get if isinstance(e, dict) else lambda k, e=e: getattr(e, k)
        if not start <= get("day") <= end:
            continue
        out.append(dict(district=get("district"), day=get("day"), band=get("band"),
                        kind=get("kind"), name=get("name"), uplift=float(get("uplift"))))
    return out
