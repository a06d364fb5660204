"""Harm spots: the briefing month's top harm-weighted 150 m cells, why each is on the list, the
concentration of harm, stability against the previous month and emerging / persistent labels.

Period: the **briefing month itself** (what the coordination meeting acts on); the study area
is the footprint of the six months to the briefing month so that the month and its predecessors
are analysed on the same cells; labels need all six months loaded.
"""

from __future__ import annotations

import numpy as np

from guardian.analysis import performance as perf
from guardian.analysis.hotspots import (
    StudyArea,
    emerging_hotspots,
    harm_spots,
    spot_overlap,
)
from guardian.errors import InputError
from guardian.reports import maps
from guardian.reports.briefing import common as c
from guardian.reports.briefing import targeting as tg
from guardian.reports.briefing.base import SimpleSection, unavailable

TOP_N = 20
"""Spots listed (single 150 m cells)."""
CELL_M = 150.0
LABEL_MONTHS = 6
"""Months of the emerging / persistent labels (and of the study-area footprint)."""
LABEL_ORDER = ("new", "emerging", "persistent", "diminishing", "historical", "sporadic")


def compute(ctx):
    """Harm spots of the briefing month (cached on the context): ``(result, previous, emerging,
    window, present)`` or raises InputError with the reason."""
    if "harm_spots" in ctx.scratch:
        return ctx.scratch["harm_spots"]
    ev = ctx.targeting_events
    if ev.empty or ev["x"].notna().sum() == 0:
        raise InputError(
            f"no victim/public-reported crime with a location is loaded for {ctx.month}"
        )
    window = perf.month_range(perf.add_months(ctx.month, -(LABEL_MONTHS - 1)), ctx.month)
    loaded = set(ctx.loaded_months.get(ctx.force, []))
    present = [m for m in window if m in loaded]
    area = StudyArea.from_events(ev[ev["month"].isin(present)], cell_m=CELL_M)
    # per-event harm weights (the category mapping, applied once rather than per month)
    w = ev["category"].map(dict(ctx.harm_weights.weights)).astype(float).fillna(0.0)
    kw = {"area": area, "weights": w.to_numpy(), "top_n": TOP_N}
    tz = tg.local_tz(ctx)
    emerging = None
    if len(present) == LABEL_MONTHS:
        periods = [
            (tg.month_start(m, tz), tg.month_start(perf.add_months(m, 1), tz)) for m in window
        ]
        emerging = emerging_hotspots(ev, periods=periods, **kw)
        res, prev = emerging.results[-1], emerging.results[-2]
    else:
        nxt = perf.add_months(ctx.month, 1)
        res = harm_spots(ev, start=tg.month_start(ctx.month, tz), end=tg.month_start(nxt, tz), **kw)
        pm = perf.add_months(ctx.month, -1)
        prev = None
        if pm in loaded:
            prev = harm_spots(
                ev, start=tg.month_start(pm, tz), end=tg.month_start(ctx.month, tz), **kw
            )
    out = (res, prev, emerging, window, present)
    ctx.scratch["harm_spots"] = out
    return out


def _spot_records(res, labels: dict, crs: str) -> list[dict]:
    g = res.area.grid
    recs = []
    for r in res.spots.itertuples(index=False):
        cells_xy = [[g.x0 + col * g.cell_m, g.y0 + row * g.cell_m] for row, col in r.cells]
        xs = np.array([p[0] for p in cells_xy] + [p[0] + g.cell_m for p in cells_xy])
        ys = np.array([p[1] for p in cells_xy] + [p[1] + g.cell_m for p in cells_xy])
        lon, lat = tg.to_lonlat([r.x, xs.min(), xs.max()], [r.y, ys.min(), ys.max()], crs)
        keys = [list(map(int, k)) for k in r.cell_keys]
        recs.append(
            {
                "rank": int(r.rank),
                "district": r.district,
                "streets": r.streets,
                "offences": int(r.offences),
                "harm": float(r.harm),
                "share_harm": float(r.share_harm),
                "share_offences": float(r.share_offences),
                "share_area": float(r.share_area),
                "gi_z": float(r.gi_z),
                "gi_q": float(r.gi_q),
                "significant": bool(r.gi_hot),
                "label": labels.get(tuple(keys[0])),
                "why": r.why,
                "x": float(r.x),
                "y": float(r.y),
                "cell_keys": keys,
                "cells_xy": cells_xy,
                "lon": float(lon[0]),
                "lat": float(lat[0]),
                "bounds": [[float(lat[1]), float(lon[1])], [float(lat[2]), float(lon[2])]],
            }
        )
    return recs


def build(ctx) -> dict:
    try:
        res, prev, emerging, window, present = compute(ctx)
    except InputError as exc:
        return unavailable(tg.reason(exc, "harm spots cannot be computed"))
    ev = ctx.targeting_events
    crs = tg.events_crs(ev) or res.area.grid.crs
    labels = {}
    if emerging is not None:
        labels = {
            (int(a), int(b)): str(lab)
            for a, b, lab in zip(
                emerging.cells["gx"], emerging.cells["gy"], emerging.cells["label"], strict=True
            )
        }
    spots = _spot_records(res, labels, crs)
    conc = res.concentration
    conc_d = {
        "available": True,
        "quantity": conc.quantity,
        "fractions": list(conc.fractions),
        "share_of_area": list(conc.share_of_area),
        "share_of_occupied": list(conc.share_of_occupied),
        "gini_area": conc.gini_area,
        "gini_occupied": conc.gini_occupied,
        "n_area_cells": conc.n_area_cells,
        "n_occupied_cells": conc.n_occupied_cells,
        "sentence": conc.sentence(),
    }
    pm = perf.add_months(ctx.month, -1)
    if prev is not None:
        ov = spot_overlap(prev.spot_cells, res.spot_cells)
        stability = {"available": True, "previous_month": pm, **ov}
    else:
        stability = unavailable(
            f"{pm} is not loaded, so this month's spots cannot be compared with last month's",
            previous_month=pm,
        )
    if emerging is not None:
        ovf = emerging.overlap
        on_list = {}
        for s in spots:
            key = s["label"] or "never significant"
            on_list[key] = on_list.get(key, 0) + 1
        emerging_d = {
            "available": True,
            "months": window,
            "label_counts": {k: emerging.label_counts.get(k, 0) for k in LABEL_ORDER},
            "top_spot_labels": on_list,
            "overlap": [
                {
                    "month": str(r.period)[:7],
                    "overlap": int(r.overlap),
                    "share_repeated": float(r.share_repeated),
                    "jaccard": float(r.jaccard),
                }
                for r in ovf.itertuples(index=False)
            ],
            "mean_jaccard": float(ovf["jaccard"].mean()) if len(ovf) else None,
            "rule": (
                "Gi* (FDR 5%) per month on the same cells; Mann-Kendall trend of each cell's "
                "z-scores: new = hot only in the last month; emerging / diminishing = hot in the "
                "last month with a rising / falling trend; persistent = hot in at least 90% of "
                "months; historical = hot in 90% of the earlier months but not the last"
            ),
        }
    else:
        missing = [m for m in window if m not in present]
        emerging_d = unavailable(
            f"emerging / persistent labels need all {LABEL_MONTHS} months {window[0]}..{window[-1]} "
            f"loaded (a gap would be invisible to the trend test); not loaded: "
            f"{', '.join(missing)}",
            months=window,
        )
    precision = tg.APPROXIMATE if res.precision == "approximate" else tg.EXACT
    month_ev = ev[(ev["month"] == ctx.month) & ev["x"].notna() & ev["y"].notna()]
    title = f"Top {len(spots)} harm spots, {c.month_label(ctx.month)} ({CELL_M:g} m cells)"
    fig = maps.harm_spot_map(
        month_ev["x"].to_numpy(float),
        month_ev["y"].to_numpy(float),
        spots,
        cell_m=CELL_M,
        title=title,
        caption=(
            f"Grey: every victim/public-reported crime of the month with a location "
            f"({len(month_ev):,}). Red: the spot cells (to scale), ringed and numbered by rank. "
            f"Locations {precision}."
        ),
        crs=crs,
    )
    chart = maps.figure_data_uri(fig, dpi=85)
    # background for the interactive map: the month's map points with their counts
    pts = month_ev.groupby(["x", "y"]).size().reset_index(name="n")
    plon, plat = tg.to_lonlat(pts["x"], pts["y"], crs)
    total_share = float(sum(s["share_harm"] for s in spots))
    total_area = float(sum(s["share_area"] for s in spots))
    return {
        "available": True,
        "month": ctx.month,
        "period": {"start": f"{ctx.month}-01", "end": f"{perf.add_months(ctx.month, 1)}-01"},
        "period_rule": (
            "the briefing month; study area = cells within 450 m of any event of the "
            f"{len(present)} loaded months {window[0]}..{window[-1]}"
        ),
        "cell_m": CELL_M,
        "top_n": TOP_N,
        "precision": precision,
        "categories": list(res.categories),
        "excluded_categories": list(res.excluded_categories),
        "harm_index": ctx.harm_weights.version,
        "notes": list(res.notes),
        "totals": res.totals,
        "top_share_harm": total_share,
        "top_share_area": total_area,
        "sentence": (
            f"{len(spots)} cells of {CELL_M:g} m — {100 * total_area:.2f}% of the study area — "
            f"hold {100 * total_share:.1f}% of the month's harm"
        ),
        "spots": spots,
        "concentration": conc_d,
        "stability": stability,
        "emerging": emerging_d,
        "params": res.params,
        "chart": chart,
        "map_layer": {
            "points": [
                [float(a), float(b), int(n)] for a, b, n in zip(plat, plon, pts["n"], strict=True)
            ],
            "spots": [
                {
                    "rank": s["rank"],
                    "bounds": s["bounds"],
                    "label": s["label"],
                    "why": s["why"],
                    "district": s["district"],
                    "streets": s["streets"],
                }
                for s in spots
            ],
        },
    }


SECTION = SimpleSection(
    key="harm_spots", title="Harm spots", template="section_harm_spots.html.j2", builder=build
)
