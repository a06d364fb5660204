"""Helpers shared by the targeting and action sections (harm spots, risk map, cocoons, patrols):
month boundaries in local time, British National Grid to longitude/latitude, wording."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

import numpy as np
import pandas as pd

from guardian.analysis import performance as perf
from guardian.errors import GuardianError

APPROXIMATE = "approximate (police.uk snapped map points)"
EXACT = "exact (force extract locations)"


def local_tz(ctx) -> str:
    """The force's timezone (``UTC`` when unknown)."""
    if ctx.timezone:
        return ctx.timezone
    ev = ctx.scratch.get("_tz_probe")
    if ev is None:
        try:
            tz = ctx.targeting_events["time"].dt.tz
            ev = str(tz) if tz is not None else "UTC"
        except (KeyError, AttributeError):
            ev = "UTC"
        ctx.scratch["_tz_probe"] = ev
    return ev


def month_start(month: str, tz: str) -> pd.Timestamp:
    """Local midnight on the first of ``month``."""
    return pd.Timestamp(f"{month}-01").tz_localize(tz)


def end_of_month_utc(month: str, tz: str) -> datetime:
    """The end of ``month`` (local midnight on the first of the next month) as an aware UTC
    datetime: the "as of" time of the operations sections."""
    return month_start(perf.add_months(month, 1), tz).tz_convert("UTC").to_pydatetime()


@lru_cache(maxsize=8)
def _transformer(crs: str):
    from pyproj import Transformer

    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def to_lonlat(x, y, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Projected metres -> longitude, latitude (WGS84 degrees), for the interactive map only."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if not crs:
        return np.full(x.shape, np.nan), np.full(y.shape, np.nan)
    tr = _transformer(crs)
    lon, lat = tr.transform(x, y)
    return np.round(np.asarray(lon, float), 6), np.round(np.asarray(lat, float), 6)


def events_crs(ev: pd.DataFrame) -> str:
    if "crs" not in ev.columns or ev.empty:
        return ""
    vals = ev["crs"].dropna().astype(str).unique()
    return str(vals[0]) if len(vals) else ""


def precision_label(ev: pd.DataFrame) -> str:
    if "time_precision" in ev.columns and (ev["time_precision"].astype(str) == "month").any():
        return APPROXIMATE
    return EXACT


def reason(exc: BaseException, what: str) -> str:
    """A plain reason for an unavailable section (domain errors as they are; others named)."""
    if isinstance(exc, GuardianError):
        return f"{what}: {exc}"
    return f"{what}: {type(exc).__name__}: {exc}"
