"""Monthly series checked before any forecast: continuity, length and structural breaks.

A forecast is made only from a *continuous* run of loaded months. A month that was not loaded
is a gap and the series is refused, naming the missing months, because an unloaded month is not
zero and interpolating it would invent crime. Months inside a declared **break window** (the
2020-21 lockdowns by default) are different: they were loaded, but they are known to follow a
different regime. They are kept in the series and treated as *missing observations* by every
method (the models' one-step predictions run through them and their errors are not used to fit),
which for these linear state-space models is the same as giving each break month its own pulse
dummy: the break months then have no influence on the fitted parameters or on the seasonal
pattern. Seasonal naive uses the latest same-calendar month outside the window. See
``docs/forecast.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from guardian.data.months import add_months, month_range
from guardian.errors import InputError

SEASON = 12
"""Months in a seasonal cycle."""

MIN_TRAIN_MONTHS = 36
"""Months a fit needs: two full years to start the seasonal state, one more to estimate the
smoothing parameters and the residual variance from observations the start did not use."""

MIN_OBSERVED_START = 24
"""The first two years of a series must be observed (outside any break window)."""


@dataclass(frozen=True)
class BreakWindow:
    """Inclusive ``YYYY-MM`` months known to follow another regime (e.g. a lockdown)."""

    start: str
    end: str
    label: str = ""

    def months(self) -> list[str]:
        return month_range(self.start, self.end)

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "label": self.label}


LOCKDOWNS_2020_21 = BreakWindow(
    "2020-03", "2021-03", "COVID-19 lockdowns and restrictions in England (Mar 2020 - Mar 2021)"
)
"""Default break window: from the first lockdown (23 March 2020) to the end of the third
(stay-at-home order lifted 29 March 2021)."""


@dataclass(frozen=True)
class MonthlySeries:
    """A checked monthly series.

    Attributes
    ----------
    months : list of str
        Continuous ``YYYY-MM`` months.
    values : ndarray, shape (n,)
        Counts, float; NaN inside break windows (excluded from fitting).
    counts : ndarray, shape (n,)
        The counts as loaded (break months included).
    excluded : list of str
        Months excluded as inside a break window.
    breaks : list of BreakWindow
    """

    months: list[str]
    values: np.ndarray = field(repr=False)
    counts: np.ndarray = field(repr=False)
    excluded: list[str]
    breaks: list[BreakWindow]
    label: str = ""

    @property
    def n(self) -> int:
        return len(self.months)

    def future_months(self, horizon: int) -> list[str]:
        return [add_months(self.months[-1], h) for h in range(1, horizon + 1)]


def _span(months: list[str]) -> str:
    runs: list[list[str]] = []
    for m in months:
        if runs and add_months(runs[-1][-1], 1) == m:
            runs[-1].append(m)
        else:
            runs.append([m])
    return ", ".join(r[0] if len(r) == 1 else f"{r[0]}..{r[-1]}" for r in runs)


def prepare_series(
    counts: pd.Series,
    *,
    loaded_months: list[str] | None = None,
    breaks: list[BreakWindow] | None = None,
    break_policy: str = "exclude",
    min_months: int = MIN_TRAIN_MONTHS,
    label: str = "",
) -> MonthlySeries:
    """Check a monthly count series and return it ready to forecast.

    Parameters
    ----------
    counts : Series
        Counts indexed by ``YYYY-MM`` (months with no events may be absent when
        ``loaded_months`` says they were loaded: they count 0).
    loaded_months : list of str, optional
        The months whose data was loaded; default: the index of ``counts``. Every month from
        the first to the last loaded month must be loaded.
    breaks : list of BreakWindow, optional
        Default ``[LOCKDOWNS_2020_21]``; ``[]`` for none.
    break_policy : {"exclude", "refuse", "ignore"}
        ``exclude``: break months are missing observations (see the module docstring);
        ``refuse``: a series touching a break window is refused; ``ignore``: fit through it.
    min_months : int
        Continuous months needed (default :data:`MIN_TRAIN_MONTHS`).

    Raises
    ------
    InputError
        When months are missing inside the range (naming them), when the series is shorter
        than ``min_months`` (saying how many are needed), when the first two years are not
        observed, or when ``break_policy="refuse"`` and the series touches a break.
    """
    if break_policy not in ("exclude", "refuse", "ignore"):
        raise InputError(
            f"break policy {break_policy!r} is not one of 'exclude', 'refuse', 'ignore'"
        )
    what = f"{label}: " if label else ""
    loaded = sorted(set(loaded_months if loaded_months is not None else counts.index.astype(str)))
    if not loaded:
        raise InputError(f"{what}no months loaded; a forecast needs {min_months} continuous months")
    idx = [str(m) for m in counts.index]
    extra = sorted(set(idx) - set(loaded))
    if extra:
        raise InputError(f"{what}counts given for months not loaded: {_span(extra)}")
    full = month_range(loaded[0], loaded[-1])
    missing = sorted(set(full) - set(loaded))
    if missing:
        raise InputError(
            f"{what}the series {loaded[0]}..{loaded[-1]} has gaps: {_span(missing)} "
            f"({len(missing)} months) not loaded. A forecast needs {min_months} continuous "
            f"months; the longest continuous run is {_longest_run(loaded)}. Load the missing "
            "months (an unloaded month is not zero and is never filled in)"
        )
    if len(full) < min_months:
        raise InputError(
            f"{what}the series {full[0]}..{full[-1]} has {len(full)} months; a forecast needs "
            f"at least {min_months} continuous months ({min_months - len(full)} more)"
        )
    c = pd.Series(counts.to_numpy(float), index=idx).reindex(full).fillna(0.0)
    if (c < 0).any():
        raise InputError(f"{what}negative counts in {_span(list(c.index[c < 0]))}")
    breaks = [LOCKDOWNS_2020_21] if breaks is None else list(breaks)
    inside = sorted({m for b in breaks for m in b.months()} & set(full))
    if inside and break_policy == "refuse":
        raise InputError(
            f"{what}the series touches the break window {_span(inside)}; refused (break policy "
            "'refuse'). Use the months after the break, or the policy 'exclude'"
        )
    values = c.to_numpy(float).copy()
    excluded: list[str] = []
    if break_policy == "exclude" and inside:
        pos = {m: i for i, m in enumerate(full)}
        ii = [pos[m] for m in inside]
        values[ii] = np.nan
        excluded = inside
        if min(ii) < MIN_OBSERVED_START:
            after = add_months(inside[-1], 1)
            raise InputError(
                f"{what}the break window {_span(inside)} falls in the first "
                f"{MIN_OBSERVED_START} months of the series, which start the seasonal pattern; "
                f"start the series at {after} or earlier than {add_months(inside[0], -MIN_OBSERVED_START)}"
            )
        observed = int(np.isfinite(values).sum())
        if observed < min_months:
            raise InputError(
                f"{what}{observed} months are observed outside the break window "
                f"{_span(inside)}; a forecast needs at least {min_months}"
            )
    return MonthlySeries(
        months=full,
        values=values,
        counts=c.to_numpy(float),
        excluded=excluded,
        breaks=breaks,
        label=label,
    )


def _longest_run(months: list[str]) -> str:
    best, cur = [months[0]], [months[0]]
    for m in months[1:]:
        cur = cur + [m] if add_months(cur[-1], 1) == m else [m]
        if len(cur) > len(best):
            best = cur
    return f"{len(best)} months ({best[0]}..{best[-1]})"


def detect_breaks(series: MonthlySeries, *, threshold: float = 4.0) -> list[str]:
    """Months whose year-on-year change departs from the rest by more than ``threshold``
    robust standard deviations (1.4826 x MAD) — candidates for a break window.

    Reported, never acted on: a break window is declared by the user (or the default
    lockdown window), so a forecast never silently drops data.
    """
    y = series.counts
    if len(y) <= SEASON + 2:
        return []
    d = y[SEASON:] - y[:-SEASON]
    med = np.median(d)
    mad = 1.4826 * np.median(np.abs(d - med))
    if mad <= 0:
        return []
    z = np.abs(d - med) / mad
    return [series.months[SEASON + i] for i in np.flatnonzero(z > threshold)]
