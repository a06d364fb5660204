"""Assembling the quarterly board report: every figure traced, from the briefing's context.

The report for a quarter is built on the monthly briefing's :class:`BriefingContext` for the
quarter's last month (the same store reads, counts, anomalies, harm table and comparison group),
plus the themes configuration and the analyst's texts from the store. :func:`build_board`
returns JSON-able data whose every number is a traced figure (see :mod:`.trace`); nothing in it
depends on the time of the run, so the same quarter on the same data gives the same JSON.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import pandas as pd

from guardian.analysis import harm as harm_mod
from guardian.analysis import performance as perf
from guardian.data.schema import ASB, CATEGORIES, CRIME_CATEGORIES
from guardian.errors import InputError
from guardian.reports.board import providers as pv
from guardian.reports.board.themes import Theme, ThemesConfig
from guardian.reports.board.trace import Tracer
from guardian.reports.briefing import common as c
from guardian.reports.briefing.base import clean

SECTION_TITLES = {
    "executive_summary": "Executive summary",
    "performance": "Performance",
    "forecast": "Forecast and its accuracy",
    "themes": "The strategy's themes",
    "streetsafe": "Street Safe and public perception",
    "risks": "Risks and data quality",
    "forward_look": "Forward look",
    "governance": "Governance pack",
}
ORDER = tuple(SECTION_TITLES)


def quarter_months(quarter: str) -> list[str]:
    """``"2021Q4"`` -> ``["2021-10", "2021-11", "2021-12"]``."""
    from guardian.operations.board.service import check_quarter

    q = check_quarter(quarter)
    y, n = int(q[:4]), int(q[5])
    return [f"{y:04d}-{3 * (n - 1) + i:02d}" for i in (1, 2, 3)]


def quarter_of(month: str) -> str:
    y, m = month.split("-")
    return f"{y}Q{(int(m) - 1) // 3 + 1}"


def quarter_label(quarter: str) -> str:
    ms = quarter_months(quarter)
    return f"{quarter[:4]} Q{quarter[5]} ({c.month_label(ms[0]).split()[0]}–{c.month_label(ms[-1])})"


@dataclass
class BoardContext:
    """Inputs of one board report.

    Attributes
    ----------
    ctx : BriefingContext
        The briefing's context for the quarter's last month.
    quarter : str
        ``YYYYQn``.
    themes : ThemesConfig
    texts : dict
        Section slot -> the analyst's latest text (from the store).
    tracer : Tracer
    """

    ctx: Any
    quarter: str
    themes: ThemesConfig
    texts: dict[str, dict]
    tracer: Tracer
    scratch: dict = field(default_factory=dict)

    @property
    def force(self) -> str:
        return self.ctx.force

    @property
    def engine(self):
        return self.ctx.engine

    @property
    def months(self) -> list[str]:
        return quarter_months(self.quarter)

    @property
    def end(self) -> str:
        return self.months[-1]

    @property
    def loaded(self) -> list[str]:
        return list(self.ctx.loaded_months.get(self.ctx.force, []))


# ------------------------------------------------------------------------------ series, windows


def category_series(ctx, dataset: str, categories, *, weights: dict | None = None) -> pd.Series:
    """Monthly count (or harm, with ``weights``) of ``categories`` over the dataset's loaded
    range; NaN for months not loaded."""
    loaded = ctx.loaded_months.get(dataset, [])
    idx = perf.month_range(loaded[0], loaded[-1])
    cnt = ctx.picture.counts
    sub = cnt[(cnt["dataset"] == dataset) & cnt["category"].isin(list(categories))]
    if weights is not None:
        vals = sub["count"] * sub["category"].map(weights).astype(float).fillna(0.0)
        s = vals.groupby(sub["month"]).sum()
    else:
        s = sub.groupby("month")["count"].sum()
    s = s.reindex(idx).fillna(0).astype(float)
    s[~s.index.isin(loaded)] = float("nan")
    return s


def _harm_files() -> list[dict]:
    from guardian.data import harm_table

    out = []
    base = resources.files("guardian.data") / "reference"
    for name in (f"{harm_table.DEFAULT_VERSION}.csv",):
        try:
            out.append({"name": name, "sha256": hashlib.sha256(
                (base / name).read_bytes()).hexdigest()})
        except OSError:
            pass
    return out


def _window_total(b: BoardContext, series, end, months, anomalies, *, what, cats, measure,
                  scale=None) -> tuple[dict | None, dict, str | None]:
    """A window's total as a traced figure (or None with the reason)."""
    ctx = b.ctx
    w = perf.window(series, b.loaded, end, months=months, anomalies=anomalies)
    ms = perf.month_range(w.start, w.end)
    tid = b.tracer.counts(dataset=ctx.force, months=ms, categories=list(cats), what=what,
                          method=_method(measure, ctx))
    if measure == "harm":
        t = b.tracer.traces[tid]
        t["sources"] = sorted(t["sources"] + _harm_files(), key=lambda f: f["name"])
    if not w.complete:
        parts = []
        if w.missing:
            parts.append(f"not loaded: {perf.month_span(w.missing)}")
        if w.anomalous:
            parts.append(f"flagged as data anomalies: {', '.join(w.anomalous)}")
        return None, {"start": w.start, "end": w.end, "coverage": w.coverage}, \
            f"{w.start}..{w.end} has {w.coverage} ({'; '.join(parts)})"
    v = float(w.total) if measure != "count" else int(w.total)
    if measure == "harm":
        v = float(series.loc[ms].sum())
    if scale is not None:
        v = scale(v)
    unit = {"count": "offences", "harm": harm_unit(ctx), "per_1000": "per 1,000 residents"}
    return b.tracer.fig(v, unit=unit[measure], trace=tid), \
        {"start": w.start, "end": w.end, "coverage": w.coverage}, None


def harm_unit(ctx) -> str:
    """Unit of a harm total: the weights' unit without "per offence"."""
    return ctx.harm_weights.unit.replace(" per offence", "")


def _method(measure: str, ctx) -> str:
    if measure == "harm":
        return (f"sum over months and categories of count x harm weight "
                f"({ctx.harm_weights.version}, {ctx.harm_weights.unit})")
    if measure == "per_1000":
        return (f"sum of the counts / resident population x 1,000 "
                f"(population {ctx.populations.get(ctx.force)}, {ctx.population_vintage})")
    return "sum of the counts"


def reference_end(b: BoardContext, compare: str) -> tuple[str, str]:
    """End month and label of a quarter's reference period."""
    if compare == "previous_quarter":
        return perf.add_months(b.end, -3), "previous quarter"
    if compare == "same_quarter_last_year":
        return perf.add_months(b.end, -12), "same quarter last year"
    if compare == "baseline_year":
        y = b.ctx.params.baseline_year
        return f"{y:04d}-{b.end[5:]}", f"same quarter of {y} (baseline year)"
    raise InputError(f"unknown comparison {compare!r}")


def compare(b: BoardContext, series, *, cats, measure="count", months=3, compare_to: str,
            what: str, scale=None) -> dict:
    """The quarter (or 12 months) to the report's end against a reference window, traced."""
    anomalies = c.anomaly_months(b.ctx, b.force) if set(cats) & set(CRIME_CATEGORIES) else []
    if compare_to == "previous_12_months":
        ref_end, label = perf.add_months(b.end, -12), "previous 12 months"
    elif compare_to == "baseline_12_months":
        y = b.ctx.params.baseline_year
        ref_end, label = f"{y:04d}-{b.end[5:]}", f"12 months to {c.month_label(f'{y}-{b.end[5:]}')}"
    else:
        ref_end, label = reference_end(b, compare_to)
    cur, cur_w, why_c = _window_total(b, series, b.end, months, anomalies, what=what, cats=cats,
                                      measure=measure, scale=scale)
    ref, ref_w, why_r = _window_total(b, series, ref_end, months, anomalies,
                                      what=f"{what}, {label}", cats=cats, measure=measure,
                                      scale=scale)
    out = {"label": label, "compare": compare_to, "current": cur, "reference": ref,
           "current_period": cur_w, "reference_period": ref_w}
    reasons = [r for r in (why_c, why_r and f"reference {why_r}") if r]
    if reasons:
        return {**out, "available": False, "reason": "; ".join(reasons), "change": None,
                "pct_change": None}
    t_change = b.tracer.entry(what=f"change in {what} on the {label}",
                              query="current - reference",
                              parameters={"current": cur["trace"], "reference": ref["trace"]})
    t_pct = b.tracer.entry(what=f"per cent change in {what} on the {label}",
                           query="(current / reference - 1) x 100",
                           parameters={"current": cur["trace"], "reference": ref["trace"]})
    pct = None if not ref["value"] else (cur["value"] / ref["value"] - 1) * 100
    return {**out, "available": True, "reason": None,
            "change": b.tracer.fig(cur["value"] - ref["value"], unit=cur["unit"], trace=t_change),
            "pct_change": b.tracer.fig(pct, unit="%", trace=t_pct)}


# ------------------------------------------------------------------------------ sections


def _text(b: BoardContext, slot: str) -> dict:
    """The analyst's text slot (its latest version, or empty), with its trace."""
    t = b.texts.get(slot)
    out = {"slot": slot, "text": None}
    if t:
        tid = b.tracer.entry(
            what=f"analyst text for {slot}",
            query=("SELECT body, author, created_at, version FROM board_texts WHERE force = "
                   f"'{b.force}' AND quarter = '{b.quarter}' AND section = '{slot}' ORDER BY "
                   "version DESC LIMIT 1"),
            parameters={"author": t["author"], "at": t["at"]})
        out["text"] = {"body": t["body"], "author": t["author"], "at": t["at"],
                       "version": b.tracer.fig(t["version"], unit="version", trace=tid)}
    return out


def _measure_block(b: BoardContext, column: str, cats: list[str], name: str) -> dict:
    series = category_series(b.ctx, b.force, cats)
    comps = {k: compare(b, series, cats=cats, compare_to=k, what=f"{name}, quarter")
             for k in ("previous_quarter", "same_quarter_last_year", "baseline_year")}
    rolling = {k: compare(b, series, cats=cats, months=12, compare_to=k,
                          what=f"{name}, 12 months")
               for k in ("previous_12_months", "baseline_12_months")}
    monthly = []
    for m in b.months:
        tid = b.tracer.counts(dataset=b.force, months=[m], categories=cats,
                              what=f"{name}, {m}")
        v = series.get(m)
        monthly.append({"month": m, "loaded": m in b.loaded,
                        "count": b.tracer.fig(v, unit="offences", trace=tid)
                        if m in b.loaded else None})
    return {"quarter": comps["previous_quarter"]["current"], "comparisons": comps,
            "rolling_12_months": rolling, "monthly": monthly}


def _group_rank(b: BoardContext, measure: str) -> dict:
    """Rank of the quarter's crime or harm per 1,000 among the loaded group members."""
    ctx = b.ctx
    if ctx.group is None:
        return {"available": False, "reason": f"no comparison group configured for "
                f"{ctx.force_short}"}
    weights = dict(ctx.harm_weights.weights) if measure == "harm_per_1000" else None
    vals, notes, used = {}, {}, []
    for short, ds in [(ctx.force_short, ctx.force)] + [
            (s, d) for s, d in ctx.group_datasets.items() if d != ctx.force]:
        loaded = ctx.loaded_months.get(ds, [])
        bad = [m for m in b.months if m not in loaded or m in c.anomaly_months(ctx, ds)]
        pop = ctx.populations.get(ds)
        if bad or pop is None:
            vals[short] = None
            notes[short] = (f"{perf.month_span(bad)} not loaded or anomalous" if bad
                            else "population unknown")
            continue
        s = category_series(ctx, ds, CRIME_CATEGORIES, weights=weights)
        vals[short] = float(s.loc[b.months].sum()) / pop * 1000
        used.append(ds)
    gr = perf.rank_in_group(vals, ctx.force_short, measure=measure)
    missing = [m for m in ctx.group.members if m not in ctx.group_datasets]
    if not gr.available:
        reason = gr.reason
        if ctx.force_short in notes:
            reason = f"{ctx.force_short} has no value: {notes[ctx.force_short]}"
        elif missing:
            reason += f" (not in the store: {', '.join(missing)})"
        return {"available": False, "reason": reason, "members": ctx.group.to_dict()}
    tid = b.tracer.entry(
        what=f"rank of {measure.replace('_', ' ')} in the comparison group, {b.quarter}",
        query=("per member: SELECT month, category, count(*) FROM events WHERE dataset = member "
               f"AND month IN {b.months} GROUP BY month, category; value = crime"
               + (" x harm weight" if weights else "") + " / population x 1,000; rank 1 = "
               "highest (min ranking of ties)"),
        parameters={"members": used, "population": ctx.population_vintage,
                    "as_of": ctx.group.as_of, "group_source": ctx.group.source},
        files=sorted([f for ds in used for f in b.tracer.files(ds, b.months)],
                     key=lambda f: f["name"]))
    return {"available": True, "reason": None,
            "rank": b.tracer.fig(gr.rank, unit="rank", trace=tid),
            "of": b.tracer.fig(gr.of, unit="forces", trace=tid),
            "value": b.tracer.fig(gr.value, unit="per 1,000 residents", trace=tid),
            "group_average": b.tracer.fig(gr.group_average, unit="per 1,000 residents",
                                          trace=tid),
            "table": [{"force": r["force"], "value": b.tracer.fig(r["value"], unit="per 1,000",
                                                                  trace=tid),
                       "rank": b.tracer.fig(r["rank"], unit="rank", trace=tid)}
                      for r in gr.table.to_dict(orient="records")]}


def performance(b: BoardContext) -> dict:
    ctx = b.ctx
    crime = _measure_block(b, "crime", list(CRIME_CATEGORIES), "crime")
    asb = _measure_block(b, "asb", [ASB], "ASB")
    weights = dict(ctx.harm_weights.weights)
    hs = category_series(ctx, b.force, CRIME_CATEGORIES, weights=weights)
    harm = {k: compare(b, hs, cats=list(CRIME_CATEGORIES), measure="harm", compare_to=k,
                       what="harm, quarter")
            for k in ("previous_quarter", "same_quarter_last_year")}
    pop = ctx.populations.get(ctx.force)
    hq = harm["previous_quarter"]["current"]
    harm_per_1000 = None
    if hq is not None and pop:
        tid = b.tracer.entry(what="harm per 1,000 residents, quarter",
                             query="harm of the quarter / population x 1,000",
                             parameters={"harm": hq["trace"], "population": pop,
                                         "vintage": ctx.population_vintage})
        harm_per_1000 = b.tracer.fig(harm_mod.per_1000(hq["value"], pop),
                                     unit=f"{harm_unit(ctx)} per 1,000 residents",
                                     trace=tid)
    cats = []
    for cat in CATEGORIES:
        s = category_series(ctx, b.force, [cat])
        cmp_ = compare(b, s, cats=[cat], compare_to="previous_quarter", what=f"{cat}, quarter")
        cats.append({"category": cat, "is_crime": cat != ASB, "quarter": cmp_["current"],
                     "previous_quarter": cmp_["reference"], "pct_change": cmp_["pct_change"],
                     "available": cmp_["available"], "reason": cmp_["reason"]})
    cats.sort(key=lambda r: (not r["is_crime"], -(r["quarter"] or {"value": 0})["value"]))
    return {
        "quarter": b.quarter, "months": b.months, "crime": crime, "asb": asb,
        "harm": {"comparisons": harm, "quarter": hq, "per_1000": harm_per_1000,
                 "index": ctx.harm_weights.version, "unit": harm_unit(ctx),
                 "caveat": "a category weight hides the offence mix within the category"},
        "rank": {"crime_per_1000": _group_rank(b, "crime_per_1000"),
                 "harm_per_1000": _group_rank(b, "harm_per_1000")},
        "categories": cats,
        "population_vintage": ctx.population_vintage,
        "analyst": _text(b, "performance"),
    }


def _kpi(b: BoardContext, theme: Theme, k, j: int) -> dict:
    ctx = b.ctx
    weights = dict(ctx.harm_weights.weights) if k.measure == "harm" else None
    s = category_series(ctx, b.force, theme.categories, weights=weights)
    pop = ctx.populations.get(ctx.force)
    scale = None
    if k.measure == "per_1000":
        if not pop:
            return {**k.to_dict(), "status": "not assessable",
                    "reason": "the force's population is unknown", "target_pct": None}
        scale = lambda v: v / pop * 1000  # noqa: E731
    cmp_ = compare(b, s, cats=list(theme.categories), measure=k.measure, compare_to=k.compare,
                   what=f"{theme.name}: {k.name}", scale=scale)
    target = b.tracer.fig(k.target_pct, unit="%", trace=b.tracer.configured(
        what=f"target of KPI {k.name!r}", path=f"theme {theme.key!r} KPI #{j} target_pct"))
    out = {"name": k.name, "measure": k.measure, "compare": k.compare,
           "direction": k.direction, "target_pct": target, "comparison": cmp_}
    if not cmp_["available"]:
        return {**out, "status": "not assessable", "reason": cmp_["reason"]}
    p = cmp_["pct_change"]["value"] if cmp_["pct_change"] else None
    if p is None:
        return {**out, "status": "not assessable", "reason": "the reference is zero"}
    met = p <= k.target_pct if k.direction == "down" else p >= k.target_pct
    return {**out, "status": "met" if met else "not met", "reason": None}


def theme_section(b: BoardContext, theme: Theme) -> dict:
    slot = f"theme:{theme.key}"
    base = {"key": theme.key, "name": theme.name, "lead": theme.lead,
            "categories": list(theme.categories), "notes": theme.notes,
            "data_sources": [{"source": s, "available": False,
                              "reason": "not held by Guardian (no loader for this source yet); "
                              "the theme's figures cover its police.uk categories only"
                              if theme.categories else "not held by Guardian (no loader for "
                              "this source yet)"} for s in theme.data_sources],
            "initiative_tags": list(theme.initiatives),
            "initiatives": pv.provide("initiatives", b, tags=list(theme.initiatives),
                                      categories=list(theme.categories)),
            "evaluations": pv.provide("evaluations", b, tags=list(theme.initiatives),
                                      categories=list(theme.categories)),
            "volunteer_hours": pv.provide("volunteer_hours", b, tags=list(theme.initiatives),
                                          categories=list(theme.categories)),
            "analyst": _text(b, slot)}
    if not theme.categories:
        return {**base, "has_data": False,
                "no_data": f"No data: this theme needs {'; '.join(theme.data_sources)}, which "
                "Guardian does not hold, so the report gives no figures for it."}
    series = category_series(b.ctx, b.force, theme.categories)
    comps = {k: compare(b, series, cats=list(theme.categories), compare_to=k,
                        what=f"{theme.name}, quarter")
             for k in ("previous_quarter", "same_quarter_last_year")}
    kpis = [_kpi(b, theme, k, j) for j, k in enumerate(theme.kpis, 1)]
    return {**base, "has_data": True, "quarter": comps["previous_quarter"]["current"],
            "comparisons": comps, "kpis": kpis}


def themes_section(b: BoardContext) -> dict:
    rows = [theme_section(b, t) for t in b.themes.themes]
    status = {"met": 0, "not met": 0, "not assessable": 0}
    for t in rows:
        for k in t.get("kpis", []):
            status[k["status"]] += 1
    tid = b.tracer.entry(what="KPIs by status", query="count of the themes' KPIs by status",
                         parameters={"themes": b.themes.source},
                         files=[{"name": b.themes.source, "sha256": b.themes.sha256}])
    return {"config": b.themes.to_dict(), "themes": rows,
            "mobilised_hours": pv.provide("mobilised_hours", b),
            "kpi_status": {k: b.tracer.fig(v, unit="KPIs", trace=tid) for k, v in status.items()},
            "without_data": [t["key"] for t in rows if not t["has_data"]]}


def forecast_section(b: BoardContext) -> dict:
    """The count forecast from the forecast room, and the risk map's back-tested accuracy."""
    from guardian.reports.briefing import risk

    out = {"counts": pv.provide("forecast", b), "analyst": _text(b, "forecast")}
    # the briefing's risk section, once per context (its back-test is the costly part)
    r = b.ctx.scratch.get("board:risk")
    if r is None:
        r = b.ctx.scratch["board:risk"] = risk.build(b.ctx)
    if not r.get("available"):
        out["risk_map"] = {"available": False, "reason": r.get("reason")}
        return out
    bt = r["backtest"]
    months = bt["test_months"]
    first = perf.add_months(months[0], -12)
    from guardian.analysis.hotspots import DEFAULT_TARGET_CATEGORIES

    tid = b.tracer.entry(
        what="risk map accuracy: rolling-origin back-test, monthly windows",
        query=("SELECT x, y, month, category FROM events WHERE dataset = "
               f"'{b.force}' AND category IN (victim/public-reported) AND month BETWEEN "
               f"'{first}' AND '{months[-1]}'; each test month predicted from the events before "
               "it; hit rate and PAI of the top-scored cells at fixed area coverage"),
        method="guardian.analysis.risk.rolling_origin_backtest",
        parameters={"methods": [m["method"] for m in bt["methods"]], "cell_m": 150.0,
                    "coverages": bt["coverages"], "test_months": months,
                    "categories": list(DEFAULT_TARGET_CATEGORIES), "domain": bt["domain"],
                    "tie_rule": bt["tie_rule"]},
        files=b.tracer.files(b.force, perf.month_range(first, months[-1])))
    rows = []
    for m in bt["methods"]:
        rows.append({"method": m["method"], "label": m["label"],
                     "windows": b.tracer.fig(m["windows"], unit="windows", trace=tid),
                     "hit_rate": [b.tracer.fig(v, unit="share", trace=tid) for v in m["hit_rate"]],
                     "pai": [b.tracer.fig(v, unit="PAI", trace=tid) for v in m["pai"]]})
    out["risk_map"] = {
        "available": True, "predicted_month": r["month"], "method": r["method"],
        "method_label": r["method_label"], "chosen_by": r["chosen_by"],
        "coverages": [b.tracer.fig(v, unit="share of area", trace=tid) for v in bt["coverages"]],
        "methods": rows, "sentence": r["sentence"], "caveat": r["caveat"], "trace": tid}
    return out


def streetsafe_section(b: BoardContext) -> dict:
    return {"streetsafe": pv.provide("streetsafe", b), "surveys": pv.provide("surveys", b),
            "analyst": _text(b, "streetsafe")}


def risks_section(b: BoardContext, perf_d: dict, themes_d: dict) -> dict:
    from guardian.reports.briefing import data_quality

    ctx = b.ctx
    dq = data_quality.build(ctx)
    own = next(d for d in dq["datasets"] if d["dataset"] == ctx.force)
    all_months = ctx.loaded_months.get(ctx.force, [])
    t_status = b.tracer.entry(
        what="store status of the force",
        query=("SELECT month, count(*) FROM source_files JOIN events ... GROUP BY month; "
               "SELECT count(*) FROM quarantine WHERE dataset = "
               f"'{ctx.force}' (as `guardian status` reports)"),
        files=b.tracer.files(ctx.force, all_months))
    quarter_anoms = [a for a in own["anomalies"] if a["month"] in b.months]
    missing_q = [m for m in b.months if m not in all_months]
    risks = []
    for name, blk in (("crime", perf_d["crime"]), ("ASB", perf_d["asb"])):
        for cmp_ in [*blk["comparisons"].values(), *blk["rolling_12_months"].values()]:
            if not cmp_["available"]:
                risks.append({"kind": "data", "text": f"{name}: no comparison with the "
                              f"{cmp_['label']}: {cmp_['reason']}."})
    for k, r in perf_d["rank"].items():
        if not r["available"]:
            risks.append({"kind": "data", "text": f"Comparison group rank of "
                          f"{k.replace('_', ' ')}: not available ({r['reason']})."})
    if themes_d["without_data"]:
        risks.append({"kind": "coverage", "text": f"{len(themes_d['without_data'])} of "
                      f"{len(themes_d['themes'])} themes have no data in Guardian: "
                      f"{', '.join(themes_d['without_data'])}."})
    for t in themes_d["themes"]:
        for k in t.get("kpis", []):
            if k["status"] == "not met":
                risks.append({"kind": "performance",
                              "text": f"{t['name']}: KPI {k['name']!r} not met."})
    for a in quarter_anoms:
        risks.append({"kind": "data", "text": f"{a['month']} is flagged as a data anomaly and "
                      "is kept out of every comparison."})
    return {
        "risks": risks,
        "data_quality": {
            "dataset": ctx.force,
            "months_loaded": b.tracer.fig(own["months_loaded"], unit="months", trace=t_status),
            "first_month": own["first_month"], "last_month": own["last_month"],
            "gaps": own["gaps"],
            "rows": b.tracer.fig(own["rows"], unit="rows", trace=t_status),
            "quarantined": b.tracer.fig(own["quarantined"], unit="rows", trace=t_status),
            "duplicates": b.tracer.fig(own["duplicates"], unit="rows", trace=t_status),
            "quarter_months_missing": missing_q,
            "quarter_anomalies": [a["month"] for a in quarter_anoms],
            "anomaly_rule": dq["anomaly_rule"],
        },
        "analyst": _text(b, "risks"),
    }


def forward_section(b: BoardContext, themes_d: dict) -> dict:
    y, n = int(b.quarter[:4]), int(b.quarter[5])
    nxt = f"{y + (n == 4):04d}Q{1 if n == 4 else n + 1}"
    nxt_months = quarter_months(nxt)
    ly = [perf.add_months(m, -12) for m in nxt_months]
    need = [m for m in ly if m not in b.loaded]
    needs = []
    if need:
        needs.append({"text": f"Next quarter's comparison with the same quarter last year needs "
                      f"{perf.month_span(need)}, not loaded.",
                      "command": f"guardian fetch --force {b.ctx.force_short.lower()} --from "
                      f"{need[0]} --to {need[-1]} && guardian ingest ~/.guardian/downloads"})
    if not b.ctx.group_datasets:
        needs.append({"text": "No comparison-group force is loaded, so no rank can be given.",
                      "command": "guardian fetch --force kent --from "
                      f"{perf.add_months(b.end, -23)} --to {b.end}"})
    if themes_d["without_data"]:
        needs.append({"text": "Themes without data need the force's own extract with the flags "
                      "named under each theme.",
                      "command": "guardian ingest EXTRACT.csv --mapping MAPPING.toml"})
    return {"next_quarter": nxt, "next_months": nxt_months,
            "forecast": b.scratch["forecast"]["counts"],
            "data_needed": needs, "analyst": _text(b, "forward_look")}


def executive_summary(b: BoardContext, perf_d: dict, themes_d: dict, fc: dict) -> dict:
    ql = quarter_label(b.quarter)
    sentences = []
    q = perf_d["crime"]["quarter"]
    if q:
        parts = [f"{q['value']:,} crimes were recorded in {ql}"]
        for cmp_ in perf_d["crime"]["comparisons"].values():
            if cmp_["available"]:
                parts.append(f"{c.pct(cmp_['pct_change']['value'])} on the {cmp_['label']}")
            else:
                parts.append(f"no comparison with the {cmp_['label']} ({cmp_['reason']})")
        sentences.append({"text": "; ".join(parts) + ".", "traces": [q["trace"]] + [
            v["pct_change"]["trace"] for v in perf_d["crime"]["comparisons"].values()
            if v["available"]]})
    else:
        sentences.append({"text": f"The quarter's crime cannot be totalled: "
                          f"{perf_d['crime']['comparisons']['previous_quarter']['reason']}.",
                          "traces": []})
    a = perf_d["asb"]["quarter"]
    if a:
        pq = perf_d["asb"]["comparisons"]["previous_quarter"]
        tail = (f", {c.pct(pq['pct_change']['value'])} on the previous quarter"
                if pq["available"] else "")
        sentences.append({"text": f"{a['value']:,} ASB incidents{tail}.",
                          "traces": [a["trace"]] + ([pq["pct_change"]["trace"]]
                                                    if pq["available"] else [])})
    hp = perf_d["harm"]["per_1000"]
    if hp:
        sentences.append({"text": f"Harm: {hp['value']:,.1f} {hp['unit']} in the quarter "
                          f"({perf_d['harm']['index']}).", "traces": [hp["trace"]]})
    r = perf_d["rank"]["crime_per_1000"]
    sentences.append({"text": (f"Crime per 1,000 residents ranks {c.ordinal(r['rank']['value'])}"
                               f" of {r['of']['value']} in the comparison group (1st = highest)."
                               if r["available"] else
                               f"No comparison group rank: {r['reason']}."),
                      "traces": [r["rank"]["trace"]] if r["available"] else []})
    ks = themes_d["kpi_status"]
    sentences.append({"text": f"Theme KPIs: {ks['met']['value']} met, {ks['not met']['value']} "
                      f"not met, {ks['not assessable']['value']} not assessable from the data; "
                      f"{len(themes_d['without_data'])} of {len(themes_d['themes'])} themes "
                      "have no data in Guardian.", "traces": [ks["met"]["trace"]]})
    rm = fc.get("risk_map", {})
    if rm.get("available"):
        sentences.append({"text": rm["sentence"] + ".", "traces": [rm["trace"]]})
    questions = [{"key": qq.key, "text": qq.text, "analyst": _text(b, f"question:{qq.key}")}
                 for qq in b.themes.questions]
    return {"sentences": sentences, "questions": questions,
            "figures": {"crime_quarter": q, "asb_quarter": a, "harm_per_1000": hp},
            "analyst": _text(b, "executive_summary")}


def text_slots(themes: ThemesConfig) -> list[str]:
    """Every section slot an analyst can write to, for this themes configuration."""
    slots = ["executive_summary", "performance", "forecast", "streetsafe", "risks",
             "forward_look", "governance"]
    slots += [f"question:{q.key}" for q in themes.questions]
    slots += [f"theme:{t.key}" for t in themes.themes]
    return slots


def build_board(ctx, *, quarter: str, themes: ThemesConfig, texts: dict | None = None,
                audit_rows: list[dict] | None = None) -> dict:
    """Every figure of the quarterly board report as JSON-able data.

    Parameters
    ----------
    ctx : BriefingContext
        The briefing's context for the quarter's last month.
    quarter : str
        ``YYYYQn``; its last month must be ``ctx.month``.
    themes : ThemesConfig
    texts : dict, optional
        Slot -> latest analyst text (``guardian.operations.board.service.current_texts``).

    Returns
    -------
    dict
        ``meta, order, titles, sections, provenance`` (``provenance.traces``: id -> how each
        figure was computed). Keys in ``docs/board.md``.
    """
    from guardian.reports.board import governance

    months = quarter_months(quarter)
    if ctx.month != months[-1]:
        raise InputError(f"the context is for {ctx.month}; the report for {quarter} needs "
                         f"{months[-1]}")
    tracer = Tracer(ctx.sources, {"name": themes.source, "sha256": themes.sha256})
    b = BoardContext(ctx=ctx, quarter=quarter, themes=themes, texts=texts or {}, tracer=tracer)
    perf_d = performance(b)
    themes_d = themes_section(b)
    fc = b.scratch["forecast"] = forecast_section(b)
    sections = {
        "executive_summary": executive_summary(b, perf_d, themes_d, fc),
        "performance": perf_d,
        "forecast": fc,
        "themes": themes_d,
        "streetsafe": streetsafe_section(b),
        "risks": risks_section(b, perf_d, themes_d),
        "forward_look": forward_section(b, themes_d),
        "governance": governance.build_governance(b, audit_rows=audit_rows),
    }
    unknown = set(b.texts) - set(text_slots(themes))
    meta = {
        "force": ctx.force, "force_short": ctx.force_short, "quarter": quarter,
        "quarter_label": quarter_label(quarter), "months": months,
        "guardian_version": ctx.version, "harm_index": ctx.harm_weights.version,
        "population_vintage": ctx.population_vintage, "themes": themes.to_dict(),
        "comparison_group": ctx.group.to_dict() if ctx.group else None,
        "orphan_texts": sorted(unknown),
    }
    sources = sorted(({"dataset": s.get("dataset") or ctx.force,
                       "name": str(s["name"]).split("/")[-1], "sha256": s["sha256"],
                       "month": s.get("month"), "rows": s.get("rows")} for s in ctx.sources),
                     key=lambda s: (s["dataset"], s["name"]))
    return clean({
        "meta": meta,
        "order": list(ORDER),
        "titles": dict(SECTION_TITLES),
        "sections": sections,
        "provenance": {"parameters": ctx.params.to_dict(), "sources": sources,
                       "traces": tracer.traces},
    })
