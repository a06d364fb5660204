"""Crime Stoppers Zones: grid cells where harm is high and public reporting looks low, ranked
with their reasons; a chosen zone becomes an initiative whose leaflet drops are published as
tasks (:mod:`guardian.operations.tasks`).

"Reporting looks low" - the proxy, and its limits
------------------------------------------------
The store holds recorded crime, not calls or reports, so under-reporting cannot be measured.
What it can show is how a place's crime came to police notice. Some categories are recorded
almost only when the public reports them (:data:`PUBLIC_REPORTED`: burglary, robbery, theft,
vehicle crime, criminal damage, violence); two are recorded almost only when police find them
(:data:`PROACTIVE`: drugs and possession of weapons, from stop and search, warrants and
patrol). The proxy is a cell's proactive share ``p = proactive / (proactive + public-reported)``
against the same share over the whole force, ``p_F``:

* reporting index ``p / p_F`` - above 1, police find relatively more crime there than the public
  report (for the force's mix);
* one-sided binomial test of ``proactive >= observed`` given the cell's total and ``p_F``.

A cell "looks low" when the index is above 1 and the p-value is below ``alpha``. Limits: a high
proactive share also comes from heavy policing (officers who patrol a place find its drugs), from
a drugs market that is itself the problem, or from genuinely little acquisitive crime; the test
treats crimes as independent; police.uk points are snapped to map points and its months are
coarse. The ranking proposes places to look at, it does not prove under-reporting.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy import stats
from sqlalchemy import Connection, Engine, func, insert, select

from guardian.data.harm_table import load_harm_weights
from guardian.data.months import add_months
from guardian.errors import InputError
from guardian.operations.initiatives import place as P
from guardian.store.db import read_connection
from guardian.store.models import Event

PROACTIVE: tuple[str, ...] = ("Drugs", "Possession of weapons")
"""Categories police record mostly on their own initiative."""

PUBLIC_REPORTED: tuple[str, ...] = (
    "Burglary", "Robbery", "Theft from the person", "Vehicle crime", "Criminal damage and arson",
    "Bicycle theft", "Other theft", "Violence and sexual offences")
"""Categories recorded mostly when a victim or witness reports them. Shoplifting (reported by
shops), public order and other crime are mixed and left out of the proxy (they still count in
harm)."""

PROXY = ("share of crime police find themselves (drugs, possession of weapons) among that plus "
         "public-reported crime (burglary, robbery, theft, vehicle crime, criminal damage, "
         "violence), against the force's share: a high share can also mean heavy policing, so "
         "this proposes places to look at, it does not measure under-reporting")

LEAFLET_KIND = "leaflet-drop"


@dataclass(frozen=True)
class Zone:
    """A proposed zone (one grid cell) and why."""

    rank: int
    cell: tuple[int, int]
    cell_m: float
    district: str
    harm: float
    harm_rank: int
    crimes: int
    proactive: int
    public_reported: int
    share: float
    share_low: float
    share_high: float
    force_share: float
    reporting_index: float
    p_value: float
    why: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cell"] = list(self.cell)
        return d


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n``."""
    if n <= 0:
        return float("nan"), float("nan")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def rank_zones(events: pd.DataFrame, *, weights: dict[str, float], cell_m: float = 500.0,
               top_share: float = 0.10, min_crimes: int = 20, alpha: float = 0.05,
               n: int = 10) -> dict[str, Any]:
    """Rank grid cells for Crime Stoppers Zones (pure: a frame in, a dict out).

    Parameters
    ----------
    events : DataFrame
        Columns ``category, x, y, district`` (metres); rows without a point are ignored.
    weights : dict
        Harm weight per category (ASB 0).
    cell_m : float
        Cell size in metres; cell ``(i, j)`` covers ``[i*cell_m, (i+1)*cell_m)`` in x and y.
    top_share : float
        Candidate cells are the highest-harm ``top_share`` of the cells with any crime (at least
        one cell).
    min_crimes : int
        Fewest proactive + public-reported crimes a candidate needs (smaller numbers give no
        usable share).
    alpha : float
        One-sided significance level of the binomial test.
    n : int
        Zones returned at most.

    Returns
    -------
    dict
        ``zones`` (list of :class:`Zone`, harm-ranked, flagged cells only), ``considered``
        (candidate cells), ``force_share``, ``force_proactive``, ``force_public_reported``,
        ``cells_with_crime``, ``proxy`` and ``rule`` (the sentence stating the selection).
    """
    if not 0 < top_share <= 1:
        raise InputError("top_share must be in (0, 1]")
    if not 0 < alpha < 1:
        raise InputError("alpha must be between 0 and 1")
    if not 25 <= cell_m <= 5000:
        raise InputError("cell_m must be between 25 and 5000 metres")
    ev = events[np.isfinite(events["x"]) & np.isfinite(events["y"])].copy()
    ev["i"] = np.floor(ev["x"] / cell_m).astype(np.int64)
    ev["j"] = np.floor(ev["y"] / cell_m).astype(np.int64)
    ev["w"] = ev["category"].map(weights).fillna(0.0).astype(float)
    ev["pro"] = ev["category"].isin(PROACTIVE)
    ev["pub"] = ev["category"].isin(PUBLIC_REPORTED)
    fp, fq = int(ev["pro"].sum()), int(ev["pub"].sum())
    rule = (f"cells of {cell_m:g} m in the top {top_share:.0%} by harm with at least "
            f"{min_crimes} proactive + public-reported crimes, whose proactive share is above "
            f"the force's with one-sided binomial p < {alpha:g}; ranked by harm")
    base = {"proxy": PROXY, "rule": rule, "force_proactive": fp, "force_public_reported": fq,
            "force_share": (fp / (fp + fq)) if fp + fq else None}
    if ev.empty or fp + fq == 0:
        return base | {"zones": [], "considered": 0, "cells_with_crime": 0}
    pf = fp / (fp + fq)
    g = ev.groupby(["i", "j"]).agg(harm=("w", "sum"), crimes=("category", "size"),
                                   pro=("pro", "sum"), pub=("pub", "sum"))
    dist = ev.groupby(["i", "j"])["district"].agg(lambda s: s.value_counts().index[0])
    g["district"] = dist
    g = g.reset_index().sort_values(["harm", "i", "j"], ascending=[False, True, True],
                                    kind="stable").reset_index(drop=True)
    g["harm_rank"] = np.arange(1, len(g) + 1)
    k_top = max(1, math.ceil(top_share * len(g)))
    cand = g.iloc[:k_top]
    cand = cand[(cand["pro"] + cand["pub"]) >= min_crimes]
    zones: list[Zone] = []
    for r in cand.itertuples(index=False):
        m = int(r.pro + r.pub)
        share = r.pro / m
        p = float(stats.binom.sf(int(r.pro) - 1, m, pf))
        if not (share > pf and p < alpha):
            continue
        lo, hi = wilson(int(r.pro), m)
        idx = share / pf if pf > 0 else float("inf")
        why = (f"harm rank {int(r.harm_rank)} of {len(g)} cells ({r.harm:,.0f} harm); "
               f"{int(r.pro)} of {m} crimes found by police ({share:.0%}, 95% CI "
               f"{lo:.0%}-{hi:.0%}) against {pf:.0%} force-wide: index {idx:.2f}, "
               f"p = {p:.2g}")
        zones.append(Zone(0, (int(r.i), int(r.j)), float(cell_m), str(r.district),
                          float(r.harm), int(r.harm_rank), int(r.crimes), int(r.pro),
                          int(r.pub), share, lo, hi, pf, idx, p, why))
    zones = [Zone(**(asdict(z) | {"rank": k + 1, "cell": z.cell})) for k, z in
             enumerate(zones[:n])]
    return base | {"zones": zones, "considered": int(len(cand)), "cells_with_crime": int(len(g))}


def zone_ranking(bind: Engine | Connection, *, dataset: str, end_month: str | None = None,
                 months: int = 12, cell_m: float = 500.0, top_share: float = 0.10,
                 min_crimes: int = 20, alpha: float = 0.05, n: int = 10,
                 harm_table: str = "harm_index_v1") -> dict[str, Any]:
    """Crime Stoppers Zone proposals from the store (see :func:`rank_zones` and the module
    docstring for the proxy). The window is ``months`` months ending ``end_month`` (default
    the dataset's latest month).

    Returns
    -------
    dict
        :func:`rank_zones`'s dict (zones as dicts) plus ``dataset``, ``months`` (first, last),
        ``harm_table``.
    """
    from guardian.operations.initiatives.service import _dataset

    if not 1 <= int(months) <= 60:
        raise InputError("months must be between 1 and 60")
    hw = load_harm_weights(harm_table)
    with read_connection(bind) as conn:
        ds = _dataset(conn, dataset)
        last = end_month or conn.execute(select(func.max(Event.month)).where(
            Event.dataset_id == ds.id)).scalar()
        if last is None:
            raise InputError(f"{ds.name}: no events in the store")
        first = add_months(last, -(int(months) - 1))
        ev = P.dataset_events(conn, ds.id, ds.name, start_month=first, end_month=last)
    weights = {c: hw.weight(c) for c in ev["category"].unique()}
    out = rank_zones(ev, weights=weights, cell_m=cell_m, top_share=top_share,
                     min_crimes=min_crimes, alpha=alpha, n=n)
    out["zones"] = [z.to_dict() for z in out["zones"]]
    loaded = sorted(ev["month"].unique().tolist())
    if not loaded:
        raise InputError(f"{ds.name}: no events in {first}..{last}")
    return out | {"dataset": ds.name, "months": [loaded[0], loaded[-1]],
                  "months_loaded": len(loaded), "window": [first, last],
                  "harm_table": hw.version, "harm_unit": hw.unit}


def _local_to_utc(day: date, hh: int, tz: str) -> datetime:
    t = datetime.combine(day, time(hh), tzinfo=ZoneInfo(tz))
    return t.astimezone(UTC).replace(tzinfo=None)


def publish_leaflet_drops(bind: Engine | Connection, *, ref: Any, team: str | None = None,
                          start_hour: int = 9, end_hour: int = 17) -> dict[str, Any]:
    """Publish a Crime Stoppers Zone's leaflet drops as tasks: one per drop day and cell (a
    polygon zone: one at its centre), due between ``start_hour`` and ``end_hour`` local time.

    Idempotent: a drop already published is not published again.

    Returns
    -------
    dict
        ``created`` (new tasks), ``existing`` (already published), ``refs`` (task refs).
    """
    from guardian.operations.initiatives.models import InitiativeDay
    from guardian.operations.initiatives.service import _row, place_geometry, writing
    from guardian.operations.tasks.models import Task
    from guardian.store.models import Dataset

    if not 0 <= start_hour < end_hour <= 23:
        raise InputError("leaflet drop hours: 0 <= start < end <= 23")
    team = (team or "").strip()[:60] or None
    with writing(bind) as conn:
        r = _row(conn, ref)
        if r.kind != "cs-zone":
            raise InputError(f"{r.name} is a {r.kind}: leaflet drops belong to Crime Stoppers "
                             "Zones")
        if r.place_kind == "districts":
            raise InputError(f"{r.name}: a zone of whole districts has no place to drop "
                             "leaflets at; give it an area or cells")
        tz = conn.execute(select(Dataset.timezone).where(Dataset.id == r.dataset_id)).scalar()
        days = sorted({d for (d,) in conn.execute(select(InitiativeDay.day).where(
            InitiativeDay.initiative_id == r.id, InitiativeDay.phase == "deployment"))})
        if r.place_kind == "cells":
            s = float(r.place["cell_m"])
            spots = [((i + 0.5) * s, (j + 0.5) * s, f"cell {i}_{j} ({s:g} m)")
                     for i, j in r.place["cells"]]
        else:
            c = place_geometry(r.place_kind, r.place).representative_point()
            spots = [(c.x, c.y, "zone centre")]
        t = Transformer.from_crs(r.crs, "EPSG:4326", always_xy=True)
        have = set(conn.execute(select(Task.source_ref).where(
            Task.kind == LEAFLET_KIND, Task.source_ref.like(f"L-{r.id}-%"))).scalars())
        why = (f"Crime Stoppers Zone {r.name}: leaflet drop (where harm is high and reporting "
               f"looks low; {(r.details or {}).get('why', 'see the initiative')})")[:1000]
        rows, existing = [], 0
        for d in days:
            for k, (x, y, label) in enumerate(spots, start=1):
                src = f"L-{r.id}-{d:%Y%m%d}-{k}"
                if src in have:
                    existing += 1
                    continue
                lon, lat = t.transform(x, y)
                rows.append({"dataset_id": r.dataset_id, "kind": LEAFLET_KIND, "source_ref": src,
                             "district": (r.districts or [""])[0], "place": label,
                             "area": f"{r.name} ({label})"[:200], "sensitive": False,
                             "x": float(x), "y": float(y), "lon": float(lon), "lat": float(lat),
                             "why": why, "window_start": _local_to_utc(d, start_hour, tz),
                             "due_at": _local_to_utc(d, end_hour, tz), "assignee": None,
                             "team": team, "status": "open", "detail": {"initiative": r.id,
                                                                        "day": d.isoformat()}})
        if rows:
            conn.execute(insert(Task), rows)
        refs = [f"T-{i}" for i in conn.execute(select(Task.id).where(
            Task.kind == LEAFLET_KIND, Task.source_ref.like(f"L-{r.id}-%"))
            .order_by(Task.id)).scalars()]
    return {"created": len(rows), "existing": existing, "refs": refs}


def leaflet_task_counts(conn: Connection, initiative_id: int) -> dict[str, int]:
    """Leaflet-drop tasks of an initiative per status (``open``, ``done``) and in total."""
    from guardian.operations.tasks.models import Task

    rows = conn.execute(select(Task.status, func.count()).where(
        Task.kind == LEAFLET_KIND, Task.source_ref.like(f"L-{initiative_id}-%"))
        .group_by(Task.status)).all()
    out = {"open": 0, "done": 0}
    out.update({s: int(k) for s, k in rows})
    out["total"] = sum(v for k, v in out.items())
    return out


def create_zone(bind: Engine | Connection, *, dataset: str, name: str, start: Any,
                end: Any = None, ranks: list[int] | None = None,
                drop_days: list[Any] | None = None, ranking: dict[str, Any] | None = None,
                **kwargs: Any) -> dict[str, Any]:
    """Record a Crime Stoppers Zone from the ranking (:func:`zone_ranking`, or the one given):
    the cells of the chosen ``ranks`` (default the first), their reasons in the details.
    Extra keyword arguments go to :func:`zone_ranking` (``months``, ``cell_m`` ...) when they
    are its own, else to ``create_initiative``."""
    from guardian.operations.initiatives.service import create_initiative

    rank_keys = {"end_month", "months", "cell_m", "top_share", "min_crimes", "alpha", "n",
                 "harm_table"}
    rk = {k: kwargs.pop(k) for k in list(kwargs) if k in rank_keys}
    ranking = ranking or zone_ranking(bind, dataset=dataset, **rk)
    zones = {z["rank"]: z for z in ranking["zones"]}
    if not zones:
        raise InputError("no cell qualifies as a Crime Stoppers Zone under the rule: "
                         + ranking["rule"])
    want = ranks or [1]
    bad = [k for k in want if k not in zones]
    if bad:
        raise InputError(f"no zone of rank {bad[0]}; the ranking has 1..{max(zones)}")
    picked = [zones[k] for k in want]
    cell_m = picked[0]["cell_m"]
    details = {"why": "; ".join(f"cell {z['cell'][0]}_{z['cell'][1]}: {z['why']}"
                                for z in picked),
               "zones": picked, "proxy": ranking["proxy"], "rule": ranking["rule"],
               "months": ranking.get("months")}
    return create_initiative(bind, dataset=dataset, kind="cs-zone", name=name, start=start,
                             end=end, cells={"cell_m": cell_m,
                                             "cells": [z["cell"] for z in picked]},
                             drop_days=drop_days, details=details, **kwargs)
