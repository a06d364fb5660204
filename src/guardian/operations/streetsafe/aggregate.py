"""Aggregates of Street Safe reports: the only form in which anyone outside the store sees them.

Pure pandas on a frame of reports with columns ``cell_x, cell_y`` (integer grid cells),
``reasons`` (codes joined by ","), ``month`` (``YYYY-MM``), ``daynight`` and ``district``. Every
function takes ``k``, the minimum count: a cell, a month, a district or a reason-by-district
figure under ``k`` (and above 0) is withheld (``None``, with ``"fewer than k"``), so no single
report can be picked out of any output.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from guardian.operations.streetsafe.config import REASONS

NEIGHBOURS = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if (dx, dy) != (0, 0)]


def reason_counts(reasons: pd.Series) -> dict[str, int]:
    """How many reports ticked each reason (a report may tick several), most first."""
    c = Counter(r for s in reasons for r in str(s).split(",") if r)
    return {k: int(v) for k, v in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))}


def at_least(n: int, k: int) -> int | None:
    """``n`` when it is 0 or at least ``k``; None (withheld) otherwise."""
    return int(n) if n == 0 or n >= k else None


def shown_reasons(reasons: pd.Series, k: int) -> dict[str, int | None]:
    """Reason counts with each count of 1..k-1 withheld (None)."""
    return {r: at_least(v, k) for r, v in reason_counts(reasons).items()}


def cell_key(cx: int, cy: int) -> str:
    return f"c{int(cx)}_{int(cy)}"


def parse_cell_key(key: str) -> tuple[int, int] | None:
    """``(cell_x, cell_y)`` of a key made by :func:`cell_key`, or None."""
    try:
        a, b = str(key).removeprefix("c").split("_")
        return int(a), int(b)
    except ValueError:
        return None


def cells(df: pd.DataFrame, k: int) -> tuple[list[dict], dict]:
    """Cells holding at least ``k`` reports, and what was withheld.

    Returns
    -------
    (list of dict, dict)
        Per shown cell: ``cell_x, cell_y, key, reports, night, reasons`` (counts per reason);
        most reports first. Then ``{"cells": n, "reports": n}`` withheld (cells under ``k``).
    """
    if df.empty:
        return [], {"cells": 0, "reports": 0}
    out, held_cells, held_reports = [], 0, 0
    for (cx, cy), g in df.groupby(["cell_x", "cell_y"], sort=True):
        n = len(g)
        if n < k:
            held_cells += 1
            held_reports += n
            continue
        out.append({"cell_x": int(cx), "cell_y": int(cy), "key": cell_key(cx, cy), "reports": n,
                    "night": at_least(int((g["daynight"] == "night").sum()), k),
                    "reasons": shown_reasons(g["reasons"], k)})
    out.sort(key=lambda r: (-r["reports"], r["cell_x"], r["cell_y"]))
    return out, {"cells": held_cells, "reports": held_reports}


def clusters(df: pd.DataFrame, k: int) -> list[dict]:
    """De-duplicated clusters: groups of touching cells (8 neighbours) holding reports, with at
    least ``k`` reports in all. Each report is in exactly one cluster (or none, when its group
    is under ``k``). A cluster is named by its anchor cell, the one with most reports (ties: the
    lowest ``cell_x``, then ``cell_y``), which is where actions attach.

    Returns
    -------
    list of dict
        ``key, anchor (cell_x, cell_y), cells, reports, night, reasons, district`` (the most
        common district of its reports), most reports first.
    """
    if df.empty:
        return []
    per = df.groupby(["cell_x", "cell_y"]).size()
    occupied = {(int(a), int(b)): int(n) for (a, b), n in per.items()}
    seen: set[tuple[int, int]] = set()
    comps = []
    for start in sorted(occupied):
        if start in seen:
            continue
        stack, comp = [start], []
        seen.add(start)
        while stack:
            c = stack.pop()
            comp.append(c)
            for dx, dy in NEIGHBOURS:
                nb = (c[0] + dx, c[1] + dy)
                if nb in occupied and nb not in seen:
                    seen.add(nb)
                    stack.append(nb)
        comps.append(comp)
    cell_of = list(zip(df["cell_x"].astype(int), df["cell_y"].astype(int), strict=True))
    out = []
    for comp in comps:
        n = sum(occupied[c] for c in comp)
        if n < k:
            continue
        anchor = min(comp, key=lambda c: (-occupied[c], c[0], c[1]))
        members = set(comp)
        mask = np.fromiter((c in members for c in cell_of), bool, len(cell_of))
        g = df[mask]
        districts = g["district"].value_counts() if "district" in g else pd.Series(dtype=int)
        out.append({"key": cell_key(*anchor), "anchor": list(anchor), "cells": len(comp),
                    "reports": n, "night": at_least(int((g["daynight"] == "night").sum()), k),
                    "reasons": shown_reasons(g["reasons"], k),
                    "district": str(districts.index[0]) if len(districts) else ""})
    out.sort(key=lambda r: (-r["reports"], r["anchor"]))
    return out


def trend(df: pd.DataFrame, k: int, months: list[str] | None = None) -> list[dict]:
    """Reports per month (every month from the first to the last, or ``months``); a month with
    1..k-1 reports shows ``reports: None, withheld: True``."""
    if months is None:
        if df.empty:
            return []
        months = [str(p) for p in pd.period_range(df["month"].min(), df["month"].max(),
                                                   freq="M")]
    counts = df["month"].value_counts() if not df.empty else pd.Series(dtype=int)
    out = []
    for m in months:
        n = int(counts.get(m, 0))
        hidden = 0 < n < k
        out.append({"month": m, "reports": None if hidden else n, "withheld": hidden})
    return out


def reasons_by_district(df: pd.DataFrame, k: int) -> list[dict]:
    """Per district: reports and the count of each reason; any figure of 1..k-1 is withheld
    (``None``) and a district with fewer than ``k`` reports in all shows no reasons."""
    out = []
    if df.empty:
        return out
    for district, g in df.groupby("district", sort=True):
        n = len(g)
        rc = reason_counts(g["reasons"])
        if n < k:
            out.append({"district": str(district) or "unknown", "reports": None,
                        "withheld": True, "reasons": {}})
            continue
        shown = {r: at_least(v, k) for r, v in rc.items()}
        out.append({"district": str(district) or "unknown", "reports": n, "withheld": False,
                    "reasons": shown})
    return out


def compare_recorded(ss: pd.DataFrame, crime: pd.DataFrame, k: int, *, ratio: float = 2.0,
                     top: int = 20) -> dict:
    """Street Safe against recorded crime in the same cells.

    Parameters
    ----------
    ss : DataFrame
        Reports (``cell_x, cell_y``).
    crime : DataFrame
        Recorded crimes per cell: ``cell_x, cell_y, crimes``.
    k : int
        Minimum count.
    ratio : float
        A cell is "felt unsafe, little recorded" when its share of the force's Street Safe
        reports is at least ``ratio`` times its share of recorded crime (and it holds ``k`` or
        more reports); "recorded, few feel unsafe" lists the ``top`` cells by recorded crime
        holding fewer than ``k`` reports.

    Returns
    -------
    dict
        ``unsafe_little_recorded`` and ``recorded_few_unsafe`` (lists of cells with ``key,
        cell_x, cell_y, reports (None when under k), crimes, ss_share, crime_share``),
        ``ss_total``, ``crime_total``, ``rule``.
    """
    per = (ss.groupby(["cell_x", "cell_y"]).size().rename("reports") if not ss.empty
           else pd.Series(dtype=int, name="reports"))
    cr = (crime.set_index(["cell_x", "cell_y"])["crimes"] if not crime.empty
          else pd.Series(dtype=int, name="crimes"))
    ss_total, crime_total = int(per.sum()), int(cr.sum())
    unsafe, recorded = [], []
    for (cx, cy), n in per.items():
        if n < k:
            continue
        c = int(cr.get((cx, cy), 0))
        ss_share = n / ss_total
        crime_share = c / crime_total if crime_total else 0.0
        if crime_share == 0 or ss_share >= ratio * crime_share:
            unsafe.append({"key": cell_key(cx, cy), "cell_x": int(cx), "cell_y": int(cy),
                           "reports": int(n), "crimes": c, "ss_share": ss_share,
                           "crime_share": crime_share})
    unsafe.sort(key=lambda r: (-(r["ss_share"] - r["crime_share"]), r["key"]))
    for (cx, cy), c in cr.sort_values(ascending=False, kind="stable").items():
        if len(recorded) >= top:
            break
        n = int(per.get((cx, cy), 0))
        if n >= k:
            continue
        recorded.append({"key": cell_key(cx, cy), "cell_x": int(cx), "cell_y": int(cy),
                         "reports": None, "crimes": int(c), "ss_share": None,
                         "crime_share": int(c) / crime_total})
    return {"unsafe_little_recorded": unsafe, "recorded_few_unsafe": recorded,
            "ss_total": ss_total, "crime_total": crime_total,
            "rule": (f"felt unsafe, little recorded: {k}+ reports and a share of Street Safe "
                     f"reports at least {ratio:g}x the cell's share of recorded crime; recorded, "
                     f"few feel unsafe: the {top} cells with most recorded crime holding fewer "
                     f"than {k} reports")}


def reason_label(code: str) -> str:
    return REASONS.get(code, code)
