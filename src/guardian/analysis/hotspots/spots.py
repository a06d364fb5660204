"""Harm spots: the few small places where most harm falls, why each is on the list, and how
stable the list is.

The study area
--------------
Gi* compares each cell's neighbourhood with the mean and variance over the *study area*, so the
area must be chosen on purpose and kept fixed across periods:

* ``"footprint"`` (default) — every cell within ``buffer_m`` (default 450 m, three 150 m cells)
  of any event in the frame given to :meth:`StudyArea.from_events` (pass all periods at once,
  so the area is the same for every period). Empty cells near where people live and move are
  kept (they are real zeros); sea, estuary and empty farmland far from any recorded event are
  not. For Essex at 150 m this is roughly half the bounding box, and the weights take well
  under a second to build.
* ``"bbox"`` — every cell of the bounding box. Simple and reproducible, but structural zeros
  (the Thames estuary, the North Sea) shrink the mean and inflate every z-score.

Zero cells are always included inside the area: dropping them ("occupied cells only") would
make Gi* a comparison among places that already have crime, and the set of cells would change
from month to month.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from libpysal.graph import Graph
from scipy import ndimage

from guardian.analysis.hotspots.concentration import Concentration, concentration
from guardian.analysis.hotspots.gistar import GiStarResult, grid_gi_star, grid_graph
from guardian.analysis.hotspots.stability import emerging_labels, spot_overlap
from guardian.analysis.risk.grid import Grid
from guardian.data.schema import CATEGORIES, CRIME_CATEGORIES, POLICE_GENERATED
from guardian.errors import InputError

DEFAULT_TARGET_CATEGORIES: tuple[str, ...] = tuple(
    c for c in CRIME_CATEGORIES if c not in POLICE_GENERATED
)
"""Victim- and public-reported offences: every crime category except those mostly found by
police activity (drugs, possession of weapons)."""


def _pct(x: float) -> str:
    """A share as a percentage with sensible precision (4.1%, 0.02%, 0.0017%)."""
    if not np.isfinite(x):
        return "n/a"
    v = 100.0 * x
    if v >= 0.1 or v == 0:
        return f"{v:.1f}%"
    return f"{v:.2g}%"


@dataclass(frozen=True)
class StudyArea:
    """A grid, the cells analysed on it and their Gi* weights (built once, reused per period).

    Attributes
    ----------
    grid : Grid
    mask : bool array (ny, nx)
        Study-area cells.
    graph : libpysal.graph.Graph
        Binary weights with self weight 1 among the mask cells (row-major order).
    neighbourhood : "queen" or float metres
    rule : str
        How the area was chosen, for reports.
    """

    grid: Grid
    mask: np.ndarray
    graph: Graph
    neighbourhood: str | float
    rule: str

    @classmethod
    def from_events(
        cls,
        events: pd.DataFrame,
        *,
        cell_m: float = 150.0,
        area: str = "footprint",
        buffer_m: float = 450.0,
        neighbourhood: str | float = "queen",
    ) -> StudyArea:
        """Build the study area from the locations of ``events`` (all periods together).

        Parameters
        ----------
        events : DataFrame
            Needs ``x``, ``y`` in projected metres (``crs`` checked when present).
        cell_m : float
            Cell side in metres (default 150).
        area : {"footprint", "bbox"}
            See the module notes.
        buffer_m : float
            Footprint buffer in metres.
        neighbourhood : "queen" or float
            Gi* neighbourhood: queen contiguity or a distance band in metres.
        """
        x, y = _xy(events)
        if area not in ("footprint", "bbox"):
            raise InputError(f"area was {area!r} but is expected to be 'footprint' or 'bbox'")
        crs = _crs(events)
        grid = Grid.covering(x, y, cell_m=cell_m, crs=crs)
        if area == "bbox":
            mask = np.ones(grid.shape, bool)
            rule = f"all {grid.n_cells:,} cells of the bounding box"
        else:
            if not (np.isfinite(buffer_m) and buffer_m >= 0):
                raise InputError(f"buffer_m must be >= 0 metres, got {buffer_m!r}")
            mask = grid.footprint(x, y, buffer_m=buffer_m)
            rule = (
                f"{int(mask.sum()):,} cells within {buffer_m:g} m of any event "
                f"(of {grid.n_cells:,} in the bounding box)"
            )
        graph = grid_graph(mask, neighbourhood=neighbourhood, cell_m=grid.cell_m)
        return cls(grid, mask, graph, neighbourhood, rule)

    @property
    def n_cells(self) -> int:
        return int(self.mask.sum())


def _xy(events: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(events, pd.DataFrame):
        raise InputError(f"events must be a pandas DataFrame, got {type(events).__name__}")
    for c in ("x", "y"):
        if c not in events.columns:
            raise InputError(f"events are missing column {c!r} (projected metres)")
    _crs(events)
    x = events["x"].to_numpy(dtype=float, na_value=np.nan)
    y = events["y"].to_numpy(dtype=float, na_value=np.nan)
    return x, y


def _crs(events: pd.DataFrame) -> str:
    if "crs" not in events.columns:
        return ""
    crs = events["crs"].dropna().astype(str).unique()
    if len(crs) > 1:
        raise InputError(f"events mix coordinate systems {list(crs)}; project first")
    if len(crs) == 1 and crs[0].upper() in ("EPSG:4326", "OGC:CRS84"):
        raise InputError(
            "x/y are in a geographic CRS (degrees); harm spots need projected metres "
            "(EPSG:27700 for UK data)"
        )
    return str(crs[0]) if len(crs) else ""


def _resolve_categories(categories, include_police_generated: bool) -> tuple[tuple, tuple]:
    if categories is None:
        chosen = list(DEFAULT_TARGET_CATEGORIES)
        if include_police_generated:
            chosen += list(POLICE_GENERATED)
    else:
        chosen = [categories] if isinstance(categories, str) else list(categories)
        unknown = [c for c in chosen if c not in CATEGORIES]
        if unknown:
            raise InputError(f"unknown categories {unknown}; expected some of {list(CATEGORIES)}")
        pg = [c for c in chosen if c in POLICE_GENERATED]
        if pg and not include_police_generated:
            raise InputError(
                f"categories {pg} are mostly found by police activity and are excluded from "
                "targeting (feedback loop); pass include_police_generated=True to use them"
            )
    excluded = tuple(c for c in POLICE_GENERATED if c not in chosen)
    return tuple(chosen), excluded


def _event_weights(events: pd.DataFrame, weights, chosen) -> np.ndarray:
    n = len(events)
    if weights is None:
        return np.ones(n)
    if isinstance(weights, Mapping):
        cats = events["category"].astype(str)
        used = set(cats[cats.isin(chosen)].unique())
        missing = sorted(used - set(weights))
        if missing:
            raise InputError(
                f"harm weights have no entry for categories {missing}; add them to the mapping"
            )
        # categories outside the selection are dropped later; give them 0 meanwhile
        w = cats.map(lambda c: weights.get(c, 0.0)).to_numpy(dtype=float)
    else:
        w = np.asarray(weights, dtype=float).ravel()
        if w.size != n:
            raise InputError(f"weights has {w.size} values but events has {n} rows")
    if not np.all(np.isfinite(w)) or (w < 0).any():
        raise InputError("harm weights must be finite and non-negative")
    return w


def _time_filter(events: pd.DataFrame, start, end) -> np.ndarray:
    keep = np.ones(len(events), bool)
    if start is None and end is None:
        return keep
    if "time" not in events.columns or not isinstance(events["time"].dtype, pd.DatetimeTZDtype):
        raise InputError("a period needs a tz-aware 'time' column in the events")
    tz = events["time"].dt.tz
    for bound, name in ((start, "start"), (end, "end")):
        if bound is None:
            continue
        ts = pd.Timestamp(bound)
        if ts is pd.NaT:
            raise InputError(f"{name} {bound!r} is not a date")
        if ts.tzinfo is None:
            ts = ts.tz_localize(tz)
        if name == "start":
            keep &= (events["time"] >= ts).to_numpy()
        else:
            keep &= (events["time"] < ts).to_numpy()
    return keep


def _districts(events: pd.DataFrame) -> pd.Series:
    """District per event; falls back to the local authority in the LSOA name ("Basildon
    001A" -> "Basildon") when the district is blank (police.uk files before enrichment)."""
    d = events["district"].astype("string").fillna("") if "district" in events.columns else None
    if "lsoa_name" in events.columns:
        lad = (
            events["lsoa_name"]
            .astype("string")
            .fillna("")
            .str.replace(r"\s+\d{3}[A-Z]$", "", regex=True)
        )
    else:
        lad = pd.Series("", index=events.index, dtype="string")
    if d is None:
        return lad
    return d.where(d != "", lad)


@dataclass(frozen=True)
class HarmSpotResult:
    """Harm spots for one period.

    Attributes
    ----------
    spots : DataFrame
        One row per spot, ranked by harm: ``rank, cells, cell_keys`` (global (gx, gy) cell
        indices), ``x, y`` (centre of the top cell, metres), ``offences, harm, share_offences,
        share_harm, share_area, district, streets, gi_z, gi_q, gi_hot, why``.
    gi : GiStarResult
        Gi* on the harm grid, arrays (ny, nx).
    concentration : Concentration
        Harm concentration over the study area.
    counts, harm : ndarray (ny, nx)
        Offences and harm per cell.
    area : StudyArea
    totals : dict
        ``offences``, ``harm`` (events with a location in the area), ``no_location``,
        ``outside_area``.
    precision : {"approximate", "exact"}
        Approximate when any event is month-precision police.uk data (snapped map points).
    categories, excluded_categories : tuple of str
    notes : tuple of str
        Plain statements for reports ("Drugs and Possession of weapons excluded ...").
    params : dict
    """

    spots: pd.DataFrame
    gi: GiStarResult
    concentration: Concentration
    counts: np.ndarray
    harm: np.ndarray
    area: StudyArea
    totals: dict
    precision: str
    categories: tuple
    excluded_categories: tuple
    notes: tuple
    params: dict = field(default_factory=dict)

    @property
    def spot_cells(self) -> set:
        return {tuple(k) for keys in self.spots["cell_keys"] for k in keys}

    def to_frame(self) -> pd.DataFrame:
        return self.spots.copy()

    def to_dict(self) -> dict:
        spots = self.spots.copy()
        spots["cell_keys"] = spots["cell_keys"].map(lambda ks: [list(map(int, k)) for k in ks])
        spots["cells"] = spots["cells"].map(lambda cs: [list(map(int, c)) for c in cs])
        return {
            "spots": spots.to_dict(orient="records"),
            "concentration": self.concentration.to_dict(),
            "gi": self.gi.to_dict(),
            "totals": self.totals,
            "precision": self.precision,
            "categories": list(self.categories),
            "excluded_categories": list(self.excluded_categories),
            "notes": list(self.notes),
            "area": {"rule": self.area.rule, "grid": self.area.grid.to_dict()},
            "params": self.params,
        }


def harm_spots(
    events: pd.DataFrame,
    *,
    area: StudyArea | None = None,
    start=None,
    end=None,
    categories: Sequence[str] | None = None,
    include_police_generated: bool = False,
    weights: np.ndarray | Mapping[str, float] | None = None,
    top_n: int = 30,
    grow: bool = False,
    alpha: float = 0.05,
    permutations: int = 0,
    random_state: int | None = None,
    cell_m: float = 150.0,
    neighbourhood: str | float = "queen",
) -> HarmSpotResult:
    """The top harm spots of a period on a grid, with Gi*, FDR and a reason for each.

    Parameters
    ----------
    events : DataFrame
        Canonical events (``x``, ``y`` metres, ``time``, ``category``; ``location``,
        ``district``/``lsoa_name`` and ``time_precision`` used when present).
    area : StudyArea, optional
        Grid, study-area cells and Gi* weights; build once with :meth:`StudyArea.from_events`
        on all periods and reuse so periods are comparable. Default: from ``events`` with
        ``cell_m`` and ``neighbourhood``.
    start, end : date-like, optional
        Period ``[start, end)``; naive dates are read in the events' timezone.
    categories : sequence of str, optional
        Default: every crime category except the police-generated ones
        (:data:`DEFAULT_TARGET_CATEGORIES`).
    include_police_generated : bool
        Allow Drugs / Possession of weapons (found by police activity; excluded by default
        because patrols that find them send patrols back: a feedback loop).
    weights : array (len(events),) or mapping category -> weight, optional
        Harm per event; default 1 (harm = offences).
    top_n : int
        Cells selected by harm (ties: more offences first, then west-to-east, south-to-north).
    grow : bool
        Merge selected cells that touch (queen) into one spot each.
    alpha : float
        False discovery rate for Gi* (Benjamini–Hochberg).
    permutations, random_state
        Gi* permutation inference (0 = analytical p-values).

    Returns
    -------
    HarmSpotResult
    """
    if not (isinstance(top_n, int | np.integer) and top_n >= 1):
        raise InputError(f"top_n must be a positive integer, got {top_n!r}")
    if "category" not in events.columns:
        raise InputError("events are missing column 'category'")
    chosen, excluded = _resolve_categories(categories, include_police_generated)
    w_all = _event_weights(events, weights, chosen)
    if area is None:
        area = StudyArea.from_events(events, cell_m=cell_m, neighbourhood=neighbourhood)
    grid = area.grid
    ev_crs = _crs(events)
    if grid.crs and ev_crs and ev_crs.upper() != grid.crs.upper():
        raise InputError(
            f"events are in {ev_crs} but the study area grid is in {grid.crs}; project the "
            "events or rebuild the StudyArea from them"
        )
    keep = _time_filter(events, start, end) & events["category"].isin(chosen).to_numpy()
    ev = events.loc[keep]
    w = w_all[keep]
    x, y = _xy(ev)
    has_loc = np.isfinite(x) & np.isfinite(y)
    row, col, inside = grid.cell_index(x, y)
    flat = row * grid.nx + col
    in_area = inside & has_loc
    in_area[in_area] = area.mask.ravel()[flat[in_area]]
    counts = np.bincount(flat[in_area], minlength=grid.n_cells).reshape(grid.shape).astype(float)
    harm = np.bincount(flat[in_area], weights=w[in_area], minlength=grid.n_cells).reshape(
        grid.shape
    )
    total_off = float(counts.sum())
    total_harm = float(harm.sum())
    if total_off == 0:
        raise InputError(
            f"no events of categories {list(chosen)} with a location in the period "
            f"[{start}, {end}); widen the period or the categories"
        )
    gi = grid_gi_star(
        harm,
        area.mask,
        area.graph,
        permutations=permutations,
        alpha=alpha,
        random_state=random_state,
        neighbourhood=str(area.neighbourhood),
    )
    # --- select the top-N cells -----------------------------------------------------------------
    cand = np.flatnonzero(area.mask.ravel() & (harm.ravel() > 0))
    order = np.lexsort((cand, -counts.ravel()[cand], -harm.ravel()[cand]))
    top = cand[order[:top_n]]
    if grow:
        sel = np.zeros(grid.n_cells, bool)
        sel[top] = True
        lab, _ = ndimage.label(sel.reshape(grid.shape), structure=np.ones((3, 3)))
        comp = lab.ravel()[top]
        groups: dict[int, list[int]] = {}
        for cell, c in zip(top, comp, strict=True):
            groups.setdefault(int(c), []).append(int(cell))
        spot_cells = list(groups.values())
    else:
        spot_cells = [[int(c)] for c in top]
    spot_cells.sort(key=lambda cs: (-harm.ravel()[cs].sum(), -counts.ravel()[cs].sum(), cs[0]))
    # --- describe each spot ---------------------------------------------------------------------
    cell_to_spot = np.full(grid.n_cells, -1, dtype=np.int64)
    for k, cs in enumerate(spot_cells):
        cell_to_spot[cs] = k
    ev_spot = np.full(len(ev), -1, dtype=np.int64)
    ev_spot[in_area] = cell_to_spot[flat[in_area]]
    # districts and street names are only needed for events inside a spot
    in_spot = np.flatnonzero(ev_spot >= 0)
    ev_in = ev.iloc[in_spot]
    districts = np.full(len(ev), "", dtype=object)
    districts[in_spot] = _districts(ev_in).to_numpy(dtype=object)
    locations = np.full(len(ev), "", dtype=object)
    if "location" in ev.columns:
        locations[in_spot] = ev_in["location"].astype("string").fillna("").to_numpy(dtype=object)
    precision = "exact"
    if "time_precision" in ev.columns and (ev["time_precision"].astype(str) == "month").any():
        precision = "approximate"
    gx0 = int(round(grid.x0 / grid.cell_m))
    gy0 = int(round(grid.y0 / grid.cell_m))
    n_area = area.n_cells
    weighted = weights is not None
    z_flat, q_flat, hot_flat = gi.z.ravel(), gi.q.ravel(), gi.hot.ravel()
    records = []
    for k, cs in enumerate(spot_cells):
        idx = np.flatnonzero(ev_spot == k)
        off = float(counts.ravel()[cs].sum())
        hm = float(harm.ravel()[cs].sum())
        d = pd.Series(districts[idx])
        d = d[d != ""]
        district = str(d.value_counts().index[0]) if len(d) else ""
        streets = pd.Series(locations[idx])
        streets = streets[(streets != "") & (streets.str.lower() != "no location")]
        streets = streets.str.replace(r"^On or near\s+", "", regex=True)
        street_list = list(streets.value_counts().index[:5])
        best = cs[int(np.nanargmax(z_flat[cs]))]
        zc, qc = float(z_flat[best]), float(np.min(q_flat[cs]))
        share_h = hm / total_harm if total_harm > 0 else float("nan")
        share_o = off / total_off
        share_a = len(cs) / n_area
        if weighted:
            head = (
                f"{int(off):,} offences, harm {hm:,.0f} ({_pct(share_h)} of force harm) "
                f"in {_pct(share_a)} of area"
            )
        else:
            head = f"{int(off):,} offences ({_pct(share_o)} of offences) in {_pct(share_a)} of area"
        sig = "significant hot spot" if bool(hot_flat[cs].any()) else "not significant"
        qtxt = "q<0.001" if qc < 0.001 else f"q={qc:.3f}"
        why = f"{head}; Gi* z={zc:.1f}, FDR {qtxt} ({sig})"
        if any("police station" in s.lower() for s in street_list):
            why += "; includes a police-station map point (offences recorded at the station?)"
        if precision == "approximate":
            why += "; approximate (police.uk snapped points)"
        rows_, cols_ = np.divmod(np.asarray(cs), grid.nx)
        cx = grid.x0 + (cols_[0] + 0.5) * grid.cell_m
        cy = grid.y0 + (rows_[0] + 0.5) * grid.cell_m
        records.append(
            {
                "rank": k + 1,
                "n_cells": len(cs),
                "cells": [(int(r), int(c)) for r, c in zip(rows_, cols_, strict=True)],
                "cell_keys": [
                    (gx0 + int(c), gy0 + int(r)) for r, c in zip(rows_, cols_, strict=True)
                ],
                "x": cx,
                "y": cy,
                "offences": int(off),
                "harm": hm,
                "share_offences": share_o,
                "share_harm": share_h,
                "share_area": share_a,
                "district": district,
                "streets": "; ".join(street_list),
                "gi_z": zc,
                "gi_q": qc,
                "gi_hot": bool(hot_flat[cs].any()),
                "why": why,
            }
        )
    spots = pd.DataFrame.from_records(
        records,
        columns=[
            "rank",
            "n_cells",
            "cells",
            "cell_keys",
            "x",
            "y",
            "offences",
            "harm",
            "share_offences",
            "share_harm",
            "share_area",
            "district",
            "streets",
            "gi_z",
            "gi_q",
            "gi_hot",
            "why",
        ],
    )
    conc = concentration(
        harm[area.mask],
        occupied=counts[area.mask] > 0,
        quantity="harm" if weighted else "offences",
    )
    n_no_loc = int((~has_loc).sum())
    n_outside = int((has_loc & ~in_area).sum())
    notes = []
    if excluded:
        notes.append(
            f"{' and '.join(excluded)} excluded: mostly found by police activity, so targeting "
            "them sends patrols back to where patrols were (include_police_generated=True to use)"
        )
    else:
        notes.append("police-generated categories included on request (feedback-loop risk)")
    if precision == "approximate":
        notes.append(
            "approximate: police.uk locations are snapped to anonymised map points and months "
            "only; a spot marks the snap points inside the cell, not exact addresses"
        )
    else:
        notes.append("exact: locations and dates from a force extract")
    if n_no_loc:
        notes.append(f"{n_no_loc:,} events without a location are not on the map")
    if n_outside:
        notes.append(f"{n_outside:,} events fall outside the study area")
    notes.append(f"study area: {area.rule}")
    params = {
        "start": None if start is None else str(start),
        "end": None if end is None else str(end),
        "top_n": int(top_n),
        "grow": bool(grow),
        "alpha": float(alpha),
        "permutations": int(permutations),
        "random_state": random_state,
        "cell_m": grid.cell_m,
        "neighbourhood": str(area.neighbourhood),
        "weights": "per-event"
        if (weighted and not isinstance(weights, Mapping))
        else ("category mapping" if weighted else "counts"),
        "p_values": "permutation (esda p_sim)" if permutations else "analytical, two-sided",
    }
    return HarmSpotResult(
        spots=spots,
        gi=gi,
        concentration=conc,
        counts=counts,
        harm=harm,
        area=area,
        totals={
            "offences": int(total_off),
            "harm": total_harm,
            "no_location": n_no_loc,
            "outside_area": n_outside,
        },
        precision=precision,
        categories=chosen,
        excluded_categories=excluded,
        notes=tuple(notes),
        params=params,
    )


@dataclass(frozen=True)
class EmergingResult:
    """Hot-spot history over a series of periods.

    Attributes
    ----------
    cells : DataFrame
        One row per study-area cell that was a significant hot spot at least once:
        ``gx, gy`` (global cell keys), ``x, y`` (centre, metres), ``label``, ``n_hot``,
        ``mk_s``, ``mk_z``, ``mk_p``, ``z_first``, ``z_last``.
    overlap : DataFrame
        Top-N spot overlap between consecutive periods (``period``, ``overlap``,
        ``share_repeated``, ``jaccard``).
    periods : list of (start, end)
    label_counts : dict
    results : list of HarmSpotResult
    """

    cells: pd.DataFrame
    overlap: pd.DataFrame
    periods: list
    label_counts: dict
    results: list = field(repr=False, default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return self.cells.copy()

    def to_dict(self) -> dict:
        return {
            "cells": self.cells.to_dict(orient="records"),
            "overlap": self.overlap.to_dict(orient="records"),
            "periods": [[str(a), str(b)] for a, b in self.periods],
            "label_counts": self.label_counts,
        }


def month_periods(months: Sequence[str]) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """``["2021-03", ...]`` -> ``[(2021-03-01, 2021-04-01), ...]`` (naive; read in event tz)."""
    out = []
    for m in months:
        try:
            s = pd.Timestamp(f"{m}-01")
        except ValueError as exc:
            raise InputError(f"month {m!r} is not YYYY-MM") from exc
        out.append((s, s + pd.DateOffset(months=1)))
    return out


def emerging_hotspots(
    events: pd.DataFrame,
    *,
    periods: Sequence[tuple],
    area: StudyArea | None = None,
    alpha_trend: float = 0.05,
    **spot_kwargs,
) -> EmergingResult:
    """Harm spots for each period, their overlap, and a trend label per cell.

    Parameters
    ----------
    events : DataFrame
        Canonical events covering all periods.
    periods : sequence of (start, end)
        Oldest first (e.g. :func:`month_periods`); at least 3 for the trend test.
    area : StudyArea, optional
        Default: built once from all ``events`` (so every period uses the same cells).
    alpha_trend : float
        Mann-Kendall significance.
    **spot_kwargs
        Passed to :func:`harm_spots` (categories, weights, top_n, alpha, ...).

    Notes
    -----
    After Esri's emerging hot spot analysis, on a fixed grid rather than a space-time cube:
    per period, Gi* (FDR) marks significant hot cells; the Mann-Kendall test on each cell's Gi*
    z-scores gives the trend; labels are defined in
    :func:`~guardian.analysis.hotspots.stability.emerging_labels`.
    """
    if len(periods) < 3:
        raise InputError(f"emerging hot spots need at least 3 periods, got {len(periods)}")
    if area is None:
        area = StudyArea.from_events(
            events,
            cell_m=spot_kwargs.pop("cell_m", 150.0),
            neighbourhood=spot_kwargs.pop("neighbourhood", "queen"),
        )
    results = [harm_spots(events, area=area, start=s, end=e, **spot_kwargs) for s, e in periods]
    m = area.mask.ravel()
    z = np.stack([r.gi.z.ravel()[m] for r in results], axis=1)
    hot = np.stack([r.gi.hot.ravel()[m] for r in results], axis=1)
    ever = hot.any(axis=1)
    labels, mk = emerging_labels(hot[ever], z[ever], alpha_trend=alpha_trend)
    grid = area.grid
    flat = np.flatnonzero(m)[ever]
    rr, cc = np.divmod(flat, grid.nx)
    gx0 = int(round(grid.x0 / grid.cell_m))
    gy0 = int(round(grid.y0 / grid.cell_m))
    cells = pd.DataFrame(
        {
            "gx": gx0 + cc,
            "gy": gy0 + rr,
            "x": grid.x0 + (cc + 0.5) * grid.cell_m,
            "y": grid.y0 + (rr + 0.5) * grid.cell_m,
            "label": labels,
            "n_hot": hot[ever].sum(axis=1),
            "mk_s": mk.s,
            "mk_z": mk.z,
            "mk_p": mk.p,
            "z_first": z[ever, 0],
            "z_last": z[ever, -1],
        }
    )
    ov = []
    for k in range(1, len(results)):
        o = spot_overlap(results[k - 1].spot_cells, results[k].spot_cells)
        o["period"] = str(periods[k][0])[:10]
        ov.append(o)
    counts = {
        lab: int((labels == lab).sum())
        for lab in ("new", "emerging", "diminishing", "persistent", "historical", "sporadic")
    }
    return EmergingResult(cells, pd.DataFrame(ov), list(periods), counts, results)
