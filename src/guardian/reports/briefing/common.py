"""Small helpers shared by the briefing sections (wording, per-force figures)."""

from __future__ import annotations

import calendar

import pandas as pd

from guardian.analysis import harm as harm_mod
from guardian.analysis import performance as perf
from guardian.data.schema import ASB, CRIME_CATEGORIES

MINUS = "\u2212"


def month_label(month: str) -> str:
    """``"2021-12"`` -> ``"December 2021"``."""
    y, m = month.split("-")
    return f"{calendar.month_name[int(m)]} {y}"


def pct(p: float | None, digits: int = 1) -> str:
    """Signed percentage with a true minus sign: ``+4.2%``, ``−3.1%``; ``n/a`` for None."""
    if p is None:
        return "n/a"
    s = f"{abs(p):.{digits}f}%"
    return ("+" if p > 0 else MINUS if p < 0 else "\u00b1") + s


def num(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "n/a"
    return f"{x:,.{digits}f}"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def category_counts(ctx, dataset: str, month: str) -> pd.Series:
    """Category -> count for one dataset and month (all 14 categories, zeros kept)."""
    c = ctx.picture.counts
    sub = c[(c["dataset"] == dataset) & (c["month"] == month)]
    s = sub.groupby("category")["count"].sum()
    return s.reindex(list(CRIME_CATEGORIES) + [ASB]).fillna(0).astype(int)


def category_window_counts(ctx, dataset: str, end: str, months: int = 12) -> pd.Series:
    c = ctx.picture.counts
    ms = perf.month_range(perf.add_months(end, -(months - 1)), end)
    sub = c[(c["dataset"] == dataset) & (c["month"].isin(ms))]
    s = sub.groupby("category")["count"].sum()
    return s.reindex(list(CRIME_CATEGORIES) + [ASB]).fillna(0).astype(int)


def harm_of(ctx, counts: pd.Series) -> pd.DataFrame:
    return harm_mod.harm_by_category(counts.drop(ASB, errors="ignore"), ctx.harm_weights)


def anomaly_months(ctx, dataset: str) -> list[str]:
    res = ctx.picture.anomalies.get(dataset)
    return list(res.months) if res else []
