"""Patrol plans' defaults, references, and the checks and time handling of their inputs.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from guardian.errors import InputError

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
