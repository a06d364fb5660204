"""Time handling of cocoons: "as of" times, UTC storage, calendar days, timing caveats.

The store keeps naive UTC (``*_at``) and the source's naive local report time
(``reported_local``); the risk window is counted in calendar days on local wall-clock time, so
a daylight-saving change never moves a day boundary. Nothing here reads the clock: every "as
of" time is a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from guardian.errors import InputError

TIMING = {
    "month": "approximate (month-resolution data)",
    "day": "approximate (day-resolution data)",
    "minute": "exact",
}


TIMING_NOTE = {
    "month": (
        "police.uk publishes the month only: each burglary's report time is taken as the first "
        "of its month (00:00 local), so visit deadlines, overdue lists and expiry are "
        "approximate, and burglaries in one month are never near repeats of each other."
    ),
    "day": (
        "the data give the date only: each burglary's report time is taken as 00:00 local on "
        "its date, so the 48-hour deadline is counted from the start of that day."
    ),
    "minute": "report times are exact.",
}


_PRECISION_ORDER = {"minute": 0, "day": 1, "month": 2}


def _utc(value: Any, name: str = "as_of") -> datetime:
    """A tz-aware datetime as naive UTC (how the store keeps times)."""
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        raise InputError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{name} {value.isoformat()} has no timezone; give an aware datetime "
                         "(e.g. 2016-02-01T00:00+00:00) so the deadline arithmetic is unambiguous")
    return value.astimezone(UTC).replace(tzinfo=None)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    return value.replace(tzinfo=UTC).isoformat()


def _timing(precisions: Sequence[str]) -> str:
    """The timing caveat of the coarsest time precision present."""
    return TIMING[_coarsest(precisions)]


def _coarsest(precisions: Sequence[str]) -> str:
    ps = [p for p in precisions if p in _PRECISION_ORDER] or ["minute"]
    return max(ps, key=_PRECISION_ORDER.__getitem__)


def _to_utc_naive(local: pd.Series | pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(pd.to_datetime(local))
    aware = idx.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    return aware.tz_convert("UTC").tz_localize(None)


def _days(values: Any) -> np.ndarray:
    """Naive datetimes as float days since 1970 (calendar arithmetic on wall-clock times)."""
    a = pd.DatetimeIndex(pd.to_datetime(values)).as_unit("ns").asi8
    return a.astype(np.float64) / 86_400e9


def _spans(members: pd.DataFrame, tz_of: dict[int, str]) -> pd.DataFrame:
    """``opened_at, ends_at`` (naive UTC) of every cocoon at once: first report, and the latest
    report + window in calendar days (one timezone conversion per timezone).

    Returns
    -------
    DataFrame
        Indexed by ``cocoon_id``: ``opened_at`` (first report) and ``ends_at`` (latest report +
        window, calendar days), naive UTC ``datetime64``.
    """
    if members.empty:
        return pd.DataFrame({"opened_at": pd.Series(dtype="datetime64[ns]"),
                             "ends_at": pd.Series(dtype="datetime64[ns]")})
    cid = members["cocoon_id"].to_numpy(np.int64)
    local_end = pd.DatetimeIndex(pd.to_datetime(members["reported_local"])).as_unit("ns") + \
        pd.to_timedelta(members["window_days"].to_numpy(float), unit="D")
    end = np.full(len(members), np.datetime64("NaT"), dtype="datetime64[ns]")
    tzs = pd.Series(cid).map(tz_of).to_numpy(object)
    for tz in pd.unique(tzs):
        sel = tzs == tz
        end[sel] = _to_utc_naive(local_end[sel], tz).as_unit("ns").to_numpy()
    frame = pd.DataFrame({
        "cocoon_id": cid, "end": end,
        "reported": pd.DatetimeIndex(pd.to_datetime(members["reported_at"])).as_unit("ns")})
    return frame.groupby("cocoon_id").agg(opened_at=("reported", "min"), ends_at=("end", "max"))


def _pydt(value: Any) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).to_pydatetime()

