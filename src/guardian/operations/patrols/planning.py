"""Pure plan logic for hot-spot patrols: the random patrol/control day design, the hour-of-day
profile, visit durations and delivered dosage against plan.

Nothing here touches the store: arrays and frames in, frozen dataclasses or frames out. The
service (:mod:`guardian.operations.patrols.service`) stores and reads what these compute.

Notes
-----
Koper (1995) "Just enough police presence: reducing crime and disorderly behavior by optimizing
patrol time in crime hot spots", Justice Quarterly 12(4) 649-672: disorder fell most when police
stayed in a hot spot for about 10-15 minutes; the residual deterrence decays after about 15
minutes of presence, so short visits, repeated at random intervals, give the most "dosage"
per officer hour. Guardian counts a visit of 10 to 20 minutes (both inclusive) as within the
Koper band.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from guardian.errors import InputError

DAYS_PER_WEEK = 7
KOPER_MIN_MINUTES = 10.0
KOPER_MAX_MINUTES = 20.0
MAX_VISIT_MINUTES = 12 * 60.0
"""A logged visit longer than this (12 hours) is refused as a data-entry error."""

DEFAULT_PATROL_CATEGORIES: tuple[str, ...] = (
    "Violence and sexual offences",
    "Robbery",
    "Public order",
    "Theft from the person",
)
"""Street-violence harm targeted by default: violence, robbery, public order, theft from the
person. Possession of weapons and drugs are police-generated (found by patrols) and excluded."""

NO_TIME_OF_DAY = "no time-of-day data; peak hours unknown"


def _check_int(value: Any, name: str, lo: int, hi: int, unit: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(f"{name} must be a whole number, got {value!r}")
    if not (lo <= int(value) <= hi):
        raise InputError(f"{name} must be between {lo} and {hi}{unit}, got {value}")
    return int(value)


# --------------------------------------------------------------------------------------------
# Random patrol / control days
# --------------------------------------------------------------------------------------------


def random_day_design(
    n_spots: int,
    *,
    patrol_days: int,
    days: int = DAYS_PER_WEEK,
    random_state: int | None,
) -> np.ndarray:
    """Random patrol and control days, balanced within each spot and within each day.

    Each spot is patrolled on exactly ``patrol_days`` of the ``days`` days and is a control on
    the rest; each day has ``floor(n * k / days)`` or ``ceil(n * k / days)`` spots on patrol,
    so weekday effects fall equally on both arms.

    Parameters
    ----------
    n_spots : int
        Number of spots (rows).
    patrol_days : int
        Patrol days per spot, ``1 <= k <= days - 1`` (at least one control day).
    days : int
        Days in the plan (default 7).
    random_state : int
        Seed (non-negative). Required: the seed is stored with the plan so the design can be
        reproduced and audited.

    Returns
    -------
    ndarray of bool, shape (n_spots, days)
        ``True`` = patrol day, ``False`` = control day.

    Notes
    -----
    Construction: spot ``i`` (in a random order) takes the ``k`` consecutive positions
    ``i*k, ..., i*k + k - 1`` modulo ``days`` (a round-robin fill, which balances the day
    totals), and positions are mapped to calendar days by a random permutation. The image of a
    fixed ``k``-set under a uniformly random permutation is a uniformly random ``k``-set, so
    each spot's patrol days are, on their own, a uniform random choice of ``k`` of the days.
    """
    n = _check_int(n_spots, "n_spots", 1, 10_000)
    d = _check_int(days, "days", 2, 366)
    k = _check_int(patrol_days, "patrol_days", 1, d - 1,
                   f" (at least one control day in {d}; omit random days for patrols every day)")
    if random_state is None:
        raise InputError("random_state is required for a random day design (the seed is stored "
                         "with the plan so the design can be reproduced)")
    seed = _check_int(random_state, "random_state", 0, 2**63 - 1)
    rng = np.random.default_rng(seed)
    spot_order = rng.permutation(n)
    day_of_position = rng.permutation(d)
    design = np.zeros((n, d), dtype=bool)
    for slot, spot in enumerate(spot_order):
        pos = (slot * k + np.arange(k)) % d
        design[spot, day_of_position[pos]] = True
    return design


def all_days_design(n_spots: int, *, days: int = DAYS_PER_WEEK) -> np.ndarray:
    """Every spot patrolled every day (no control days): shape ``(n_spots, days)``, all True."""
    n = _check_int(n_spots, "n_spots", 1, 10_000)
    return np.ones((n, _check_int(days, "days", 1, 366)), dtype=bool)


# --------------------------------------------------------------------------------------------
# Hour-of-day profile
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HourProfile:
    """When in the day the targeted offences happened.

    Attributes
    ----------
    known : bool
        False when any event has only a month or a date (police.uk): then nothing else is set.
    counts : tuple of int, length 24 (or empty)
        Events per local hour 0-23.
    peak_start, peak_end : int or None
        Busiest window of ``window_h`` consecutive hours (wrapping past midnight),
        ``[peak_start, peak_end)`` in local hours; ``peak_end`` may be smaller than
        ``peak_start`` (e.g. 22 -> 2).
    window_h : int
    peak_share : float or None
        Share of the events in the window (a flat day would give ``window_h / 24``).
    n_events : int
    note : str
    """

    known: bool
    counts: tuple = ()
    peak_start: int | None = None
    peak_end: int | None = None
    window_h: int = 4
    peak_share: float | None = None
    n_events: int = 0
    note: str = NO_TIME_OF_DAY

    def to_dict(self) -> dict:
        return {
            "known": self.known, "counts": list(self.counts), "peak_start": self.peak_start,
            "peak_end": self.peak_end, "window_h": self.window_h, "peak_share": self.peak_share,
            "n_events": self.n_events, "note": self.note,
        }


def hour_profile(local_times: pd.Series, precision: pd.Series, *, window_h: int = 4) -> HourProfile:
    """Hour-of-day profile of events and their busiest ``window_h``-hour window.

    Parameters
    ----------
    local_times : Series of datetime
        Event times in local (wall-clock) time, tz-aware or naive.
    precision : Series of str
        ``time_precision`` per event ("month", "day", "minute").
    window_h : int
        Width of the peak window in hours (default 4).

    Returns
    -------
    HourProfile
        ``known=False`` with the note "no time-of-day data; peak hours unknown" when any event
        lacks a time of day (police.uk publishes months only); hours are never invented.
        Ties between windows go to the earliest start hour.
    """
    w = _check_int(window_h, "window_h", 1, 23, " hours")
    prec = pd.Series(precision).astype(str)
    n = len(prec)
    if n == 0:
        return HourProfile(known=False, window_h=w, note="no events in the spots; peak hours unknown")
    if (prec != "minute").any():
        return HourProfile(known=False, window_h=w, n_events=n, note=NO_TIME_OF_DAY)
    hours = pd.DatetimeIndex(pd.to_datetime(pd.Series(local_times))).hour.to_numpy()
    counts = np.bincount(hours, minlength=24)
    ext = np.concatenate([counts, counts[: w - 1]])
    window = np.convolve(ext, np.ones(w, dtype=int), mode="valid")[:24]
    start = int(np.argmax(window))
    share = float(window[start] / n)
    end = (start + w) % 24
    note = (f"peak hours {start:02d}:00-{end:02d}:00 local: {share:.0%} of {n:,} offences in the "
            f"spots (a flat day would put {w / 24:.0%} in any {w} hours)")
    return HourProfile(known=True, counts=tuple(int(c) for c in counts), peak_start=start,
                       peak_end=end, window_h=w, peak_share=share, n_events=n, note=note)


# --------------------------------------------------------------------------------------------
# Dosage
# --------------------------------------------------------------------------------------------


def in_koper_band(minutes, *, lo: float = KOPER_MIN_MINUTES, hi: float = KOPER_MAX_MINUTES):
    """True where a visit lasted ``lo <= minutes <= hi`` (default 10-20 minutes)."""
    m = np.asarray(minutes, dtype=float)
    return (m >= lo) & (m <= hi)


@dataclass(frozen=True)
class DosageResult:
    """Delivered dosage against plan.

    Attributes
    ----------
    days : DataFrame
        One row per spot and day: ``spot, day, arm`` ("patrol"/"control"), ``visits_planned,
        minutes_planned, visits, minutes`` (all visits logged that day), ``visits_credited``
        (``min(visits, visits_planned)``: extra visits on a day do not make up for a missed
        one), ``koper_visits`` (visits of 10-20 minutes), ``contamination`` (visits on a
        control day).
    spots : DataFrame
        The same summed per spot, with ``completion`` (credited / planned).
    totals : dict
        ``visits_planned, visits_delivered`` (on patrol days), ``visits_credited, completion``,
        ``minutes_planned, minutes_delivered`` (on patrol days), ``visits_logged`` (all),
        ``koper_visits, koper_share`` (share of all logged visits lasting 10-20 minutes, None
        with no visits), ``mean_minutes, median_minutes``, ``contamination_visits,
        contamination_minutes, contaminated_spot_days`` and interaction counts.
    """

    days: pd.DataFrame
    spots: pd.DataFrame
    totals: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return self.days.copy()

    def to_dict(self) -> dict:
        days = self.days.copy()
        days["day"] = days["day"].astype(str)
        return {"totals": self.totals, "spots": self.spots.to_dict(orient="records"),
                "days": days.to_dict(orient="records")}


INTERACTIONS: tuple[str, ...] = ("business_checks", "stop_search", "engagements", "arrests",
                                 "weapons_found")


def dosage(planned: pd.DataFrame, visits: pd.DataFrame, *, days_before=None) -> DosageResult:
    """Delivered dosage per spot and day against the plan.

    Parameters
    ----------
    planned : DataFrame
        ``spot, day, arm, visits_planned, minutes_planned``: one row per spot and day of the
        plan (control days have 0 planned).
    visits : DataFrame
        ``spot, day, minutes`` per logged visit (optionally the interaction counts
        :data:`INTERACTIONS`). Every (spot, day) must be in ``planned``.
    days_before : date, optional
        For a week in progress: also report ``visits_planned_to_date`` and
        ``completion_to_date`` over the days strictly before this date (days already over).

    Returns
    -------
    DosageResult
    """
    need_p = ["spot", "day", "arm", "visits_planned", "minutes_planned"]
    need_v = ["spot", "day", "minutes"]
    for name, frame, cols in (("planned", planned, need_p), ("visits", visits, need_v)):
        miss = [c for c in cols if c not in frame.columns]
        if miss:
            raise InputError(f"{name} frame is missing columns {miss}")
    bad_arm = set(planned["arm"]) - {"patrol", "control"}
    if bad_arm:
        raise InputError(f"arm must be 'patrol' or 'control', got {sorted(bad_arm)}")
    key = ["spot", "day"]
    v = visits.copy()
    for c in INTERACTIONS:
        if c not in v.columns:
            v[c] = 0
    v["minutes"] = v["minutes"].astype(float)
    if (v["minutes"] < 0).any():
        raise InputError("visit minutes must be >= 0")
    unknown = v.merge(planned[key], on=key, how="left", indicator=True)
    unknown = unknown[unknown["_merge"] == "left_only"]
    if len(unknown):
        r = unknown.iloc[0]
        raise InputError(f"a visit on spot {r['spot']} day {r['day']} is not in the plan")
    v["koper"] = in_koper_band(v["minutes"])
    agg = v.groupby(key).agg(visits=("minutes", "size"), minutes=("minutes", "sum"),
                             koper_visits=("koper", "sum"),
                             **{c: (c, "sum") for c in INTERACTIONS})
    days = planned[need_p].merge(agg, left_on=key, right_index=True, how="left")
    for c in ("visits", "koper_visits", *INTERACTIONS):
        days[c] = days[c].fillna(0).astype(int)
    days["minutes"] = days["minutes"].fillna(0.0).astype(float)
    days = days.sort_values(key, kind="stable").reset_index(drop=True)
    pm = (days["arm"] == "patrol").to_numpy()
    days["visits_credited"] = np.where(pm, np.minimum(days["visits"], days["visits_planned"]), 0)
    days["contamination"] = np.where(pm, 0, days["visits"])
    sp = days.assign(
        visits_delivered=np.where(pm, days["visits"], 0),
        minutes_delivered=np.where(pm, days["minutes"], 0.0),
        contamination_minutes=np.where(pm, 0.0, days["minutes"]),
    )
    spots = sp.groupby("spot", sort=True).agg(
        patrol_days=("arm", lambda a: int((a == "patrol").sum())),
        control_days=("arm", lambda a: int((a == "control").sum())),
        visits_planned=("visits_planned", "sum"), visits_delivered=("visits_delivered", "sum"),
        visits_credited=("visits_credited", "sum"), minutes_planned=("minutes_planned", "sum"),
        minutes_delivered=("minutes_delivered", "sum"), koper_visits=("koper_visits", "sum"),
        visits_logged=("visits", "sum"), contamination=("contamination", "sum"),
        contamination_minutes=("contamination_minutes", "sum"),
    ).reset_index()
    spots["completion"] = np.where(spots["visits_planned"] > 0,
                                   spots["visits_credited"] / spots["visits_planned"].clip(lower=1),
                                   np.nan)
    n_logged = int(len(v))
    planned_v = int(days["visits_planned"].sum())
    credited = int(days["visits_credited"].sum())
    totals = {
        "spot_days": int(len(days)),
        "patrol_spot_days": int(pm.sum()),
        "control_spot_days": int((~pm).sum()),
        "visits_planned": planned_v,
        "visits_delivered": int(sp["visits_delivered"].sum()),
        "visits_credited": credited,
        "completion": (credited / planned_v) if planned_v else None,
        "minutes_planned": float(days["minutes_planned"].sum()),
        "minutes_delivered": float(sp["minutes_delivered"].sum()),
        "visits_logged": n_logged,
        "koper_visits": int(v["koper"].sum()),
        "koper_share": (float(v["koper"].mean()) if n_logged else None),
        "mean_minutes": (float(v["minutes"].mean()) if n_logged else None),
        "median_minutes": (float(v["minutes"].median()) if n_logged else None),
        "contamination_visits": int(days["contamination"].sum()),
        "contamination_minutes": float(sp["contamination_minutes"].sum()),
        "contaminated_spot_days": int(((~pm) & (days["visits"].to_numpy() > 0)).sum()),
        "interactions": {c: int(v[c].sum()) for c in INTERACTIONS},
    }
    if days_before is not None:
        done = (days["day"] < days_before).to_numpy()
        p_done = int(days.loc[done, "visits_planned"].sum())
        c_done = int(days.loc[done, "visits_credited"].sum())
        totals["visits_planned_to_date"] = p_done
        totals["visits_credited_to_date"] = c_done
        totals["completion_to_date"] = (c_done / p_done) if p_done else None
    return DosageResult(days=days, spots=spots, totals=totals)
