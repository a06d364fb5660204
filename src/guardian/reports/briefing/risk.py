"""Next month's risk map, shown only with its measured accuracy.

Methods compared on the loaded data by a rolling-origin back-test with monthly windows (the
last :data:`BACKTEST_MONTHS` months to the briefing month, each predicted from the events before
it): ``naive`` (last month's counts, the baseline), ``naive-365d`` (all counts of the past year)
and ``prospective`` (Bowers, Johnson & Pease 2004). The method with the highest mean PAI at 5%
area draws the map for the month after the briefing month. ``kde`` is left out of the briefing
for time (about 11 s for eight Essex windows, see ``docs/risk.md``); ``sepp`` needs exact dates
and refuses police.uk months.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from guardian.analysis import performance as perf
from guardian.analysis.risk import Grid, NaiveRisk, ProspectiveRisk, rolling_origin_backtest
from guardian.errors import InputError
from guardian.reports import maps
from guardian.reports.briefing import common as c
from guardian.reports.briefing import targeting as tg
from guardian.reports.briefing.base import SimpleSection, unavailable

BACKTEST_MONTHS = 6
MIN_WINDOWS = 3
COVERAGES = (0.01, 0.02, 0.05, 0.10)
CHOOSE_AT = 0.05
BASELINE = "naive"
MAP_TOP = 0.01
"""Share of the study area drawn on the interactive map (the top-scored cells)."""

LABELS = {
    "naive": "last month's counts (naive baseline)",
    "naive-365d": "counts of the past 12 months",
    "prospective": "prospective hotspotting (400 m, 8 weeks)",
}


def _methods() -> dict:
    return {
        "naive": NaiveRisk(),
        "naive-365d": NaiveRisk(lookback_days=365),
        "prospective": ProspectiveRisk(),
    }


def build(ctx) -> dict:
    ev = ctx.targeting_events
    if ev.empty:
        return unavailable(f"no victim/public-reported crime is loaded up to {ctx.month}")
    tz = tg.local_tz(ctx)
    first = perf.add_months(ctx.month, -(BACKTEST_MONTHS - 1))
    nxt = perf.add_months(ctx.month, 1)
    loaded = set(ctx.loaded_months.get(ctx.force, []))
    test_months = [m for m in perf.month_range(first, ctx.month) if m in loaded]
    if len(test_months) < MIN_WINDOWS:
        return unavailable(
            f"a risk map is shown only with its back-test, which needs at least {MIN_WINDOWS} "
            f"loaded months among {first}..{ctx.month} (have {len(test_months)})"
        )
    crs = tg.events_crs(ev)
    # the columns the risk methods read (strings repeated per window are costly to re-check)
    slim = ev[["x", "y", "time", "time_precision"]]
    try:
        has = slim["x"].notna() & slim["y"].notna()
        grid = Grid.covering(
            slim.loc[has, "x"].to_numpy(float),
            slim.loc[has, "y"].to_numpy(float),
            cell_m=150.0,
            crs=crs,
        )
        bt = rolling_origin_backtest(
            slim,
            grid=grid,
            methods=_methods(),
            start=tg.month_start(first, tz),
            end=tg.month_start(nxt, tz),
            window="month",
            coverages=COVERAGES,
        )
        windows = int(bt.summary["windows"].max()) if len(bt.summary) else 0
        if windows < MIN_WINDOWS:
            return unavailable(
                f"only {windows} back-test windows had events (need {MIN_WINDOWS}); no map is "
                "shown without its measured accuracy"
            )
        best = bt.best_method(CHOOSE_AT)
        start, end = tg.month_start(nxt, tz), tg.month_start(perf.add_months(nxt, 1), tz)
        model = _methods()[best].clone(grid=bt.grid).fit(slim, start)
        surface = replace(model.predict(start, end), method=best)
    except InputError as exc:
        return unavailable(tg.reason(exc, "the risk back-test could not run"))
    best_s = bt.summary_for(best)
    base_s = bt.summary_for(BASELINE)
    table = []
    for name in bt.summary["method"].unique():
        s = bt.summary_for(str(name))
        table.append(
            {
                "method": str(name),
                "label": LABELS.get(str(name), str(name)),
                "hit_rate": s["mean_hit_rate"],
                "pai": s["mean_pai"],
                "windows": s["windows"],
                "seconds": float(bt.timings.get(str(name), 0.0)),
            }
        )
    oracle = (
        bt.summary[bt.summary["method"] == best].sort_values("coverage")["mean_oracle_pai"].tolist()
    )
    ratio = [
        (b / n if n else None) for b, n in zip(best_s["mean_pai"], base_s["mean_pai"], strict=True)
    ]
    caption = maps.backtest_caption(best_s)
    fig = maps.render_risk_map(
        surface,
        best_s,
        None,
        mask=bt.domain,
        coverage=CHOOSE_AT,
        title=f"{LABELS.get(best, best)}: risk for {c.month_label(nxt)} (150 m cells)",
    )
    chart = maps.figure_data_uri(fig, dpi=72)
    # top cells for the interactive map
    g = bt.grid
    v = np.where(bt.domain, surface.values, -np.inf).ravel()
    k = max(1, int(round(MAP_TOP * int(bt.domain.sum()))))
    top = np.argsort(-v, kind="stable")[:k]
    top = top[np.isfinite(v[top]) & (v[top] > 0)]
    rr, cc = np.divmod(top, g.nx)
    x0 = g.x0 + cc * g.cell_m
    y0 = g.y0 + rr * g.cell_m
    lon0, lat0 = tg.to_lonlat(x0, y0, crs)
    lon1, lat1 = tg.to_lonlat(x0 + g.cell_m, y0 + g.cell_m, crs)
    i = best_s["coverage"].index(CHOOSE_AT) if CHOOSE_AT in best_s["coverage"] else 0
    return {
        "available": True,
        "month": nxt,
        "window": {"start": start.isoformat(), "end": end.isoformat()},
        "method": best,
        "method_label": LABELS.get(best, best),
        "chosen_by": f"highest mean PAI at {100 * CHOOSE_AT:g}% of the study area in the back-test",
        "events_basis": (
            "victim/public-reported crime (every crime category except Drugs and Possession of "
            "weapons; ASB excluded), counts per 150 m cell"
        ),
        "precision": tg.precision_label(ev),
        "backtest": {
            "windows": int(best_s["windows"]),
            "first_cutoff": best_s["first_cutoff"],
            "last_cutoff": best_s["last_cutoff"],
            "window": "month",
            "test_months": test_months,
            "coverages": list(best_s["coverage"]),
            "best": best_s,
            "baseline": base_s,
            "pai_ratio_vs_baseline": ratio,
            "oracle_pai": oracle,
            "methods": table,
            "n_domain_cells": bt.n_domain_cells,
            "domain": bt.params.get("domain"),
            "tie_rule": bt.params.get("tie_rule"),
        },
        "caption": caption,
        "sentence": (
            f"Over {int(best_s['windows'])} monthly back-test windows, the top "
            f"{100 * CHOOSE_AT:g}% of cells of the {best} map caught on average "
            f"{100 * best_s['mean_hit_rate'][i]:.1f}% of the following month's offences "
            f"(PAI {best_s['mean_pai'][i]:.2f}), against {100 * base_s['mean_hit_rate'][i]:.1f}% "
            f"(PAI {base_s['mean_pai'][i]:.2f}) for last month's counts"
        ),
        "omitted": [
            "kde: left out of the briefing for time (about 11 s for eight Essex windows); "
            "run `guardian risk backtest --method all` for it",
            "sepp: needs day- or minute-resolution dates (refuses police.uk months)",
        ],
        "caveat": (
            "police.uk locations are snapped to anonymised map points that recur month after "
            "month, so PAIs this high rank snap points, not streets"
            if tg.precision_label(ev) == tg.APPROXIMATE
            else ""
        ),
        "chart": chart,
        "map_layer": {
            "top_share": MAP_TOP,
            "cells": [
                [[float(a), float(b)], [float(c2), float(d)]]
                for a, b, c2, d in zip(lat0, lon0, lat1, lon1, strict=True)
            ],
        },
    }


SECTION = SimpleSection(
    key="risk",
    title="Next month's risk map and its measured accuracy",
    template="section_risk.html.j2",
    builder=build,
)
