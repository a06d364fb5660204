"""The governance pack: an Algorithmic Transparency Recording Standard (ATRS) record per targeting
method, an ALGO-CARE checklist with the answers Guardian can evidence, and the quarter's audit-log
summary -- generated from the configuration and the code's own parameters, never typed in.

ATRS: the UK Central Digital and Data Office's standard (tier 1 summary, tier 2 detail: owner,
description, decision process and human oversight, data, risks and mitigations, technical
specification). ALGO-CARE: Oswald, Grace, Urwin & Barnes (2018), "Algorithmic risk assessment
policing models: lessons from the Durham HART model and 'Experimental' proportionality" --
Advisory, Lawful, Granularity, Ownership, Challengeable, Accuracy, Responsible, Explainable.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from scipy import stats

from guardian.analysis import performance as perf
from guardian.data.schema import POLICE_GENERATED
from guardian.reports.board import providers as pv

MIN_FEEDBACK_SPOTS = 5
"""Patrolled cells needed before the feedback-loop correlation is reported."""


def feedback_loop_check(minutes, before, after) -> dict:
    """Does patrol dosage go with a rise in recorded crime in the same cells?

    Parameters
    ----------
    minutes : array-like
        Delivered patrol minutes per cell.
    before, after : array-like
        Recorded offences in each cell in the month before the patrols and in the patrol month.

    Returns
    -------
    dict
        ``n`` (cells), ``spearman_rho`` and ``p_value`` between minutes and the change
        (after - before), ``change_total``, and ``flag`` (True when rho > 0 and p < 0.05: more
        patrol, more recorded crime -- the feedback loop to watch).
    """
    m = np.asarray(minutes, dtype=float)
    d = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    if len(m) != len(d):
        raise ValueError("minutes and counts must have one value per cell")
    out = {"n": int(len(m)), "change_total": float(d.sum()), "spearman_rho": None,
           "p_value": None, "flag": False}
    if len(m) >= 3 and np.ptp(m) > 0 and np.ptp(d) > 0:
        res = stats.spearmanr(m, d)
        out["spearman_rho"] = float(res.statistic)
        out["p_value"] = float(res.pvalue)
        out["flag"] = bool(res.statistic > 0 and res.pvalue < 0.05)
    return out


def _patrol_cells(b) -> pd.DataFrame:
    """Per patrolled cell of plans whose week starts in the quarter: delivered minutes and
    recorded crime in the plan's month and the month before (from the store)."""
    from sqlalchemy import func, select

    from guardian.operations.patrols.models import PatrolPlan, PatrolSpot, PatrolVisit
    from guardian.store.models import Dataset

    start, end = b.months[0] + "-01", perf.add_months(b.months[-1], 1) + "-01"
    minutes = func.sum((func.julianday(PatrolVisit.end_at) - func.julianday(PatrolVisit.start_at))
                       * 1440.0) if b.engine.dialect.name == "sqlite" else func.sum(
        func.extract("epoch", PatrolVisit.end_at - PatrolVisit.start_at) / 60.0)
    q = (select(PatrolPlan.id, PatrolPlan.week_start, PatrolPlan.cell_m, PatrolSpot.gx,
                PatrolSpot.gy, minutes.label("minutes"))
         .join(Dataset, Dataset.id == PatrolPlan.dataset_id)
         .join(PatrolSpot, PatrolSpot.plan_id == PatrolPlan.id)
         .join(PatrolVisit, PatrolVisit.spot_id == PatrolSpot.id, isouter=True)
         .where(Dataset.name == b.force, PatrolPlan.week_start >= start,
                PatrolPlan.week_start < end)
         .group_by(PatrolPlan.id, PatrolPlan.week_start, PatrolPlan.cell_m, PatrolSpot.gx,
                   PatrolSpot.gy))
    with b.engine.connect() as conn:
        rows = pd.DataFrame(conn.execute(q).all(),
                            columns=["plan", "week", "cell_m", "gx", "gy", "minutes"])
    if rows.empty:
        return rows
    rows["minutes"] = rows["minutes"].fillna(0.0).astype(float)
    ev = b.ctx.events
    ev = ev[(ev["dataset"] == b.force) & ev["x"].notna()
            & (ev["category"] != "Anti-social behaviour")]
    out, keys = [], {}
    mo = ev["month"].astype(str).to_numpy()
    for r in rows.itertuples():
        month = str(r.week)[:7]
        prev = perf.add_months(month, -1)
        if r.cell_m not in keys:  # cell keys of every event, once per cell size
            keys[r.cell_m] = (np.floor(ev["x"].to_numpy(float) / r.cell_m),
                              np.floor(ev["y"].to_numpy(float) / r.cell_m))
        gx, gy = keys[r.cell_m]
        inside = (gx == r.gx) & (gy == r.gy)
        out.append({"plan": r.plan, "month": month, "minutes": r.minutes,
                    "before": int((inside & (mo == prev)).sum()),
                    "after": int((inside & (mo == month)).sum())})
    return pd.DataFrame(out)


def _feedback(b) -> dict:
    if b.engine is None:
        return {"available": False, "reason": "patrols live in the store; built without one"}
    try:
        cells = _patrol_cells(b)
    except Exception as exc:  # a missing patrol table must not stop the report
        return {"available": False, "reason": f"patrol plans could not be read: {exc}"}
    if cells.empty:
        return {"available": False,
                "reason": f"no patrol plan has a week starting in {b.quarter}",
                "command": f"guardian patrols plan --force {b.ctx.force_short.lower()} "
                "--district all --week YYYY-MM-DD"}
    if len(cells) < MIN_FEEDBACK_SPOTS:
        return {"available": False, "reason": f"{len(cells)} patrolled cells in {b.quarter}; "
                f"at least {MIN_FEEDBACK_SPOTS} are needed"}
    res = feedback_loop_check(cells["minutes"], cells["before"], cells["after"])
    tid = b.tracer.entry(
        what="feedback-loop check: patrol dosage against change in recorded crime, same cells",
        query=("SELECT spot cell, sum(end_at - start_at) FROM patrol_plans JOIN patrol_spots "
               "LEFT JOIN patrol_visits WHERE week_start in the quarter GROUP BY cell; recorded "
               "crime (all crime, ASB excluded) per cell in the plan's month and the month "
               "before"),
        method="Spearman rank correlation of minutes with (after - before)",
        parameters={"plans": sorted(int(p) for p in cells["plan"].unique()),
                    "cells": int(len(cells))},
        files=b.tracer.files(b.force, sorted(set(cells["month"]) | {
            perf.add_months(m, -1) for m in cells["month"]})))
    f = b.tracer.fig
    return {"available": True, "n": f(res["n"], unit="cells", trace=tid),
            "spearman_rho": f(res["spearman_rho"], unit="rho", trace=tid),
            "p_value": f(res["p_value"], unit="p", trace=tid),
            "change_total": f(res["change_total"], unit="offences", trace=tid),
            "flag": res["flag"]}


def _atrs(b, risk_map: dict, mobilisation: dict) -> list[dict]:
    from guardian.analysis.hotspots import DEFAULT_TARGET_CATEGORIES
    from guardian.operations.cocoons import validation as cv
    from guardian.operations.patrols import rules as ps
    from guardian.reports.briefing import risk, spots

    owner = f"{b.ctx.force}: analysis unit (the strategy's owner signs off each record)"
    common = {
        "owner": owner,
        "human_oversight": "Advisory: every list goes to the coordination group, which decides "
        "who goes where; officers may decline a place and say why.",
        "data": f"police.uk street-level crime for {b.ctx.force} (monthly, snapped map points) "
        f"and force extracts where loaded; source files and hashes listed under Sources.",
        "place_based": "Scores places (grid cells, zones), never named people; no personal "
        "data are inputs.",
    }
    g = b.tracer
    tid = g.entry(what="code parameters of the targeting methods",
                  query="module constants of guardian.reports.briefing.spots/risk, "
                  "guardian.operations.cocoons.validation, guardian.operations.patrols.rules",
                  parameters={"spots.TOP_N": spots.TOP_N, "spots.CELL_M": spots.CELL_M,
                              "risk.BACKTEST_MONTHS": risk.BACKTEST_MONTHS,
                              "risk.CHOOSE_AT": risk.CHOOSE_AT,
                              "cocoons.radius_m": cv.DEFAULT_RADIUS_M,
                              "cocoons.window_days": cv.DEFAULT_WINDOW_DAYS,
                              "cocoons.visit_hours": cv.DEFAULT_VISIT_HOURS,
                              "patrols.minutes": ps.DEFAULT_MINUTES,
                              "patrols.spots": ps.DEFAULT_SPOTS})
    return [
        {**common, "method": "harm_spots", "name": "Harm spots",
         "description": "Harm-weighted hot spots: the month's top cells by recorded harm, with "
         "Getis-Ord Gi* significance (FDR), stability and emerging labels.",
         "rationale": "Harm concentrates in few places; patrols there prevent most harm.",
         "parameters": {"top_n": g.fig(spots.TOP_N, unit="cells", trace=tid),
                        "cell_m": g.fig(spots.CELL_M, unit="m", trace=tid),
                        "harm_index": b.ctx.harm_weights.version,
                        "categories": list(DEFAULT_TARGET_CATEGORIES),
                        "excluded": list(POLICE_GENERATED) + ["Anti-social behaviour"]},
         "risks": "Snapped police.uk points make spots approximate; recorded crime under-"
         "represents places that report less (mitigation: Street Safe pins, Crime Stoppers "
         "zones).",
         "accuracy": "stability against the previous month is printed in every briefing"},
        {**common, "method": "risk_maps", "name": "Prospective risk maps",
         "description": "Next-month risk surfaces (naive, 12-month counts, prospective "
         "hotspotting); the method with the best back-tested PAI at 5% draws the map.",
         "rationale": "Put patrols where offences are likely next, with measured accuracy.",
         "parameters": {"backtest_months": g.fig(risk.BACKTEST_MONTHS, unit="months",
                                                 trace=tid),
                        "choose_at": g.fig(risk.CHOOSE_AT, unit="share of area", trace=tid)},
         "risks": "A map is never drawn without its back-test (enforced in code).",
         "accuracy": risk_map},
        {**common, "method": "near_repeat_cocoons", "name": "Near-repeat analysis and "
         "burglary cocoons",
         "description": "Knox test of space-time clustering; each new dwelling burglary opens "
         "a cocoon zone with visits due.",
         "rationale": "Burglary risk rises near a burglary for weeks (near repeat).",
         "parameters": {"radius_m": g.fig(cv.DEFAULT_RADIUS_M, unit="m", trace=tid),
                        "window_days": g.fig(cv.DEFAULT_WINDOW_DAYS, unit="days", trace=tid),
                        "visit_hours": g.fig(cv.DEFAULT_VISIT_HOURS, unit="hours", trace=tid)},
         "risks": "Victim addresses are personal data: reads are audit-logged.",
         "accuracy": "Knox ratios and Monte Carlo p-values: guardian nearrepeat knox"},
        {**common, "method": "mobilisation", "name": "Volunteer mobilisation plan",
         "description": "Monthly allocation of volunteers across districts by demand and harm.",
         "rationale": "Volunteer hours go where harm is, within availability and rules.",
         "place_based": "Allocates volunteers to districts, days and shifts from their own "
         "availability, skills and accreditation (the volunteer register); no data about "
         "members of the public.",
         "parameters": mobilisation, "risks": "Minors supervised, no late shifts (rules).",
         "accuracy": "not a prediction; allocation against stated constraints"},
    ]


def _algo_care(b, risk_map: dict, feedback: dict) -> list[dict]:
    from guardian.analysis.hotspots import DEFAULT_TARGET_CATEGORIES
    from guardian.data.schema import EVENT_COLUMNS

    person_cols = [c for c in EVENT_COLUMNS if c in ("name", "person", "suspect", "offender",
                                                      "victim", "dob", "age")]
    acc = ("evidenced" if risk_map.get("available") else "not evidenced")
    force_to_answer = "to be answered by the force (Guardian cannot evidence this)"
    return [
        {"item": "Advisory", "status": "evidenced",
         "answer": "Outputs are lists and maps for the coordination group; nothing is "
         "dispatched without a person assigning it (tasks have an assignee)."},
        {"item": "Lawful", "status": force_to_answer,
         "answer": "Lawful basis, DPIA and necessity are the force's."},
        {"item": "Granularity", "status": "evidenced",
         "answer": f"Place-based only: the event schema has no person fields "
         f"({', '.join(person_cols) or 'none found'}); grid cells of 150 m."},
        {"item": "Ownership", "status": force_to_answer,
         "answer": "Guardian's code is held by the force; ownership of data and models is "
         "the force's to record."},
        {"item": "Challengeable", "status": "evidenced",
         "answer": "Every figure links to how it was computed (query, parameters, source "
         "hashes); every spot says why it is listed."},
        {"item": "Accuracy", "status": acc,
         "answer": risk_map.get("sentence", risk_map.get("reason", "")) ,
         "evidence": risk_map.get("trace")},
        {"item": "Responsible: police-generated offences excluded", "status": "evidenced",
         "answer": f"Targeting uses {len(DEFAULT_TARGET_CATEGORIES)} categories and leaves "
         f"out {', '.join(POLICE_GENERATED)} and ASB."},
        {"item": "Responsible: feedback-loop check", "status":
         "evidenced" if feedback.get("available") else "not evidenced",
         "answer": ("more patrol went with more recorded crime in the same cells — review"
                    if feedback.get("flag") else
                    "no positive association between patrol dosage and change in recorded "
                    "crime in the same cells" if feedback.get("available") else
                    feedback.get("reason", "")),
         "check": feedback},
        {"item": "Explainable", "status": "evidenced",
         "answer": "Methods are published (docs/risk.md, docs/near-repeat.md); parameters are "
         "in this pack."},
    ]


def _audit(b, rows: list[dict] | None) -> dict:
    if rows is None:
        if b.engine is None:
            return {"available": False, "reason": "the audit log lives in the store"}
        from guardian.operations.audit import service as audit

        start = datetime.fromisoformat(b.months[0] + "-01").replace(tzinfo=UTC)
        end = datetime.fromisoformat(perf.add_months(b.months[-1], 1) + "-01").replace(tzinfo=UTC)
        try:
            rows = audit.entries(b.engine, start=start, end=end)
        except Exception as exc:
            return {"available": False, "reason": f"the audit log could not be read: {exc}"}
    tid = b.tracer.entry(
        what=f"audit-log entries in {b.quarter}",
        query=("SELECT operation, role, justification, username FROM audit_log WHERE at >= "
               f"'{b.months[0]}-01' AND at < '{perf.add_months(b.months[-1], 1)}-01' (UTC)"),
        method="counts by operation, role and justification")
    f = b.tracer.fig

    def counted(key):
        return [{"name": k, "entries": f(v, unit="entries", trace=tid)}
                for k, v in sorted(Counter(r[key] for r in rows).items())]

    return {"available": True, "entries": f(len(rows), unit="entries", trace=tid),
            "users": f(len({r["username"] for r in rows}), unit="users", trace=tid),
            "by_operation": counted("operation"), "by_role": counted("role"),
            "by_justification": counted("justification"),
            "note": "The log is append-only (the database refuses UPDATE and DELETE)."}


def build_governance(b, *, audit_rows: list[dict] | None = None) -> dict:
    """The governance pack for the report's quarter (see the module docstring)."""
    from guardian.reports.board.build import forecast_section

    fc = b.scratch.get("forecast") or forecast_section(b)
    risk_map = fc.get("risk_map", {})
    feedback = _feedback(b)
    mob = pv.provide("mobilisation", b)
    from guardian.reports.board.build import _text

    return {"atrs": _atrs(b, risk_map, mob), "algo_care": _algo_care(b, risk_map, feedback),
            "feedback_loop": feedback, "audit": _audit(b, audit_rows),
            "analyst": _text(b, "governance")}
