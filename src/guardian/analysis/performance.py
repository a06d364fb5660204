"""The performance picture: monthly counts, month and 12-month comparisons, rates, ranks, anomalies.

Pure functions over the canonical event frame (:mod:`guardian.data.schema`) or over monthly
count series derived from it. Nothing here reads files or databases.

Conventions
-----------
* **Crime** is every police.uk category except anti-social behaviour (ASB); ASB is reported
  alongside, never added to crime.
* **Loaded months** are passed explicitly: a month that was loaded can hold zero offences of a
  category, and a month that was not loaded is *missing*, never zero. Series handed to these
  functions are indexed by ``"YYYY-MM"``; months not in ``loaded`` are treated as missing even if
  the series has a value for them.
* A comparison whose reference is missing, or flagged as a data anomaly, is returned with
  ``available=False`` and a ``reason`` -- never computed from partial data. A 12-month window with
  missing months is reported as incomplete ("10 of 12 months") and is not compared.
* Daily averages divide by calendar days in the month (28-31).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from guardian.data.months import add_months, days_in_month, month_range, parse_month
from guardian.data.schema import ASB
from guardian.errors import InputError

DEFAULT_BASELINE_YEAR = 2019
"""Last full pre-pandemic year."""

# --------------------------------------------------------------------------------------------
# months


def _pct(new: float, old: float) -> float | None:
    """Percentage change from ``old`` to ``new``; ``None`` when ``old`` is 0."""
    if old == 0:
        return None
    return (new - old) / old * 100.0


def _num(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


# --------------------------------------------------------------------------------------------
# counts


def monthly_counts(
    events: pd.DataFrame, *, by: Sequence[str] = ("dataset", "month", "category")
) -> pd.DataFrame:
    """Number of events per group.

    Parameters
    ----------
    events : DataFrame
        Canonical event frame (needs the columns named in ``by``).
    by : sequence of str
        Grouping columns, e.g. ``("dataset", "month", "category")`` or with ``"district"``.

    Returns
    -------
    DataFrame
        ``by`` columns plus ``count`` (int). Only combinations that occur are listed: use
        :func:`crime_asb_series` to get explicit zeros over loaded months.
    """
    missing = [c for c in by if c not in events.columns]
    if missing:
        raise InputError(f"events frame has no columns {missing}; expected canonical event columns")
    if events.empty:
        return pd.DataFrame(
            {**{c: pd.Series(dtype="string") for c in by}, "count": pd.Series(dtype="int64")}
        )
    out = events.groupby(list(by), observed=True, dropna=False).size().rename("count").reset_index()
    out["count"] = out["count"].astype("int64")
    return out


def crime_asb_series(
    counts: pd.DataFrame, loaded_months: Iterable[str], *, dataset: str | None = None
) -> pd.DataFrame:
    """Monthly crime and ASB totals over a continuous month range, NaN where not loaded.

    Parameters
    ----------
    counts : DataFrame
        ``month, category, count`` (and ``dataset`` when ``dataset`` is given), e.g. from
        :func:`monthly_counts`.
    loaded_months : iterable of str
        Months loaded for the dataset.
    dataset : str, optional
        Keep only this dataset's rows.

    Returns
    -------
    DataFrame
        Indexed by every month from the first to the last loaded month; columns ``crime``,
        ``asb``, ``all`` (float, NaN for months not loaded, 0 for loaded months without
        events) and ``loaded`` (bool).
    """
    loaded = sorted(set(loaded_months))
    if not loaded:
        raise InputError("no loaded months given; load data for the dataset first")
    for m in loaded:
        parse_month(m)
    c = counts
    if dataset is not None:
        c = c[c["dataset"] == dataset]
    is_asb = c["category"] == ASB
    crime = c[~is_asb].groupby("month")["count"].sum()
    asb = c[is_asb].groupby("month")["count"].sum()
    idx = month_range(loaded[0], loaded[-1])
    out = pd.DataFrame(index=pd.Index(idx, name="month"))
    out["loaded"] = out.index.isin(loaded)
    out["crime"] = crime.reindex(idx).fillna(0).astype(float)
    out["asb"] = asb.reindex(idx).fillna(0).astype(float)
    out.loc[~out["loaded"], ["crime", "asb"]] = np.nan
    out["all"] = out["crime"] + out["asb"]
    return out[["crime", "asb", "all", "loaded"]]


# --------------------------------------------------------------------------------------------
# month comparisons


@dataclass(frozen=True)
class MonthComparison:
    """One month against a reference month.

    Attributes
    ----------
    label : str
        ``"previous month"``, ``"same month last year"`` or ``"baseline year (2019)"``.
    month, reference_month : str
    available : bool
        False when either month is not loaded or the reference is a flagged anomaly.
    reason : str or None
        Why the comparison is unavailable.
    count, reference_count : int or None
    change : int or None
        ``count - reference_count``.
    pct_change : float or None
        Per cent change of the count.
    daily_average, reference_daily_average : float or None
        Count divided by calendar days (events per day).
    daily_change : float or None
        Events per day more (+) or fewer (-) than the reference.
    daily_pct_change : float or None
        Per cent change of the daily average.
    """

    label: str
    month: str
    reference_month: str
    available: bool
    reason: str | None = None
    count: int | None = None
    reference_count: int | None = None
    change: int | None = None
    pct_change: float | None = None
    daily_average: float | None = None
    reference_daily_average: float | None = None
    daily_change: float | None = None
    daily_pct_change: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _value(series: pd.Series, loaded: set[str], month: str) -> float | None:
    if month not in loaded:
        return None
    v = series.get(month, 0.0)
    v = 0.0 if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
    return v


def compare_month(
    series: pd.Series,
    loaded_months: Iterable[str],
    month: str,
    reference_month: str,
    *,
    label: str,
    anomalies: Iterable[str] = (),
) -> MonthComparison:
    """Compare ``month`` with ``reference_month``: counts, % change and daily averages.

    Parameters
    ----------
    series : Series
        Monthly counts indexed by ``"YYYY-MM"``.
    loaded_months : iterable of str
    month, reference_month : str
    label : str
    anomalies : iterable of str
        Months flagged as data anomalies (see :func:`detect_anomalies`); a comparison that
        involves one is unavailable.
    """
    parse_month(month)
    parse_month(reference_month)
    loaded = set(loaded_months)
    flagged = set(anomalies)
    base = dict(label=label, month=month, reference_month=reference_month)
    for m in (month, reference_month):
        if m not in loaded:
            return MonthComparison(**base, available=False, reason=f"{m} not loaded")
    for m in (month, reference_month):
        if m in flagged:
            return MonthComparison(
                **base, available=False, reason=f"{m} flagged as a data anomaly; not compared"
            )
    now, ref = _value(series, loaded, month), _value(series, loaded, reference_month)
    d_now, d_ref = now / days_in_month(month), ref / days_in_month(reference_month)
    return MonthComparison(
        **base,
        available=True,
        count=int(now),
        reference_count=int(ref),
        change=int(now - ref),
        pct_change=_pct(now, ref),
        daily_average=d_now,
        reference_daily_average=d_ref,
        daily_change=d_now - d_ref,
        daily_pct_change=_pct(d_now, d_ref),
    )


def month_comparisons(
    series: pd.Series,
    loaded_months: Iterable[str],
    month: str,
    *,
    baseline_year: int = DEFAULT_BASELINE_YEAR,
    anomalies: Iterable[str] = (),
) -> dict[str, MonthComparison]:
    """``month`` against the previous month, the same month last year and the baseline year.

    Returns
    -------
    dict
        Keys ``previous_month``, ``same_month_last_year``, ``baseline``.
    """
    y, m = parse_month(month)
    loaded = list(loaded_months)
    anomalies = list(anomalies)
    out = {
        "previous_month": compare_month(
            series,
            loaded,
            month,
            add_months(month, -1),
            label="previous month",
            anomalies=anomalies,
        ),
        "same_month_last_year": compare_month(
            series,
            loaded,
            month,
            add_months(month, -12),
            label="same month last year",
            anomalies=anomalies,
        ),
    }
    ref = f"{baseline_year:04d}-{m:02d}"
    label = f"baseline year ({baseline_year})"
    if baseline_year >= y:
        out["baseline"] = MonthComparison(
            label=label,
            month=month,
            reference_month=ref,
            available=False,
            reason=f"baseline year {baseline_year} is not before {y}",
        )
    else:
        out["baseline"] = compare_month(
            series, loaded, month, ref, label=label, anomalies=anomalies
        )
    return out


# --------------------------------------------------------------------------------------------
# rolling 12 months


@dataclass(frozen=True)
class Window:
    """A run of months ending at ``end``.

    Attributes
    ----------
    start, end : str
    months_expected, months_present : int
    missing : tuple of str
        Months of the window not loaded.
    anomalous : tuple of str
        Loaded months flagged as data anomalies.
    complete : bool
        Every month loaded and none anomalous.
    total : int or None
        Sum over the window; ``None`` unless complete.
    sum_present : int
        Sum over the usable months present (for transparency; never compared).
    coverage : str
        E.g. ``"10 of 12 months"``.
    """

    start: str
    end: str
    months_expected: int
    months_present: int
    missing: tuple[str, ...]
    anomalous: tuple[str, ...]
    complete: bool
    total: int | None
    sum_present: int
    coverage: str

    def to_dict(self) -> dict:
        d = asdict(self)
        d["missing"], d["anomalous"] = list(self.missing), list(self.anomalous)
        return d


def window(
    series: pd.Series,
    loaded_months: Iterable[str],
    end: str,
    *,
    months: int = 12,
    anomalies: Iterable[str] = (),
) -> Window:
    """The ``months``-month window ending at ``end`` (inclusive)."""
    if months < 1:
        raise InputError(f"window length must be at least 1 month, got {months}")
    loaded, flagged = set(loaded_months), set(anomalies)
    ms = month_range(add_months(end, -(months - 1)), end)
    missing = tuple(m for m in ms if m not in loaded)
    anomalous = tuple(m for m in ms if m in loaded and m in flagged)
    usable = [m for m in ms if m in loaded and m not in flagged]
    s = int(sum(_value(series, loaded, m) or 0.0 for m in usable))
    complete = not missing and not anomalous
    return Window(
        start=ms[0],
        end=end,
        months_expected=months,
        months_present=len(usable),
        missing=missing,
        anomalous=anomalous,
        complete=complete,
        total=s if complete else None,
        sum_present=s,
        coverage=f"{len(usable)} of {months} months",
    )


@dataclass(frozen=True)
class WindowComparison:
    """A window against a reference window; ``available`` only when both are complete."""

    label: str
    current: Window
    reference: Window
    available: bool
    reason: str | None = None
    change: int | None = None
    pct_change: float | None = None

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "current": self.current.to_dict(),
            "reference": self.reference.to_dict(),
            "available": self.available,
            "reason": self.reason,
            "change": self.change,
            "pct_change": self.pct_change,
        }


def _why_incomplete(w: Window, role: str) -> str:
    parts = []
    if w.missing:
        parts.append(f"not loaded: {month_span(w.missing)}")
    if w.anomalous:
        parts.append(f"flagged as anomalies: {', '.join(w.anomalous)}")
    return f"{role} {w.start}..{w.end} has {w.coverage} ({'; '.join(parts)})"


def month_span(months: Sequence[str]) -> str:
    """Compact list of sorted months, consecutive runs as ``a..b``:
    ``["2021-01", "2021-02", "2021-05"] -> "2021-01..2021-02, 2021-05"``."""
    runs: list[list[str]] = []
    for m in months:
        if runs and add_months(runs[-1][-1], 1) == m:
            runs[-1].append(m)
        else:
            runs.append([m])
    return ", ".join(r[0] if len(r) == 1 else f"{r[0]}..{r[-1]}" for r in runs)


def compare_windows(
    series: pd.Series,
    loaded_months: Iterable[str],
    end: str,
    reference_end: str,
    *,
    label: str,
    months: int = 12,
    anomalies: Iterable[str] = (),
) -> WindowComparison:
    """Compare the ``months`` to ``end`` with the ``months`` to ``reference_end``."""
    loaded, anomalies = list(loaded_months), list(anomalies)
    cur = window(series, loaded, end, months=months, anomalies=anomalies)
    ref = window(series, loaded, reference_end, months=months, anomalies=anomalies)
    reasons = [
        _why_incomplete(w, r)
        for w, r in ((cur, "window"), (ref, "reference window"))
        if not w.complete
    ]
    if reasons:
        return WindowComparison(
            label=label, current=cur, reference=ref, available=False, reason="; ".join(reasons)
        )
    return WindowComparison(
        label=label,
        current=cur,
        reference=ref,
        available=True,
        change=cur.total - ref.total,
        pct_change=_pct(cur.total, ref.total),
    )


def rolling_comparisons(
    series: pd.Series,
    loaded_months: Iterable[str],
    end: str,
    *,
    baseline_year: int = DEFAULT_BASELINE_YEAR,
    anomalies: Iterable[str] = (),
) -> dict[str, WindowComparison]:
    """12 months to ``end`` against the previous 12 months and the 12 months to the same month of
    the baseline year. Keys ``previous_12_months``, ``baseline``."""
    _, m = parse_month(end)
    loaded, anomalies = list(loaded_months), list(anomalies)
    return {
        "previous_12_months": compare_windows(
            series,
            loaded,
            end,
            add_months(end, -12),
            label="previous 12 months",
            anomalies=anomalies,
        ),
        "baseline": compare_windows(
            series,
            loaded,
            end,
            f"{baseline_year:04d}-{m:02d}",
            label=f"12 months to the same month of {baseline_year}",
            anomalies=anomalies,
        ),
    }


# --------------------------------------------------------------------------------------------
# rates


def rate_per_1000(count: float | None, population: float | None) -> float | None:
    """``count`` per 1,000 residents; ``None`` when either is unknown or the population is 0."""
    count, population = _num(count), _num(population)
    if count is None or population is None or population <= 0:
        return None
    return count * 1000.0 / population


def district_rates(counts: pd.Series, population: pd.DataFrame) -> pd.DataFrame:
    """Counts and rates per 1,000 residents by district.

    Parameters
    ----------
    counts : Series
        District -> count (districts not in ``population``, such as ``""`` (no location) or
        ``"Outside force area"``, are kept with no rate).
    population : DataFrame
        ``district, population``.

    Returns
    -------
    DataFrame
        ``district, count, population, rate_per_1000`` -- every district of ``population``
        (zero counts included) first, sorted by rate, then the rows without population.
    """
    if not {"district", "population"} <= set(population.columns):
        raise InputError("population frame needs columns 'district' and 'population'")
    pop = population.set_index("district")["population"].astype(float)
    known = pd.DataFrame({"district": pop.index, "population": pop.to_numpy()})
    known["count"] = counts.reindex(pop.index).fillna(0).astype(int).to_numpy()
    known["rate_per_1000"] = known["count"] * 1000.0 / known["population"]
    known = known.sort_values(["rate_per_1000", "district"], ascending=[False, True])
    other = counts[~counts.index.isin(pop.index)]
    rest = pd.DataFrame(
        {
            "district": [d if d else "(no location)" for d in other.index],
            "population": np.nan,
            "count": other.astype(int).to_numpy(),
            "rate_per_1000": np.nan,
        }
    )
    out = pd.concat([known, rest], ignore_index=True) if len(rest) else known.reset_index(drop=True)
    return out[["district", "count", "population", "rate_per_1000"]]


# --------------------------------------------------------------------------------------------
# comparison group


@dataclass(frozen=True)
class ComparisonGroup:
    """A dated list of forces similar to ``force`` (HMICFRS 'most similar group' concept).

    Attributes
    ----------
    force : str
        Short force name ("Essex").
    members : tuple of str
        Similar forces (short names), not including ``force``.
    as_of : str
        Date the list was compiled (ISO).
    source : str
    """

    force: str
    members: tuple[str, ...]
    as_of: str
    source: str

    def to_dict(self) -> dict:
        return {
            "force": self.force,
            "members": list(self.members),
            "as_of": self.as_of,
            "source": self.source,
        }


def comparison_group(force: str, config: Mapping) -> ComparisonGroup:
    """The comparison group of ``force`` (short name, e.g. ``"Essex"``) in ``config``, a parsed
    comparison-groups table (:func:`guardian.data.geography.comparison_groups_config`: the one
    shipped with Guardian, or a force's own). Raises :class:`InputError` naming the configured
    forces when ``force`` has no group.
    """
    groups = config.get("groups", {})
    key = {k.lower(): k for k in groups}.get(force.strip().lower())
    if key is None:
        raise InputError(
            f"no comparison group configured for {force!r}; configured: "
            f"{sorted(groups)}. Add [groups.{force}] to comparison_groups.toml"
        )
    g = groups[key]
    members = tuple(m for m in g.get("members", []) if m.lower() != key.lower())
    if not members:
        raise InputError(f"comparison group of {key!r} has no members")
    return ComparisonGroup(
        force=key, members=members, as_of=str(g.get("as_of", "")), source=str(g.get("source", ""))
    )


@dataclass(frozen=True)
class GroupRank:
    """Where ``force`` stands among the loaded members of its comparison group.

    ``rank`` 1 is the highest value (the most crime or harm per 1,000 residents).
    """

    measure: str
    force: str
    value: float | None
    rank: int | None
    of: int
    group_average: float | None
    table: pd.DataFrame = field(compare=False)
    available: bool = True
    reason: str | None = None

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def to_dict(self) -> dict:
        return {
            "measure": self.measure,
            "force": self.force,
            "value": self.value,
            "rank": self.rank,
            "of": self.of,
            "rank_1_is": "highest",
            "group_average": self.group_average,
            "available": self.available,
            "reason": self.reason,
            "table": self.table.to_dict(orient="records"),
        }


def rank_in_group(values: Mapping[str, float | None], force: str, *, measure: str) -> GroupRank:
    """Rank ``force`` among the forces in ``values`` (force -> value; ``None`` = not loaded).

    The group average is the unweighted mean of the members' values including ``force``.
    Ties share the better (smaller) rank ("min" ranking).
    """
    vals = {k: _num(v) for k, v in values.items()}
    if force not in vals:
        raise InputError(f"{force!r} is not among the forces given: {sorted(vals)}")
    have = {k: v for k, v in vals.items() if v is not None}
    table = pd.DataFrame({"force": list(have), "value": list(have.values())})
    table["rank"] = table["value"].rank(ascending=False, method="min").astype(int)
    table = table.sort_values(["rank", "force"]).reset_index(drop=True)
    if vals[force] is None or len(have) < 2:
        reason = (
            f"{force} has no value"
            if vals[force] is None
            else "no other member of the comparison group is loaded"
        )
        return GroupRank(
            measure=measure,
            force=force,
            value=vals[force],
            rank=None,
            of=len(have),
            group_average=None,
            table=table,
            available=False,
            reason=reason,
        )
    rank = int(table.loc[table["force"] == force, "rank"].iloc[0])
    return GroupRank(
        measure=measure,
        force=force,
        value=vals[force],
        rank=rank,
        of=len(have),
        group_average=float(np.mean(list(have.values()))),
        table=table,
    )


# --------------------------------------------------------------------------------------------
# anomalies


@dataclass(frozen=True)
class Anomaly:
    """A loaded month whose daily rate departs sharply from its neighbours."""

    month: str
    count: int
    daily_rate: float
    expected_daily_rate: float
    relative_departure: float
    robust_z: float
    neighbours: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AnomalyResult:
    """Result of :func:`detect_anomalies`.

    Attributes
    ----------
    anomalies : tuple of Anomaly
    months : tuple of str
        The flagged months.
    not_assessed : tuple of str
        Loaded months with too few neighbours to judge.
    params : dict
    """

    anomalies: tuple[Anomaly, ...]
    not_assessed: tuple[str, ...]
    params: dict

    @property
    def months(self) -> tuple[str, ...]:
        return tuple(a.month for a in self.anomalies)

    def to_dict(self) -> dict:
        return {
            "anomalies": [a.to_dict() for a in self.anomalies],
            "months": list(self.months),
            "not_assessed": list(self.not_assessed),
            "params": dict(self.params),
        }


def detect_anomalies(
    series: pd.Series,
    loaded_months: Iterable[str],
    *,
    window_months: int = 12,
    min_neighbours: int = 3,
    z_threshold: float = 3.0,
    min_relative: float = 0.2,
    mad_floor: float = 0.025,
    max_iter: int = 10,
) -> AnomalyResult:
    """Flag loaded months whose count departs sharply from the series' neighbouring level.

    Rule (robust, iterated): for each loaded month, take the daily rates (count / calendar
    days) of the other loaded, not-yet-flagged months within ``window_months`` either side.
    With at least ``min_neighbours`` of them, let ``med`` be their median and
    ``s = max(1.4826 * MAD, mad_floor * med)`` (MAD = median absolute deviation from ``med``;
    the floor stops a near-constant neighbourhood from flagging tiny wobbles). The month is
    flagged when both ``|rate - med| / s >= z_threshold`` and
    ``|rate / med - 1| >= min_relative``. Flagged months are removed from every neighbourhood
    and the rule re-applied until no new month is flagged (a run of two bad months otherwise
    hides the milder one).

    Parameters
    ----------
    series : Series
        Monthly counts indexed by ``"YYYY-MM"`` (e.g. all crime for one force).
    loaded_months : iterable of str
    window_months : int
        Neighbourhood half-width in months.
    min_neighbours : int
    z_threshold : float
        Robust z-score threshold (standard-deviation units).
    min_relative : float
        Minimum relative departure from the neighbours' median (0.2 = 20 %).
    mad_floor : float
        Floor of the robust scale as a fraction of the median.
    max_iter : int

    Returns
    -------
    AnomalyResult

    Notes
    -----
    Median/MAD outlier rule after Hampel (1974) and Leys et al. (2013), applied on a local
    window so that trends and the gap between data runs do not count as anomalies.
    """
    if window_months < 1 or min_neighbours < 1 or z_threshold <= 0 or min_relative < 0:
        raise InputError(
            "window_months and min_neighbours must be >= 1, z_threshold > 0 and min_relative >= 0"
        )
    loaded = sorted(set(loaded_months))
    rate = {m: (_value(series, set(loaded), m) or 0.0) / days_in_month(m) for m in loaded}
    pos = {m: parse_month(m)[0] * 12 + parse_month(m)[1] for m in loaded}
    flagged: dict[str, Anomaly] = {}
    not_assessed: set[str] = set()
    for _ in range(max_iter):
        new = False
        not_assessed = set()
        before = set(flagged)  # judge every month of a pass against the same neighbourhoods
        for m in loaded:
            if m in before:
                continue
            nb = [
                rate[o]
                for o in loaded
                if o != m and o not in before and abs(pos[o] - pos[m]) <= window_months
            ]
            if len(nb) < min_neighbours:
                not_assessed.add(m)
                continue
            med = float(np.median(nb))
            if med <= 0:
                not_assessed.add(m)
                continue
            mad = float(np.median(np.abs(np.asarray(nb) - med)))
            s = max(1.4826 * mad, mad_floor * med)
            z = (rate[m] - med) / s
            rel = rate[m] / med - 1.0
            if abs(z) >= z_threshold and abs(rel) >= min_relative:
                flagged[m] = Anomaly(
                    month=m,
                    count=int(round(rate[m] * days_in_month(m))),
                    daily_rate=rate[m],
                    expected_daily_rate=med,
                    relative_departure=rel,
                    robust_z=z,
                    neighbours=len(nb),
                )
                new = True
        if not new:
            break
    params = dict(
        window_months=window_months,
        min_neighbours=min_neighbours,
        z_threshold=z_threshold,
        min_relative=min_relative,
        mad_floor=mad_floor,
    )
    return AnomalyResult(
        anomalies=tuple(flagged[m] for m in sorted(flagged)),
        not_assessed=tuple(sorted(not_assessed)),
        params=params,
    )


def relative_to_neighbours(
    series: pd.Series,
    loaded_months: Iterable[str],
    month: str,
    *,
    window_months: int = 12,
    exclude: Iterable[str] = (),
) -> float | None:
    """Relative departure of ``month``'s daily rate from the median daily rate of the other
    loaded months within ``window_months`` either side (``exclude`` left out); ``None`` when
    ``month`` is not loaded, has no neighbours, or their median is 0.

    Used to tell a supply gap from a real change: in a supply gap crime collapses while ASB,
    published through a separate channel, holds steady (relative departure near 0).
    """
    loaded = set(loaded_months)
    if month not in loaded:
        return None
    skip = set(exclude) | {month}
    y, m = parse_month(month)
    here = y * 12 + m
    rates = []
    for o in loaded - skip:
        yo, mo = parse_month(o)
        if abs(yo * 12 + mo - here) <= window_months:
            rates.append((_value(series, loaded, o) or 0.0) / days_in_month(o))
    if not rates:
        return None
    med = float(np.median(rates))
    if med <= 0:
        return None
    return ((_value(series, loaded, month) or 0.0) / days_in_month(month)) / med - 1.0
