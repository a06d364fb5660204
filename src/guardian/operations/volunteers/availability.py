"""Availability: when each volunteer is free, per day and time band.

Imported from the rostering tool's export (the ``[availability]`` section of the registry
mapping: one row per free shift) or set on the web form. A re-import adds what is new and
changes nothing else; a refused row goes to the quarantine with its reason.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, insert, select

from guardian.analysis.mobilise.problem import BANDS
from guardian.data.sources import sha256_bytes
from guardian.errors import InputError
from guardian.operations.volunteers.models import Availability, Volunteer
from guardian.operations.volunteers.registry import (
    ImportResult,
    _quarantine,
    _read_rows,
    load_mapping,
    parse_ref,
    volunteer_ref,
)
from guardian.store.db import read_connection, write_begin


def parse_band(value: Any, names: dict[str, int] | None = None) -> int:
    """``0``/``"08-16"`` -> 0, ``1``/``"16-24"`` -> 1, ``2``/``"24-08"``/``"00-08"`` -> 2, or a
    name from the mapping's ``[availability.bands]``."""
    text = str(value).strip().lower()
    if names and text in names:
        return names[text]
    aliases = {"0": 0, "08-16": 0, "1": 1, "16-24": 1, "2": 2, "24-08": 2, "00-08": 2}
    if text in aliases:
        return aliases[text]
    raise InputError(f"time band {value!r} is not one of {list(BANDS)}"
                     + (f" or {sorted(names)}" if names else ""))


def month_days(month: str) -> list[date]:
    """Every day of ``YYYY-MM``."""
    try:
        first = datetime.strptime(str(month).strip(), "%Y-%m").date()
    except ValueError as exc:
        raise InputError(f"month {month!r} is not YYYY-MM") from exc
    out = []
    d = first
    while d.month == first.month:
        out.append(d)
        d += timedelta(days=1)
    return out


def import_availability(bind: Engine | Connection, *, path: Path | str,
                        mapping: Path | str) -> ImportResult:
    """Import free shifts: one row per volunteer id, date and band (mapping ``[availability]``).

    Returns
    -------
    ImportResult
        ``added`` new free shifts, ``unchanged`` ones already known, ``quarantined`` refused.
    """
    m = load_mapping(mapping)
    cols = m.availability
    for f in ("id", "date", "band"):
        if not cols.get(f):
            raise InputError(f"mapping: [availability] must name the export's column for {f!r}")
    rows, lines, name, data = _read_rows(path)
    sha = sha256_bytes(data)
    bad: list[tuple[int, str, str]] = []
    added = unchanged = 0
    with write_begin(bind) as conn:
        ids = {r.source_id: r.id for r in conn.execute(
            select(Volunteer.source_id, Volunteer.id).where(Volunteer.active.is_(True)))}
        have = {(r.volunteer_id, r.day, r.band) for r in conn.execute(
            select(Availability.volunteer_id, Availability.day, Availability.band))}
        new = []
        for i, row in enumerate(rows):
            line, raw = i + 2, (lines[i + 1] if i + 1 < len(lines) else "")
            try:
                missing = [c for c in (cols["id"], cols["date"], cols["band"]) if c not in row]
                if missing:
                    raise InputError(f"the export has no column {missing[0]!r}")
                sid = str(row[cols["id"]] or "").strip()
                if sid not in ids:
                    raise InputError(f"volunteer id {sid!r} is not in the registry (import the "
                                     "registry first)")
                text = str(row[cols["date"]] or "").strip()
                try:
                    day = datetime.strptime(text, m.date_format).date()
                except ValueError as exc:
                    raise InputError(f"date {text!r} is not in the format {m.date_format}") from exc
                band = parse_band(row[cols["band"]], m.bands)
            except InputError as exc:
                bad.append((line, str(exc), raw))
                continue
            key = (ids[sid], day, band)
            if key in have:
                unchanged += 1
                continue
            have.add(key)
            new.append(dict(volunteer_id=key[0], day=day, band=band, source="import"))
        if new:
            conn.execute(insert(Availability), new)
        added = len(new)
        _quarantine(conn, "availability", name, sha, bad)
    return ImportResult(name, len(rows), added, 0, unchanged, len(bad),
                        tuple(f"line {ln}: {r}" for ln, r, _ in sorted(bad)))


def set_availability(bind: Engine | Connection, *, ref: Any, month: str,
                     shifts: list[tuple[date, int]]) -> int:
    """Replace a volunteer's free shifts in ``month`` with ``shifts`` (the web form).

    Returns the number of free shifts stored for the month."""
    vid = parse_ref(ref)
    days = month_days(month)
    lo, hi = days[0], days[-1]
    clean = set()
    for day, band in shifts:
        if not lo <= day <= hi:
            raise InputError(f"{day} is not in {month}")
        clean.add((day, parse_band(band)))
    with write_begin(bind) as conn:
        if conn.execute(select(Volunteer.id).where(Volunteer.id == vid)).first() is None:
            from guardian.errors import NotFound

            raise NotFound(f"no volunteer {volunteer_ref(vid)}")
        conn.execute(delete(Availability).where(and_(
            Availability.volunteer_id == vid, Availability.day >= lo, Availability.day <= hi)))
        if clean:
            conn.execute(insert(Availability), [dict(volunteer_id=vid, day=d, band=b,
                                                     source="form") for d, b in sorted(clean)])
    return len(clean)


def availability(bind: Engine | Connection, *, month: str, ref: Any = None) -> list[dict]:
    """Free shifts in ``month`` (of one volunteer with ``ref``): ref, day, band."""
    days = month_days(month)
    q = select(Availability.volunteer_id, Availability.day, Availability.band).join(
        Volunteer, Volunteer.id == Availability.volunteer_id).where(
        Availability.day >= days[0], Availability.day <= days[-1], Volunteer.active.is_(True))
    if ref is not None:
        q = q.where(Availability.volunteer_id == parse_ref(ref))
    with read_connection(bind) as conn:
        rows = conn.execute(q.order_by(Availability.day, Availability.band,
                                       Availability.volunteer_id)).all()
    return [{"ref": volunteer_ref(r.volunteer_id), "day": r.day.isoformat(), "band": r.band,
             "band_label": BANDS[r.band]} for r in rows]
