"""Exports of a stored plan: a CSV of every assignment, and an ICS calendar per volunteer
(RFC 5545: one VEVENT per shift, times in UTC)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from guardian.errors import NotFound
from guardian.operations.volunteers.plans import get_plan, shift_window
from guardian.operations.volunteers.registry import parse_ref, volunteer_ref

CSV_COLUMNS = ("plan", "volunteer", "name", "type", "district", "day", "band", "start", "end",
               "fixed", "why")


def plan_csv(bind, *, plan_id: Any, tz: str | None = None) -> str:
    """Every assignment of a plan as CSV text (local start/end with their UTC offset)."""
    p = get_plan(bind, plan_id=plan_id)
    tz = tz or p["timezone"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for a in p["assignments"]:
        start, end = shift_window(datetime.fromisoformat(a["day"]).date(), a["band"], tz)
        w.writerow([p["ref"], a["volunteer"], a["name"], a["kind"], a["district"], a["day"],
                    a["band_label"], start.isoformat(), end.isoformat(),
                    "yes" if a["fixed"] else "no", a["why"]])
    return buf.getvalue()


def _ics_text(value: str) -> str:
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n"))


def _fold(line: str) -> str:
    # RFC 5545 3.1: lines longer than 75 octets are folded with CRLF + space
    out, data = [], line.encode("utf-8")
    while len(data) > 75:
        cut = 75
        while cut and (data[cut] & 0xC0) == 0x80:  # never split a UTF-8 character
            cut -= 1
        out.append(data[:cut].decode("utf-8"))
        data = b" " + data[cut:]
    out.append(data.decode("utf-8"))
    return "\r\n".join(out)


def _utc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def volunteer_ics(bind, *, plan_id: Any, volunteer: Any, tz: str | None = None,
                  stamp: datetime | None = None) -> str:
    """The ICS calendar of one volunteer's shifts in a plan."""
    p = get_plan(bind, plan_id=plan_id)
    ref = volunteer_ref(parse_ref(volunteer))
    tz = tz or p["timezone"]
    mine = [a for a in p["assignments"] if a["volunteer"] == ref]
    if not mine:
        raise NotFound(f"{ref} has no shift in {p['ref']}")
    stamp = stamp or datetime.now(UTC)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Guardian//mobilise//EN",
             "CALSCALE:GREGORIAN", "METHOD:PUBLISH"]
    for a in mine:
        start, end = shift_window(datetime.fromisoformat(a["day"]).date(), a["band"], tz)
        lines += ["BEGIN:VEVENT",
                  f"UID:{p['ref']}-{ref}-{a['day']}-{a['band']}@guardian",
                  f"DTSTAMP:{_utc(stamp)}", f"DTSTART:{_utc(start)}", f"DTEND:{_utc(end)}",
                  f"SUMMARY:{_ics_text('Volunteer deployment: ' + a['district'])}",
                  f"LOCATION:{_ics_text(a['district'])}",
                  f"DESCRIPTION:{_ics_text(a['why'])}", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(x) for x in lines) + "\r\n"


def export_plan(bind, *, plan_id: Any, out_dir: Path | str, tz: str | None = None
                ) -> dict[str, Any]:
    """Write ``<plan>.csv`` and ``<plan>-<volunteer>.ics`` for every volunteer in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    p = get_plan(bind, plan_id=plan_id)
    (out / f"{p['ref']}.csv").write_text(plan_csv(bind, plan_id=p["id"], tz=tz), "utf-8")
    refs = sorted({a["volunteer"] for a in p["assignments"]})
    for r in refs:
        (out / f"{p['ref']}-{r}.ics").write_bytes(
            volunteer_ics(bind, plan_id=p["id"], volunteer=r, tz=tz).encode("utf-8"))
    return {"csv": str(out / f"{p['ref']}.csv"), "ics": len(refs), "dir": str(out)}
