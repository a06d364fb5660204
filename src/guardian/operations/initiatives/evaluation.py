"""The evaluation linked to an initiative: before/after and treated-vs-comparison counts from the
store for its place and dates, fed to :mod:`guardian.analysis.evaluation` (the weighted
displacement difference test and the Poisson E-test).

Areas. *Treated*: the initiative's place (events at map points inside the polygon or cells, or
in the listed districts). *Buffer* (polygon and cells only): the ring ``buffer_m`` metres wide
around it, where crime could be displaced to. *Comparison*: the rest of the force (every other
located event of the dataset in the force's districts). The rest of the force is a weak
comparison (it is not matched to the treated place), which the output says.

Periods. police.uk gives months only, so an initiative of days is evaluated on whole months:
*after* runs from the month of its first deployment day to the month of its last day; *before*
is the same number of months just before. An effect lasting a week is diluted into its month.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, select

from guardian.data.geography import OUTSIDE
from guardian.data.months import add_months, month_range
from guardian.data.schema import CRIME_CATEGORIES
from guardian.errors import InputError
from guardian.operations.initiatives import place as P
from guardian.operations.initiatives.models import InitiativeDay
from guardian.store.db import read_connection
from guardian.store.models import Event

UNAVAILABLE = "evaluation not available yet"


def _analysis():
    try:
        from guardian.analysis import evaluation as E
    except ImportError:  # the evaluation statistics have not landed in this checkout
        return None
    if not all(hasattr(E, f) for f in ("wdd", "etest", "EvaluationResult")):
        return None
    return E


def evaluation_periods(first_deployment: str, last_day: str, before_months: int | None = None
                       ) -> tuple[list[str], list[str]]:
    """Before and after months (``YYYY-MM`` lists) for an initiative whose first deployment day
    is in month ``first_deployment`` and whose last day is in ``last_day``.

    >>> evaluation_periods("2026-03", "2026-03")
    (['2026-02'], ['2026-03'])
    >>> evaluation_periods("2026-11", "2027-02")
    (['2026-07', '2026-08', '2026-09', '2026-10'], ['2026-11', '2026-12', '2027-01', '2027-02'])
    """
    after = month_range(first_deployment, last_day)
    nb = len(after) if before_months is None else int(before_months)
    if not 1 <= nb <= 36:
        raise InputError("before months must be between 1 and 36")
    before = month_range(add_months(after[0], -nb), add_months(after[0], -1))
    return before, after


def area_masks(events: pd.DataFrame, place_kind: str, place: Any, districts: list[str],
               buffer_m: float) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Boolean masks over ``events`` (columns ``x, y, district``): treated, buffer (None for a
    place of whole districts) and comparison (the rest of the force's located events)."""
    from guardian.operations.initiatives.service import place_geometry

    in_force = (events["district"] != OUTSIDE).to_numpy()
    located = (np.isfinite(events["x"]) & np.isfinite(events["y"])).to_numpy()
    if place_kind == "districts":
        treated = events["district"].isin(districts).to_numpy()
        return treated, None, in_force & ~treated
    geom = place_geometry(place_kind, place)
    pts = events[["x", "y"]].fillna(0.0)
    treated = located & P.places_in(geom, pts)
    ring = geom.buffer(buffer_m).difference(geom)
    buffer = located & ~treated & P.places_in(ring, pts)
    control = located & in_force & ~treated & ~buffer
    return treated, buffer, control


def matched_comparison(events: pd.DataFrame, pool: np.ndarray, treated: np.ndarray,
                       before: list[str], place_kind: str, place: Any
                       ) -> tuple[np.ndarray, dict[str, Any]]:
    """A comparison of the treated place's size for the WDD (which compares absolute changes,
    so its control must have a similar count): as many districts (a districts place) or grid
    cells (cells: the place's own cell size; an area: 500 m cells covering its area) from the
    rest of the force as the place has, those whose before counts are nearest the treated
    place's count per district or cell (ties: by name / cell index).

    Returns the mask over ``events`` and a dict describing the choice.
    """
    from guardian.operations.initiatives.service import place_geometry

    pre = events["month"].isin(before).to_numpy()
    t0 = int((treated & pre).sum())
    sub = events[pool]
    if place_kind == "districts":
        k = len(place)
        units = sub["district"].where(~sub["district"].isin([OUTSIDE, P.NO_DISTRICT]))
        label = "districts"
        key_all = events["district"].where(pool, None)
    else:
        g = float(place["cell_m"]) if place_kind == "cells" else 500.0
        k = (len(place["cells"]) if place_kind == "cells"
             else max(1, round(place_geometry(place_kind, place).area / g**2)))
        ok = np.isfinite(events["x"]) & np.isfinite(events["y"])
        ix = np.floor(events["x"].fillna(0) / g).astype(np.int64).astype(str)
        iy = np.floor(events["y"].fillna(0) / g).astype(np.int64).astype(str)
        key_all = (ix + "_" + iy).where(pool & ok.to_numpy(), None)
        units = key_all[pool]
        label = f"cells of {g:g} m"
    counts = units[pre[pool]].value_counts()
    names = sorted(set(units.dropna()))
    if not names:
        return np.zeros(len(events), dtype=bool), {"description": "no comparison available",
                                                     "units": []}
    target = t0 / k
    pick = sorted(names, key=lambda u: (abs(int(counts.get(u, 0)) - target), str(u)))[:k]
    mask = key_all.isin(pick).to_numpy()
    desc = (f"the {len(pick)} {label} of the rest of the force (of {len(names):,}) whose before "
            f"counts are nearest the treated place's {target:.1f} per unit")
    return mask, {"description": desc, "units": [str(u) for u in pick],
                  "before_counts": [int(counts.get(u, 0)) for u in pick]}


def _did(E, events: pd.DataFrame, treated: np.ndarray, pool: np.ndarray, before: list[str],
         after: list[str]) -> dict[str, Any]:
    months = before + after
    rows = []
    for name, m in (("treated", treated), ("comparison", pool)):
        per = events[m]["month"].value_counts()
        rows += [{"area": name, "period": mo, "count": int(per.get(mo, 0))} for mo in months]
    frame = pd.DataFrame(rows)
    family = "negbin" if len(months) >= 6 else "poisson"
    try:
        res = E.did_counts(frame, treated_areas=["treated"], post_periods=after, family=family)
    except (InputError, ValueError) as exc:
        return {"status": "not computed", "reason": str(exc)}
    return res.to_dict() | {"family": family}


def _vector(events: pd.DataFrame, mask, months: list[str], cats: list[str]) -> np.ndarray:
    sub = events[mask & events["month"].isin(months).to_numpy()]
    counts = sub["category"].value_counts()
    return np.array([int(counts.get(c, 0)) for c in cats], dtype=float)


def evaluate_initiative(bind: Engine | Connection, *, ref: Any, harm_table: str | None = None,
                        before_months: int | None = None, buffer_m: float = 500.0
                        ) -> dict[str, Any]:
    """Evaluate an initiative on the store's recorded crime (module docstring for the design).

    Parameters
    ----------
    ref : str or int
        The initiative (``I-3``).
    harm_table : str, optional
        Harm-weight the WDD with this table (e.g. ``"harm_index_v1"``); default counts.
    before_months : int, optional
        Months in the before period (default: as many as the after period).
    buffer_m : float
        Width of the displacement buffer in metres (polygon and cells places).

    Returns
    -------
    dict
        ``status``: ``"ok"``, ``"not-yet"`` (months missing from the store; ``reason`` says
        which) or ``"unavailable"`` (the statistics module is absent). With ``"ok"``:
        ``periods``, ``categories``, ``counts`` (per area and period), ``wdd`` and ``etest``
        (:meth:`EvaluationResult.to_dict`), ``cs_reports`` (an E-test on the Crime Stoppers
        reports recorded as outcomes ``before``/``after``, when both are recorded) and
        ``notes``.
    """
    from guardian.operations.initiatives.service import _outcomes, _row

    if not 0 < float(buffer_m) <= 5000:
        raise InputError("buffer must be between 0 and 5000 metres")
    E = _analysis()
    with read_connection(bind) as conn:
        r = _row(conn, ref)
        if E is None:
            return {"status": "unavailable", "reason": UNAVAILABLE, "ref": f"I-{r.id}"}
        first_dep = conn.execute(select(InitiativeDay.day).where(
            InitiativeDay.initiative_id == r.id, InitiativeDay.phase == "deployment")
            .order_by(InitiativeDay.day).limit(1)).scalar() or r.start_date
        before, after = evaluation_periods(first_dep.strftime("%Y-%m"),
                                           r.end_date.strftime("%Y-%m"), before_months)
        have = set(conn.execute(select(Event.month).where(Event.dataset_id == r.dataset_id)
                                .distinct()).scalars())
        missing = [m for m in before + after if m not in have]
        base = {"ref": f"I-{r.id}", "periods": {"before": before, "after": after}}
        if missing:
            return base | {"status": "not-yet", "reason": (
                f"the store has no {r.dataset} data for {', '.join(missing)}; the evaluation "
                f"needs {before[0]}..{after[-1]}")}
        cats = list(r.categories) or list(CRIME_CATEGORIES)
        ev = P.dataset_events(conn, r.dataset_id, r.dataset, start_month=before[0],
                              end_month=after[-1], categories=cats)
        outcomes = _outcomes(conn, r.id)
    treated, buffer, pool = area_masks(ev, r.place_kind, r.place, list(r.districts),
                                       float(buffer_m))
    control, matched = matched_comparison(ev, pool, treated, before, r.place_kind, r.place)
    vec = {name: {"before": _vector(ev, m, before, cats), "after": _vector(ev, m, after, cats)}
           for name, m in (("treated", treated), ("buffer", buffer), ("comparison", control))
           if m is not None}
    weights = None
    notes = [
        "police.uk months: an initiative of days is evaluated on the whole months it touches "
        f"(after {after[0]}..{after[-1]}, before {before[0]}..{before[-1]}), which dilutes a "
        "short effect",
        f"WDD comparison: {matched['description']}; matched on the before period only, so it "
        "shares any regression to the mean but not the treated place's character",
        "DiD rate ratio: treated against the whole rest of the force, month by month "
        "(area and month effects absorb their different sizes)",
    ]
    if harm_table:
        from guardian.data.harm_table import load_harm_weights

        hw = load_harm_weights(harm_table)
        weights = np.array([hw.weight(c) for c in cats])
        notes.append(f"WDD harm-weighted with {hw.version} ({hw.unit})")
    # Equal-length periods: the WDD needs them; with unequal ones the before counts are scaled.
    scale = len(after) / len(before)
    t0, c0 = vec["treated"]["before"] * scale, vec["comparison"]["before"] * scale
    if scale != 1:
        notes.append(f"before counts scaled by {scale:.3g} to the after period's length "
                     "(the WDD variance then treats them as observed counts)")
    kw: dict[str, Any] = {}
    if "buffer" in vec:
        kw = {"displaced_before": vec["buffer"]["before"] * scale,
              "displaced_after": vec["buffer"]["after"]}
    res_wdd = E.wdd(t0, vec["treated"]["after"], c0, vec["comparison"]["after"],
                    weights=weights, **kw)
    did = _did(E, ev, treated, pool, before, after)
    kt0, kt1 = int(vec["treated"]["before"].sum()), int(vec["treated"]["after"].sum())
    res_e = E.etest(kt0, float(len(before)), kt1, float(len(after)))
    out = base | {
        "status": "ok", "categories": cats, "buffer_m": float(buffer_m) if buffer is not None
        else None,
        "counts": {a: {p: int(v.sum()) for p, v in d.items()} for a, d in vec.items()},
        "by_category": {a: {p: dict(zip(cats, map(int, v), strict=True)) for p, v in d.items()}
                        for a, d in vec.items()},
        "wdd": res_wdd.to_dict(), "etest": res_e.to_dict(), "did": did, "notes": notes,
        "comparison": matched,
        "etest_reading": (f"treated area: {kt0} crimes in {len(before)} month(s) before, {kt1} "
                          f"in {len(after)} after; rate difference before - after "
                          f"{res_e.estimate:.2f} a month"),
    }
    cs = {o["detail"].lower(): o["value"] for o in outcomes if o["measure"] == "cs-reports"}
    if "before" in cs and "after" in cs:
        out["cs_reports"] = E.etest(int(cs["before"]), float(len(before)), int(cs["after"]),
                                    float(len(after))).to_dict()
    return out


def board_initiatives(bind: Engine | Connection, *, dataset: str, start: Any, end: Any,
                      categories: list[str] | None = None, evaluate: bool = True,
                      harm_table: str | None = None) -> list[dict[str, Any]]:
    """Initiatives for the board report: those overlapping ``start``..``end`` (e.g. a quarter)
    that target any of ``categories`` (or every category), each with its resources (hours and
    pounds), outcome totals and, with ``evaluate``, its evaluation
    (:func:`evaluate_initiative`; ``status`` says when it cannot be done yet).

    Returns
    -------
    list of dict
        :func:`~guardian.operations.initiatives.service.list_initiatives` rows plus
        ``evaluation``.
    """
    from guardian.operations.initiatives.service import list_initiatives

    rows = list_initiatives(bind, dataset=dataset, start=start, end=end, categories=categories)
    for d in rows:
        d["evaluation"] = (evaluate_initiative(bind, ref=d["ref"], harm_table=harm_table)
                           if evaluate else None)
    return rows
