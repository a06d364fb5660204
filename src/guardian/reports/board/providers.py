"""Results from the other rooms (forecast, evaluation, initiatives, volunteers, Street Safe,
surveys, mobilisation), one small provider each.

A provider returns either real results (traced figures) or ``not_available_yet(...)`` with the
reason -- it never makes a figure up. A room that has not landed in this build, or whose
interface does not answer, is reported as not available yet, naming the module looked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

NOT_YET = "not available yet"


def not_available_yet(reason: str, **extra) -> dict:
    """The marker of a section part whose room has no results for the report (yet)."""
    return {"available": False, "status": NOT_YET, "reason": reason, **extra}


def _room(module: str, attr: str):
    """``module.attr`` when the room has landed and exposes it, else a reason why not."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        return None, f"{module} is not part of this build ({exc.__class__.__name__})"
    fn = getattr(mod, attr, None)
    if not callable(fn):
        return None, f"{module} exposes no {attr}() for the board report"
    return fn, None


@dataclass(frozen=True)
class Provider:
    """One source of results from another room.

    Attributes
    ----------
    key : str
        What it provides (``forecast``, ``initiatives``, ...).
    room : str
        The module it reads.
    attr : str
        The function of that module it calls (``fn(engine=..., force=..., quarter=...,
        months=..., **kw) -> dict``).
    adapt : callable
        Turns the room's answer into traced figures (``adapt(answer, bctx) -> dict``).
    """

    key: str
    room: str
    attr: str
    adapt: Callable[[Any, Any], dict] | None = None
    call: Callable[..., Any] | None = None

    def provide(self, bctx, **kw) -> dict:
        from guardian.errors import InputError, NotFound

        if bctx.engine is None:
            return not_available_yet(f"{self.key} lives in the store; the report was built "
                                     "without one")
        fn, why = _room(self.room, self.attr)
        if fn is None:
            return not_available_yet(why)
        try:
            if self.call is not None:
                answer = self.call(fn, bctx, **kw)
            else:
                answer = fn(bctx.engine, force=bctx.force, quarter=bctx.quarter,
                            months=list(bctx.months), **kw)
        except (InputError, NotFound) as exc:  # the room ran: the data cannot support it
            return {"available": False, "reason": str(exc), "room": self.room}
        except Exception as exc:  # a room's failure must not stop the board report
            return not_available_yet(f"{self.room}.{self.attr} failed: "
                                     f"{exc.__class__.__name__}: {exc}")
        if self.adapt is None:
            return not_available_yet(f"{self.room}.{self.attr} answered, but the board report "
                                     "does not yet read its results")
        return self.adapt(answer, bctx)


def _call_forecast(fn, bctx, *, horizon_months: int = 12):
    return fn(bctx.engine, bctx.ctx.force_short.lower(), horizon=horizon_months, end=bctx.end)


def adapt_forecast(result, bctx) -> dict:
    """A :class:`guardian.analysis.forecast.ForecastResult` as traced figures: the chosen
    method's forecast (mean and 80%/95% bounds per month) and every method's back-test."""
    d = result.to_dict()
    bt = d["backtest"]
    g = bctx.tracer
    hist = d["history"]
    tid = g.entry(
        what=f"forecast of {d['label']}",
        query=("SELECT month, category, count(*) FROM events WHERE dataset = "
               f"'{bctx.force}' AND category IN (crime) AND month BETWEEN '{hist['first']}' "
               f"AND '{hist['last']}' GROUP BY month, category"),
        method=(f"guardian.analysis.forecast.forecast_with_accuracy: {d['method_label']} "
                f"(lowest back-test MASE); rolling-origin back-test over {bt['windows']} "
                f"windows, 1-{bt['horizon']} months ahead"),
        parameters={"horizon": d["horizon"], "break_policy": d["breaks"]["policy"],
                    "excluded_months": d["breaks"]["excluded_months"],
                    "levels": d["levels"], "first_origin": bt["first_origin"],
                    "last_origin": bt["last_origin"]},
        files=g.files(bctx.force, [v["month"] for v in hist["values"]]))
    rows = []
    for r in d["forecasts"][d["method"]]:
        rows.append({"label": r["month"], "figures": {
            k: g.fig(r[k], unit="offences", trace=tid)
            for k in ("mean", "lower_80", "upper_80", "lower_95", "upper_95")}})
    accuracy = []
    for r in bt["summary"]:
        accuracy.append({"label": str(r.get("method")), "figures": {
            k: g.fig(r.get(k), unit=k, trace=tid)
            for k in ("mase", "smape", "coverage_80", "coverage_95") if r.get(k) is not None}})
    return {"available": True, "label": d["label"], "method": d["method"],
            "method_label": d["method_label"], "sentence": d["sentence"], "rows": rows,
            "accuracy": accuracy, "trace": tid}


def _quarter_bounds(bctx) -> tuple[str, str]:
    import calendar

    y, m = (int(x) for x in bctx.months[-1].split("-"))
    return f"{bctx.months[0]}-01", f"{bctx.months[-1]}-{calendar.monthrange(y, m)[1]:02d}"


def _call_initiatives(fn, bctx, *, tags=(), categories=()):
    """The quarter's initiatives (read and evaluated once per report), those of one theme:
    targeting one of its categories, or naming one of its tags in their name or kind."""
    rows = bctx.scratch.get("initiatives")
    if rows is None:
        start, end = _quarter_bounds(bctx)
        rows = bctx.scratch["initiatives"] = fn(bctx.engine, dataset=bctx.force, start=start,
                                                end=end, evaluate=True)
    cats, tags = set(categories), [t.lower() for t in tags]
    out = []
    for r in rows:
        text = f"{r.get('name', '')} {r.get('kind', '')}".lower()
        if (cats & set(r.get("categories") or [])) or any(t in text for t in tags):
            out.append(r)
    return out


def _initiatives_trace(bctx, rows) -> str:
    start, end = _quarter_bounds(bctx)
    return bctx.tracer.entry(
        what=f"initiatives of {bctx.quarter}",
        query=("SELECT * FROM initiatives JOIN datasets WHERE dataset = "
               f"'{bctx.force}' AND end_date >= '{start}' AND start_date <= '{end}'; outcomes "
               "summed per measure (guardian.operations.initiatives.evaluation."
               "board_initiatives)"),
        parameters={"initiatives": [r["ref"] for r in rows]})


def adapt_initiatives(rows, bctx) -> dict:
    """Initiatives as rows: resources (hours, pounds) and outcome totals, traced."""
    tid = _initiatives_trace(bctx, rows)
    g = bctx.tracer
    out = []
    for r in rows:
        res = r.get("resources") or {}
        figs = {k: g.fig(res.get(k), unit=u, trace=tid) for k, u in (
            ("volunteer_hours", "hours"), ("officer_hours", "hours"), ("total_gbp", "GBP"))}
        for k, v in sorted((r.get("outcome_totals") or {}).items()):
            figs[k] = g.fig(v, unit=k, trace=tid)
        out.append({"label": f"{r['ref']} {r['name']} ({r['kind']}, {r['start']}..{r['end']})",
                    "figures": {k: v for k, v in figs.items() if v is not None},
                    "note": res.get("rates_source", "")})
    return {"available": True, "rows": out, "empty": "no initiative of this theme in the quarter"}


def adapt_evaluations(rows, bctx) -> dict:
    """Each initiative's evaluation (WDD and before/after E-test, with CI and p), or why not."""
    tid = _initiatives_trace(bctx, rows)
    g = bctx.tracer
    out = []
    for r in rows:
        ev = r.get("evaluation") or {}
        if ev.get("status") != "ok":
            out.append({"label": f"{r['ref']} {r['name']}", "figures": {},
                        "note": f"not evaluated: {ev.get('reason') or ev.get('status')}"})
            continue
        figs = {}
        for name in ("wdd", "etest"):
            e = ev.get(name) or {}
            for k in ("estimate", "ci_low", "ci_high", "p_value"):
                f = g.fig(e.get(k), unit=k, trace=tid)
                if f is not None:
                    figs[f"{name}_{k}"] = f
        out.append({"label": f"{r['ref']} {r['name']}", "figures": figs,
                    "note": "; ".join(ev.get("notes", []))})
    return {"available": True, "rows": out, "empty": "no initiative of this theme to evaluate"}


def adapt_theme_hours(rows, bctx) -> dict:
    """Volunteer hours recorded against the theme's initiatives in the quarter."""
    if not rows:
        return {"available": True, "rows": [], "empty": "no initiative of this theme in the "
                "quarter, so no hours recorded against it"}
    tid = _initiatives_trace(bctx, rows)
    total = sum(float((r.get("resources") or {}).get("volunteer_hours") or 0) for r in rows)
    return {"available": True, "rows": [{"label": "volunteer hours on the theme's initiatives",
                                         "figures": {"hours": bctx.tracer.fig(
                                             total, unit="hours", trace=tid)}}]}


def _call_mobilised(fn, bctx):
    return fn(bctx.engine, dataset=bctx.force, start_month=bctx.months[0],
              end_month=bctx.months[-1])


def adapt_mobilised(frame, bctx) -> dict:
    """Volunteer hours of the quarter's mobilisation plans, per month and district."""
    tid = bctx.tracer.entry(
        what=f"planned volunteer hours, {bctx.quarter}",
        query=("latest mobilisation plan of each month (optimal, feasible or greedy) JOIN its "
               "assignments GROUP BY month, district; hours = shifts x 8 "
               "(guardian.operations.volunteers.plans.volunteer_hours)"),
        parameters={"dataset": bctx.force, "months": list(bctx.months)})
    g = bctx.tracer
    rows = [{"label": f"{r['month']} {r['district']}",
             "figures": {k: g.fig(r[k], unit=k, trace=tid)
                         for k in ("hours", "shifts", "volunteers")}}
            for r in frame.to_dict("records")]
    return {"available": True, "rows": rows, "empty": "no mobilisation plan in the quarter",
            "total_hours": g.fig(float(frame["hours"].sum()) if len(frame) else 0.0,
                                 unit="hours", trace=tid)}


def _call_streetsafe(fn, bctx):
    from guardian.config import get_settings
    from guardian.operations.streetsafe.area import build_area
    from guardian.operations.streetsafe.config import load_config

    cfg = load_config(get_settings().home)
    from guardian.operations.streetsafe.service import reports_frame

    area = build_area(bctx.engine, bctx.force, cfg.area_cell_m)
    # the summary also places a year of recorded crime in cells (several seconds): only when
    # there is something to compare it with
    if reports_frame(bctx.engine, area, start=bctx.months[0], end=bctx.months[-1]).empty:
        return {"none": True, "min_count": cfg.min_count, "cell_m": cfg.cell_m}
    d = fn(bctx.engine, area, cfg, start=bctx.months[0], end=bctx.months[-1])
    return {**d, "_months": list(bctx.months)}


def adapt_streetsafe(d, bctx) -> dict:
    """The quarter's Street Safe reports, aggregated with the minimum count (months and
    districts with fewer reports are withheld, as on the public page)."""
    k = d["min_count"]
    tid = bctx.tracer.entry(
        what=f"Street Safe reports, {bctx.quarter}",
        query=("SELECT cell, reasons, month FROM streetsafe_reports WHERE dataset = "
               f"'{bctx.force}' AND month BETWEEN '{bctx.months[0]}' AND '{bctx.months[-1]}'; "
               f"counts below {k} withheld (guardian.operations.streetsafe.service.summary)"),
        parameters={"min_count": k, "cell_m": d["cell_m"]})
    g = bctx.tracer
    if d.get("none"):
        return {"available": True, "rows": [], "reports": g.fig(0, unit="reports", trace=tid),
                "empty": f"no Street Safe reports in {bctx.quarter}"}
    rows = []
    for r in d["trend"]:
        if r["month"] in d["_months"]:
            rows.append({"label": r["month"], "figures": {} if r["reports"] is None else {
                "reports": g.fig(r["reports"], unit="reports", trace=tid)},
                "note": f"fewer than {k}: withheld" if r["withheld"] else ""})
    for r in d["reasons_by_district"]:
        rows.append({"label": r["district"], "figures": {} if r["reports"] is None else {
            "reports": g.fig(r["reports"], unit="reports", trace=tid)},
            "note": f"fewer than {k}: withheld" if r.get("withheld") else ""})
    return {"available": True, "rows": rows,
            "reports": g.fig(d["reports"], unit="reports", trace=tid),
            "clusters": g.fig(len(d["clusters"]), unit="clusters", trace=tid),
            "actions": g.fig(len(d["actions"]), unit="actions", trace=tid),
            "empty": f"no Street Safe reports in {bctx.quarter}"}


def _call_mobilisation(fn, bctx):
    from guardian.analysis import mobilise

    return {"rules": fn(), "texts": dict(mobilise.RULES),
            "shift_hours": getattr(mobilise.problem, "SHIFT_HOURS", None)}


def adapt_mobilisation(d, bctx) -> dict:
    """The mobilisation plan's default rules (code parameters) for its transparency record."""
    from dataclasses import asdict

    rules = asdict(d["rules"])
    tid = bctx.tracer.entry(
        what="default rules of the mobilisation plan",
        query="guardian.analysis.mobilise.Rules() defaults and guardian.analysis.mobilise.RULES",
        parameters={"rules": sorted(d["texts"])})
    out = {k: bctx.tracer.fig(v, unit="rule", trace=tid) for k, v in sorted(rules.items())}
    if d["shift_hours"] is not None:
        out["shift_hours"] = bctx.tracer.fig(d["shift_hours"], unit="hours", trace=tid)
    out["rules"] = sorted(d["texts"])
    return out


def _call_surveys(fn, bctx):
    return None


def adapt_surveys(_answer, bctx) -> dict:
    return not_available_yet(
        "perception surveys are read from files (guardian evaluate survey ...: responses, a "
        "column mapping and population margins), not from the store; the board command takes "
        "no survey files yet")


PROVIDERS: dict[str, Provider] = {
    "forecast": Provider("forecast", "guardian.reports.briefing.forecast", "store_forecast",
                         adapt=adapt_forecast, call=_call_forecast),
    "initiatives": Provider("initiatives", "guardian.operations.initiatives.evaluation",
                            "board_initiatives", adapt=adapt_initiatives,
                            call=_call_initiatives),
    "evaluations": Provider("evaluations", "guardian.operations.initiatives.evaluation",
                            "board_initiatives", adapt=adapt_evaluations,
                            call=_call_initiatives),
    "volunteer_hours": Provider("volunteer_hours", "guardian.operations.initiatives.evaluation",
                                "board_initiatives", adapt=adapt_theme_hours,
                                call=_call_initiatives),
    "mobilised_hours": Provider("mobilised_hours", "guardian.operations.volunteers.plans",
                                "volunteer_hours", adapt=adapt_mobilised, call=_call_mobilised),
    "mobilisation": Provider("mobilisation", "guardian.analysis.mobilise", "Rules",
                             adapt=adapt_mobilisation, call=_call_mobilisation),
    "streetsafe": Provider("streetsafe", "guardian.operations.streetsafe.service",
                           "summary", adapt=adapt_streetsafe, call=_call_streetsafe),
    "surveys": Provider("surveys", "guardian.analysis.surveys", "survey_results",
                        adapt=adapt_surveys, call=_call_surveys),
}
"""The registry: one provider per kind of result. Rooms add an ``adapt`` when they land."""


def provide(key: str, bctx, **kw) -> dict:
    """Results of provider ``key`` for the report (or why they are not available yet)."""
    return PROVIDERS[key].provide(bctx, **kw)
