"""Everything a briefing needs, gathered once: :class:`BriefingContext`.

The context is built either from the store (:func:`gather_context`) or from frames already in
memory (:func:`context_from_frames`, used by tests and by ``guardian brief --files``). Sections
never touch the database: they read the context and the aggregates derived from it once
(:attr:`BriefingContext.picture`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

import guardian
from guardian.analysis import performance as perf
from guardian.data import geography, harm_table, population
from guardian.data.names import matching_names
from guardian.data.schema import check_events, empty_events
from guardian.errors import InputError, NotFound

DEFAULT_ANOMALY = {
    "window_months": 12,
    "min_neighbours": 3,
    "z_threshold": 3.0,
    "min_relative": 0.2,
    "mad_floor": 0.025,
}
"""Defaults of :func:`guardian.analysis.performance.detect_anomalies`, written into reports."""

_REPEATED = (
    "dataset",
    "month",
    "time_precision",
    "category",
    "crs",
    "district",
    "lsoa_code",
    "lsoa_name",
    "location",
)
TARGETING_HISTORY_MONTHS = 18
"""Months of victim/public-reported crime read for the targeting sections, ending at the
briefing month: six monthly back-test windows of the risk map, each with a year of look-back."""


@dataclass(frozen=True)
class Params:
    """Parameters of a briefing (written into its footer and JSON).

    Attributes
    ----------
    baseline_year : int
        Year whose months are the pre-pandemic baseline (default 2019).
    harm_version : str
        Harm table version (see :mod:`guardian.analysis.harm`).
    harm_target : float
        Share of harm the concentration sentence reaches (default 0.75).
    anomaly : dict
        Keyword arguments of :func:`guardian.analysis.performance.detect_anomalies`.
    trend_months : int
        Months shown in the trend chart, ending at the briefing month.
    """

    baseline_year: int = perf.DEFAULT_BASELINE_YEAR
    harm_version: str = harm_table.DEFAULT_VERSION
    harm_target: float = 0.75
    anomaly: dict = field(default_factory=lambda: dict(DEFAULT_ANOMALY))
    trend_months: int = 39

    def __post_init__(self) -> None:
        unknown = set(self.anomaly) - set(DEFAULT_ANOMALY)
        if unknown:
            raise InputError(
                f"unknown anomaly parameters {sorted(unknown)}; expected some of "
                f"{sorted(DEFAULT_ANOMALY)}"
            )
        # partial settings are completed with the defaults, so reports show the rule in full
        object.__setattr__(self, "anomaly", {**DEFAULT_ANOMALY, **self.anomaly})
        if not 1900 <= int(self.baseline_year) <= 2100:
            raise InputError(f"baseline_year {self.baseline_year} is not a plausible year")
        if not 0 < self.harm_target <= 1:
            raise InputError(f"harm_target must be in (0, 1], got {self.harm_target}")
        if self.trend_months < 2:
            raise InputError(f"trend_months must be at least 2, got {self.trend_months}")

    def to_dict(self) -> dict:
        return {
            "baseline_year": self.baseline_year,
            "harm_version": self.harm_version,
            "harm_target": self.harm_target,
            "anomaly": dict(self.anomaly),
            "trend_months": self.trend_months,
        }


@dataclass(frozen=True)
class Picture:
    """Aggregates shared by several sections (computed once per context)."""

    counts: pd.DataFrame  # dataset, month, category, count
    district_counts: pd.DataFrame  # month, district, category, count (the force only)
    series: dict[str, pd.DataFrame]  # dataset -> crime_asb_series
    anomalies: dict[str, perf.AnomalyResult]  # dataset -> crime anomalies


@dataclass(frozen=True)
class BriefingContext:
    """Inputs of the monthly coordination briefing.

    Attributes
    ----------
    force : str
        Dataset name of the force briefed, e.g. ``"Essex Police"``.
    force_short : str
        Short name used by the reference geography (``"Essex"``).
    month : str
        ``YYYY-MM`` briefed.
    events : DataFrame
        Canonical events of the force (and, when built from frames, of its loaded peers). Read
        lazily from the store on first use (``event_frame`` or ``event_loader``): the sections of
        the performance picture work from the aggregates below and never need it.
    loaded_months : dict
        Dataset -> list of loaded months.
    populations : dict
        Dataset -> resident population (persons) or ``None`` when unknown.
    district_population : DataFrame
        ``district, population`` of the force's policing districts.
    population_vintage : str
        Which resident figures the rates use (one line; names each force's vintage when they
        differ).
    population_vintages : dict
        Dataset -> the vintage of its population figure.
    quality : dict
        Dataset -> ``{"rows", "quarantined", "duplicates", "gaps"}`` from the store.
    sources : list of dict
        ``{"dataset", "name", "sha256", "month", "rows"}`` of every source file used.
    params : Params
    group : ComparisonGroup or None
    group_datasets : dict
        Short force name of each loaded comparison-group member -> dataset name.
    harm_weights : HarmWeights
    version : str
        Guardian version.
    generated_at : str
        ISO time the context was gathered (UTC).
    counts : DataFrame or None
        ``dataset, month, category, count`` over *all* loaded months of every dataset (from the
        store). Monthly series, comparisons, anomalies and peer figures use it; ``events`` is then
        only needed for the force's own detail. ``None``: computed from ``events``.
    district_counts : DataFrame or None
        ``month, district, category, count`` of the force (at least for the briefing month);
        ``None``: computed from ``events``.
    engine : sqlalchemy.Engine or None
        The store, for the operations sections (cocoons, patrols); ``None`` when the context was
        built from files, and those sections then say they are not available.
    timezone : str or None
        The force's local timezone (``"Europe/London"``); month boundaries of the targeting
        sections are local midnights. ``None``: taken from the event times.
    targeting_loader : callable or None
        Returns the force's victim/public-reported crime events (police-generated categories
        and ASB excluded) for the :data:`TARGETING_HISTORY_MONTHS` months to the briefing month;
        used through :attr:`targeting_events`.
    scratch : dict
        Results shared between sections of one briefing (harm spots, back-test), computed once.
    """

    force: str
    force_short: str
    month: str
    loaded_months: dict[str, list[str]]
    populations: dict[str, int | None]
    district_population: pd.DataFrame = field(repr=False)
    population_vintage: str
    quality: dict[str, dict]
    sources: list[dict]
    params: Params
    group: perf.ComparisonGroup | None
    group_datasets: dict[str, str]
    harm_weights: harm_table.HarmWeights
    version: str = guardian.__version__
    generated_at: str = ""
    population_vintages: dict[str, str] = field(default_factory=dict)
    counts: pd.DataFrame | None = field(default=None, repr=False)
    district_counts: pd.DataFrame | None = field(default=None, repr=False)
    event_frame: pd.DataFrame | None = field(default=None, repr=False)
    event_loader: Callable[[], pd.DataFrame] | None = field(default=None, repr=False, compare=False)
    engine: Any = field(default=None, repr=False, compare=False)
    timezone: str | None = None
    targeting_loader: Callable[[], pd.DataFrame] | None = field(
        default=None, repr=False, compare=False
    )
    scratch: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        perf.add_months(self.month, 0)  # validates the month
        if self.force not in self.loaded_months or not self.loaded_months[self.force]:
            raise NotFound(
                f"no months of {self.force!r} are loaded; load its police.uk files first"
            )
        if self.month not in self.loaded_months[self.force]:
            lm = self.loaded_months[self.force]
            raise NotFound(
                f"{self.month} is not loaded for {self.force}; loaded months run "
                f"{lm[0]}..{lm[-1]} with gaps {perf.month_span(sorted(set(perf.month_range(lm[0], lm[-1])) - set(lm))) or 'none'}; "
                f"choose a loaded month or load {self.month}"
            )

    @cached_property
    def events(self) -> pd.DataFrame:
        """Canonical events (see the class docstring); loaded once, on first use."""
        if self.event_frame is not None:
            return self.event_frame
        if self.event_loader is not None:
            return self.event_loader()
        return empty_events()

    @cached_property
    def targeting_events(self) -> pd.DataFrame:
        """The force's events used for targeting (harm spots, risk map), times in local time.

        Every crime category except the police-generated ones (drugs, possession of weapons);
        no ASB; months from :data:`TARGETING_HISTORY_MONTHS` before the briefing month to it.
        """
        from guardian.analysis.hotspots import DEFAULT_TARGET_CATEGORIES

        if self.targeting_loader is not None:
            ev = self.targeting_loader()
        else:
            ev = self.events
            first = perf.add_months(self.month, -(TARGETING_HISTORY_MONTHS - 1))
            keep = (
                (ev["dataset"] == self.force)
                & ev["category"].isin(DEFAULT_TARGET_CATEGORIES)
                & (ev["month"] >= first)
                & (ev["month"] <= self.month)
            )
            ev = ev[keep]
        if (
            self.timezone
            and len(ev)
            and isinstance(ev["time"].dtype, pd.DatetimeTZDtype)
            and str(ev["time"].dt.tz) != self.timezone
        ):
            # month boundaries (2021-10-01 00:00) are local; frames mixing timezones come as UTC
            ev = ev.assign(time=ev["time"].dt.tz_convert(self.timezone))
        # repeated values as categories: the analyses test, map and de-duplicate these columns
        # many times (per month, per back-test window), which is costly on strings
        ev = ev.astype({c: "category" for c in _REPEATED if c in ev.columns})
        return ev.reset_index(drop=True)

    @cached_property
    def picture(self) -> Picture:
        """Counts, series and anomalies, computed once."""
        if self.counts is not None:
            counts = self.counts
        else:
            counts = perf.monthly_counts(self.events, by=("dataset", "month", "category"))
        if self.district_counts is not None:
            dcounts = self.district_counts
        else:
            own = self.events[self.events["dataset"] == self.force]
            dcounts = perf.monthly_counts(own, by=("month", "district", "category"))
        series, anomalies = {}, {}
        for ds, months in self.loaded_months.items():
            if not months:
                continue
            s = perf.crime_asb_series(counts, months, dataset=ds)
            series[ds] = s
            anomalies[ds] = perf.detect_anomalies(s["crime"], months, **self.params.anomaly)
        return Picture(counts=counts, district_counts=dcounts, series=series, anomalies=anomalies)

    @property
    def datasets(self) -> list[str]:
        """The force first, then loaded comparison forces."""
        return [self.force] + [d for d in self.group_datasets.values() if d != self.force]


def _district_population(short: str, table: population.PopulationTable) -> pd.DataFrame:
    """Persons per district of the force from ``table`` when it covers the force, else the
    2011 Census; empty for a dataset that is not a force of England and Wales."""
    try:
        d = table.district_population(short) if table.user_supplied else None
        if d is None:
            d = geography.district_population(short)[["district", "population"]]
        return d
    except InputError:
        return pd.DataFrame({"district": [], "population": []})


def context_from_frames(
    events: pd.DataFrame,
    *,
    force: str,
    month: str,
    loaded_months: dict[str, list[str]] | None = None,
    quality: dict[str, dict] | None = None,
    sources: list[dict] | None = None,
    params: Params | None = None,
    group: perf.ComparisonGroup | None | bool = True,
    populations: dict[str, int | None] | None = None,
    district_population: pd.DataFrame | None = None,
    counts: pd.DataFrame | None = None,
    population_table: population.PopulationTable | None = None,
) -> BriefingContext:
    """Build a :class:`BriefingContext` from an in-memory event frame.

    Parameters
    ----------
    events : DataFrame
        Canonical events of the force (dataset name ``force``) and optionally of comparison
        forces.
    force : str
        Dataset name of the force briefed (``"Essex Police"``).
    month : str
    loaded_months : dict, optional
        Dataset -> loaded months; by default the months present in ``events`` (a month loaded
        with zero rows cannot be seen this way -- pass it explicitly).
    quality, sources : optional
        Store facts (quarantine counts, files with hashes); empty when not given.
    params : Params, optional
    group : ComparisonGroup, True or None
        ``True`` (default) reads the shipped comparison group of the force; ``None`` for none.
    populations, district_population : optional
        Override the reference geography (tests).
    counts : DataFrame, optional
        ``dataset, month, category, count`` over all loaded months (see
        :attr:`BriefingContext.counts`); by default computed from ``events``.
    population_table : PopulationTable, optional
        Resident figures for rates; the 2011 Census by default.
    """
    check_events(events)
    table = population_table or population.census_2011()
    params = params or Params()
    events = geography.fill_districts(events)
    present = {str(ds): sorted(sub["month"].unique()) for ds, sub in events.groupby("dataset")}
    loaded = {k: sorted(v) for k, v in (loaded_months or present).items()}
    short = geography.force_short_name(force)
    group, group_datasets = _group_members(force, group, loaded)
    keep = [force] + list(group_datasets.values())
    events = events[events["dataset"].isin(keep)]
    if counts is not None:
        counts = counts[counts["dataset"].isin(keep)].reset_index(drop=True)
    fp = population.force_populations(sorted(set(keep)), table)
    vintage = fp.describe()
    if populations is None:
        populations = fp.populations
    if district_population is None:
        district_population = _district_population(short, table)
    return BriefingContext(
        force=force,
        force_short=short,
        month=month,
        event_frame=events,
        loaded_months={k: v for k, v in loaded.items() if k in keep},
        populations=populations,
        district_population=district_population,
        population_vintage=vintage,
        population_vintages=fp.vintages,
        quality=quality or {},
        sources=sources or [],
        params=params,
        group=group or None,
        group_datasets=group_datasets,
        harm_weights=harm_table.load_harm_weights(params.harm_version),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        counts=counts,
    )


def _group_members(force: str, group, datasets) -> tuple:
    """The comparison group (``True``: the shipped one, if any) and the loaded datasets of its
    members, by short force name (the force itself included when it is a member)."""
    short = geography.force_short_name(force)
    if group is True:
        try:
            group = perf.comparison_group(short, geography.comparison_groups_config())
        except InputError:
            group = None
    members: dict[str, str] = {}
    if group is not None:
        for ds in datasets:
            s = geography.force_short_name(ds)
            if ds != force and (s in group.members or s == group.force):
                members[s] = ds
    return group, members


def gather_context(
    engine,
    force: str,
    month: str | None,
    *,
    params: Params | None = None,
    group: perf.ComparisonGroup | None | bool = True,
    history_months: int = 48,
    population_table: population.PopulationTable | None = None,
) -> BriefingContext:
    """Gather a briefing's inputs from the store.

    The figures of the performance picture come from two GROUP BY queries (monthly counts by
    dataset and category over every loaded month; the force's counts by LSOA for the month);
    the force's event frame is read only if a section asks for ``ctx.events``.

    Parameters
    ----------
    engine : sqlalchemy.Engine
    force : str
        What the user typed ("essex"); resolved to the dataset name.
    month : str or None
        ``YYYY-MM`` to brief; None or ``"latest"``: the force's latest loaded month.
    params : Params, optional
    group : ComparisonGroup, True or None
        ``True`` reads the shipped comparison group for the force.
    history_months : int
        How far back ``ctx.events`` reaches (the baseline year is always included).
    population_table : PopulationTable, optional
        Resident figures for rates; by default the table in force in ``$GUARDIAN_HOME``
        (:func:`guardian.data.population.active_population`), else the 2011 Census.

    Raises
    ------
    NotFound
        When the force is not loaded or the month is not among its loaded months.
    """
    from guardian.store.events import events_frame, monthly_counts, monthly_counts_by_district
    from guardian.store.status import dataset_status, loaded_months, resolve_dataset

    params = params or Params()
    dataset = resolve_dataset(engine, force)
    if month is None or str(month).strip().lower() == "latest":
        lm = loaded_months(engine, dataset)
        if not lm:
            raise NotFound(f"no months of {dataset} are loaded")
        month = lm[-1]
    perf.add_months(month, 0)
    status = {s["dataset"]: s for s in dataset_status(engine)}
    short = geography.force_short_name(dataset)
    group, group_datasets = _group_members(dataset, group, status)
    wanted = [dataset] + list(group_datasets.values())
    base_end = f"{params.baseline_year:04d}-{month[5:]}"
    start = min(perf.add_months(month, -(history_months - 1)), perf.add_months(base_end, -11))
    loaded = {ds: list(status[ds]["months"]) for ds in wanted}
    if month in loaded[dataset]:
        dcounts = monthly_counts_by_district(engine, dataset, month)
    else:
        dcounts = None  # BriefingContext refuses the month below
    quality = {
        ds: {
            k: status[ds].get(k) for k in ("rows", "quarantined", "duplicates", "gaps", "rows_read")
        }
        for ds in wanted
    }
    sources = [
        {
            "dataset": ds,
            "name": f["name"],
            "sha256": f["sha256"],
            "month": f["month"],
            "rows": f.get("loaded", f.get("rows_read")),
        }
        for ds in wanted
        for f in status[ds]["files"]
    ]
    if population_table is None:
        from guardian.config import get_settings

        population_table = population.active_population(get_settings().home)
    fp = population.force_populations(wanted, population_table)
    district_population = _district_population(short, population_table)

    def load_events() -> pd.DataFrame:
        return events_frame(engine, dataset=dataset, start_month=start, end_month=month)

    def load_targeting() -> pd.DataFrame:
        from guardian.analysis.hotspots import DEFAULT_TARGET_CATEGORIES

        first = perf.add_months(month, -(TARGETING_HISTORY_MONTHS - 1))
        return events_frame(
            engine,
            dataset=dataset,
            categories=DEFAULT_TARGET_CATEGORIES,
            start_month=first,
            end_month=month,
        )

    return BriefingContext(
        force=dataset,
        force_short=short,
        month=month,
        loaded_months=loaded,
        populations=fp.populations,
        district_population=district_population,
        population_vintage=fp.describe(),
        population_vintages=fp.vintages,
        quality=quality,
        sources=sources,
        params=params,
        group=group or None,
        group_datasets=group_datasets,
        harm_weights=harm_table.load_harm_weights(params.harm_version),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        counts=monthly_counts(engine, wanted),
        district_counts=dcounts,
        event_loader=load_events,
        engine=engine,
        timezone=_dataset_timezone(engine, dataset),
        targeting_loader=load_targeting,
    )


def _dataset_timezone(engine, dataset: str) -> str | None:
    """The dataset's timezone as stored (``None`` when the store has no such column)."""
    from sqlalchemy import select

    from guardian.store.models import Dataset

    with engine.connect() as conn:
        return conn.execute(select(Dataset.timezone).where(Dataset.name == dataset)).scalar()


def context_from_files(
    files: list[Path],
    force: str,
    month: str | None = None,
    *,
    params: Params | None = None,
    on_file=None,
) -> BriefingContext:
    """A briefing's inputs read straight from police.uk street files (no store).

    Parameters
    ----------
    files : list of path
        Street files, folders or archives (outcomes files are ignored).
    force : str
        The force as in the files' "Falls within" ("essex" matches "Essex Police").
    month : str, optional
        ``YYYY-MM``; None or ``"latest"``: the latest month of the force in the files.
    on_file : callable, optional
        Called with each file's name as it is read (progress).
    """
    from guardian.data.policeuk import read_street
    from guardian.data.sources import iter_sources

    srcs = [s for s in iter_sources(files) if s.member is None and "street" in s.basename]
    if not srcs:
        raise InputError(f"no police.uk street files (*-street.csv[.gz]) under {files}")
    frames = []
    for src in srcs:
        if on_file is not None:
            on_file(src.basename)
        frames.append(read_street(src.path))
    events = pd.concat(frames, ignore_index=True)
    present = sorted(events["dataset"].unique())
    wanted = matching_names(force, present)
    if len(wanted) != 1:
        raise InputError(f"force {force!r} matches {wanted or 'no'} dataset in the files; "
                         f"datasets present: {present}")
    ds = wanted[0]
    if month is None or str(month).strip().lower() == "latest":
        month = max(events.loc[events["dataset"] == ds, "month"].astype(str))
    return context_from_frames(events, force=ds, month=month,
                               sources=sources_from_files([src.path for src in srcs]),
                               params=params)


def sources_from_files(paths: list[Path]) -> list[dict]:
    """Source records (name, sha256 of the decompressed CSV, month) for files read directly."""
    import gzip

    out = []
    for p in paths:
        data = Path(p).read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        name = Path(p).name
        out.append(
            {
                "dataset": None,
                "name": str(p),
                "sha256": hashlib.sha256(data).hexdigest(),
                "month": name[:7] if name[:4].isdigit() else None,
                "rows": max(data.count(b"\n") - 1, 0),
            }
        )
    return out
