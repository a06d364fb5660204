"""Per-force steps of the national picture, harm spots and Knox, shared by every engine.

Each function here is what one partition (or one force) runs: it calls the pure analysis
functions (:mod:`guardian.analysis.performance`, :func:`guardian.analysis.hotspots.harm_spots`,
:func:`guardian.analysis.nearrepeat.knox_test`) and nothing of their maths is repeated. The
single-machine path (the SQL store read into pandas) and the Dask path (Parquet partitions on
workers) both end in these functions, so their results can be compared exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from guardian.analysis import performance as perf
from guardian.analysis.hotspots import harm_spots
from guardian.analysis.nearrepeat import knox_test
from guardian.data.months import add_months
from guardian.errors import InputError

COUNT_BY = ("dataset", "month", "category")

KNOX_SPACE_BANDS_M: tuple[float, ...] = (0.0, 200.0, 400.0, 800.0)
"""Default Knox space breaks (metres)."""
KNOX_TIME_BANDS_D: tuple[float, ...] = (0.0, 1.0, 32.0, 63.0)
"""Default Knox time breaks (days). police.uk times are months, so the bands read: same
month, next month (28-31 days), the month after (59-62 days), later."""
KNOX_PERMUTATIONS = 99
KNOX_SEED = 20261206
HOTSPOT_TOP_N = 20
HOTSPOT_CELL_M = 150.0


def counts(events: pd.DataFrame) -> pd.DataFrame:
    """Events per dataset, month and category (:func:`perf.monthly_counts`)."""
    return perf.monthly_counts(events, by=COUNT_BY)


def combine_counts(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Counts of several partitions as one frame, summed per (dataset, month, category) and
    sorted (partitions of one month of one force never overlap, so this only concatenates)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return counts(pd.DataFrame({c: pd.Series(dtype="string") for c in COUNT_BY}))
    out = pd.concat(parts, ignore_index=True)
    out = out.groupby(list(COUNT_BY), observed=True, as_index=False)["count"].sum()
    out["count"] = out["count"].astype("int64")
    for c in COUNT_BY:
        out[c] = out[c].astype("string")
    return out.sort_values(list(COUNT_BY)).reset_index(drop=True)


@dataclass(frozen=True)
class NationalPicture:
    """The performance picture of every force.

    Attributes
    ----------
    end : str
        Month the picture is for (``YYYY-MM``).
    forces : DataFrame
        One row per force: ``force, dataset, population, months_loaded, crime_month, asb_month,
        crime_12m, crime_12m_coverage, crime_12m_pct_change, crime_per_1000_month,
        crime_per_1000_12m`` (rates per 1,000 residents; None where not computable).
    ranks : DataFrame
        ``force, scope (national | group), measure, value, rank, of, group_average,
        available, reason, group, group_derived``; rank 1 is the highest rate. ``group``
        names the members of a group rank; ``group_derived`` is True where the group was
        derived from the 2011 Census profile rather than configured.
    counts : DataFrame
        ``dataset, month, category, count`` behind it all.
    """

    end: str
    forces: pd.DataFrame
    ranks: pd.DataFrame
    counts: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict:
        clean = lambda f: f.astype(object).where(f.notna(), None).to_dict(orient="records")  # noqa: E731
        return {"end": self.end, "forces": clean(self.forces), "ranks": clean(self.ranks)}


def _force_row(series: pd.DataFrame, loaded: list[str], end: str, force: str, dataset: str,
               population: float | None) -> dict:
    row = {"force": force, "dataset": dataset, "population": population,
           "months_loaded": len(loaded)}
    if end in loaded:
        crime = int(series.loc[end, "crime"])
        row.update(crime_month=crime, asb_month=int(series.loc[end, "asb"]),
                   crime_per_1000_month=perf.rate_per_1000(crime, population))
    else:
        row.update(crime_month=None, asb_month=None, crime_per_1000_month=None)
    s = series["crime"] if len(series) else pd.Series(dtype=float)
    roll = perf.rolling_comparisons(s, loaded, end) if loaded else None
    cur = roll["previous_12_months"].current if roll else None
    row.update(
        crime_12m=cur.total if cur else None,
        crime_12m_coverage=cur.coverage if cur else "0 of 12 months",
        crime_12m_pct_change=roll["previous_12_months"].pct_change if roll else None,
        crime_per_1000_12m=perf.rate_per_1000(cur.total, population) if cur and cur.complete
        else None)
    return row


def national_picture(
    counts_frame: pd.DataFrame,
    loaded_months: Mapping[str, Sequence[str]],
    *,
    forces: Sequence[str],
    force_of: Mapping[str, str],
    populations: Mapping[str, float | None],
    groups_config: Mapping,
    end: str | None = None,
) -> NationalPicture:
    """The picture of every force from per-month category counts.

    Parameters
    ----------
    counts_frame : DataFrame
        ``dataset, month, category, count`` (:func:`counts` / :func:`combine_counts`).
    loaded_months : mapping dataset -> months
        Months loaded per dataset (a loaded month can hold zero of a category).
    forces : sequence of str
        Short names of every force to report (the 43), loaded or not.
    force_of : mapping dataset -> short force name
    populations : mapping dataset -> residents
    groups_config : mapping
        Parsed comparison groups (:func:`guardian.data.geography.comparison_groups_config`).
    end : str, optional
        Month of the picture; default the latest month loaded for any force.

    Returns
    -------
    NationalPicture
    """
    datasets = {force_of[d]: d for d in loaded_months}
    if not datasets:
        raise InputError("nothing loaded: write police.uk months with `guardian export-parquet`")
    end = end or max(m for ms in loaded_months.values() for m in ms)
    rows = []
    for f in forces:
        ds = datasets.get(f)
        if ds is None:
            rows.append({"force": f, "dataset": None, "population": None, "months_loaded": 0,
                         "crime_month": None, "asb_month": None, "crime_per_1000_month": None,
                         "crime_12m": None, "crime_12m_coverage": "0 of 12 months",
                         "crime_12m_pct_change": None, "crime_per_1000_12m": None})
            continue
        loaded = sorted(loaded_months[ds])
        series = perf.crime_asb_series(counts_frame, loaded, dataset=ds)
        rows.append(_force_row(series, loaded, end, f, ds, populations.get(ds)))
    table = pd.DataFrame(rows)
    ranks = []
    for measure in ("crime_per_1000_month", "crime_per_1000_12m"):
        values = dict(zip(table["force"], table[measure], strict=True))
        for f in forces:
            ranks.append(_rank(values, f, measure, "national"))
            try:
                group = perf.comparison_group(f, groups_config)
            except InputError as exc:
                ranks.append({"force": f, "scope": "group", "measure": measure,
                              "value": values.get(f), "rank": None, "of": 0,
                              "group_average": None, "available": False, "reason": str(exc),
                              "group": None, "group_derived": None})
                continue
            members = {m: values.get(m) for m in (f, *group.members)}
            derived = bool(groups_config.get("groups", {}).get(group.force, {}).get("derived"))
            ranks.append({**_rank(members, f, measure, "group"),
                          "group": ", ".join(group.members), "group_derived": derived})
    return NationalPicture(end=end, forces=table, ranks=pd.DataFrame(ranks),
                           counts=counts_frame)


def _rank(values: Mapping, force: str, measure: str, scope: str) -> dict:
    vals = {k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else v)
            for k, v in values.items()}
    g = perf.rank_in_group(vals, force, measure=measure)
    return {"force": force, "scope": scope, "measure": measure, "value": g.value,
            "rank": g.rank, "of": g.of, "group_average": g.group_average,
            "available": g.available, "reason": g.reason, "group": None, "group_derived": None}


# --------------------------------------------------------------------------------------------
# harm spots and Knox, one force at a time


@dataclass(frozen=True)
class ForceSpots:
    """Harm spots of one force for a period: the ranked spots and Gi* z of every grid cell."""

    force: str
    start: str
    end: str
    spots: pd.DataFrame
    gi_z: np.ndarray
    totals: dict

    def to_dict(self) -> dict:
        cols = ["rank", "x", "y", "offences", "harm", "share_harm", "district", "gi_z", "gi_hot",
                "why"]
        s = self.spots[[c for c in cols if c in self.spots.columns]]
        return {"force": self.force, "start": self.start, "end": self.end,
                "totals": self.totals,
                "spots": s.astype(object).where(s.notna(), None).to_dict(orient="records")}


def force_spots(events: pd.DataFrame, force: str, first: str, last: str, *,
                top_n: int = HOTSPOT_TOP_N, cell_m: float = HOTSPOT_CELL_M) -> ForceSpots:
    """Harm spots (:func:`harm_spots`, Gi* with FDR) of one force over months ``first..last``
    (inclusive) from its canonical events (other months are left out here, so the grid is
    the period's whichever months the caller read)."""
    events = _in_months(events, first, last)
    tz = str(events["time"].dt.tz) if len(events) else "Europe/London"
    start = pd.Timestamp(f"{first}-01", tz=tz)
    stop = pd.Timestamp(f"{add_months(last, 1)}-01", tz=tz)
    res = harm_spots(events, start=start, end=stop, top_n=top_n, cell_m=cell_m)
    return ForceSpots(force=force, start=first, end=last, spots=res.spots,
                      gi_z=np.asarray(res.gi.z, dtype=float), totals=dict(res.totals))


def knox_inputs(events: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y (metres) and t (days since the earliest event) of the located events, in order."""
    ok = events["x"].notna() & events["y"].notna() & events["time"].notna()
    ev = events[ok]
    t = np.array((ev["time"] - ev["time"].min()) / pd.Timedelta(days=1), dtype=float)
    # Month starts are local midnights: a clock change would leave a fraction of a day.
    t = np.rint(t)
    return ev["x"].to_numpy(float), ev["y"].to_numpy(float), t


def _in_months(events: pd.DataFrame, first: str, last: str) -> pd.DataFrame:
    m = events["month"].astype(str)
    return events[(m >= first) & (m <= last)]


def force_knox(events: pd.DataFrame, force: str, first: str, last: str, *,
               space_bands: Sequence[float] = KNOX_SPACE_BANDS_M,
               time_bands: Sequence[float] = KNOX_TIME_BANDS_D,
               permutations: int = KNOX_PERMUTATIONS, seed: int = KNOX_SEED):
    """Knox test (:func:`knox_test`) of one force's events (already filtered to burglary) in
    months ``first..last``; None when fewer than 2 are located."""
    x, y, t = knox_inputs(_in_months(events, first, last))
    if len(x) < 2:
        return None
    return knox_test(x, y, t, space_bands=list(space_bands), time_bands=list(time_bands),
                     permutations=permutations, random_state=seed, n_jobs=1)
