"""The month by police.uk category against the previous month and the same month last year."""

from __future__ import annotations

from guardian.analysis import performance as perf
from guardian.data.schema import ASB
from guardian.reports.briefing import common as c
from guardian.reports.briefing.base import SimpleSection


def _ref(ctx, ref_month: str, label: str) -> dict:
    loaded = ctx.loaded_months[ctx.force]
    anomalies = c.anomaly_months(ctx, ctx.force)
    if ref_month not in loaded:
        return {
            "month": ref_month,
            "label": label,
            "available": False,
            "reason": f"{ref_month} not loaded",
        }
    if ref_month in anomalies or ctx.month in anomalies:
        bad = ref_month if ref_month in anomalies else ctx.month
        return {
            "month": ref_month,
            "label": label,
            "available": False,
            "reason": f"{bad} flagged as a data anomaly",
        }
    return {"month": ref_month, "label": label, "available": True, "reason": None}


def build(ctx) -> dict:
    now = c.category_counts(ctx, ctx.force, ctx.month)
    refs = {
        "previous_month": _ref(ctx, perf.add_months(ctx.month, -1), "previous month"),
        "same_month_last_year": _ref(ctx, perf.add_months(ctx.month, -12), "same month last year"),
    }
    ref_counts = {
        k: c.category_counts(ctx, ctx.force, r["month"]) if r["available"] else None
        for k, r in refs.items()
    }
    crime_total = int(now.drop(ASB).sum())
    rows = []
    for cat, n in now.items():
        row = {
            "category": cat,
            "is_crime": cat != ASB,
            "count": int(n),
            "share_of_crime": (n / crime_total if crime_total and cat != ASB else None),
        }
        for k, rc in ref_counts.items():
            if rc is None:
                row[k] = None
                row[f"{k}_pct_change"] = None
            else:
                row[k] = int(rc[cat])
                row[f"{k}_pct_change"] = perf._pct(float(n), float(rc[cat]))
        rows.append(row)
    crime_rows = sorted(
        [r for r in rows if r["is_crime"]], key=lambda r: (-r["count"], r["category"])
    )
    asb_rows = [r for r in rows if not r["is_crime"]]
    return {
        "month": ctx.month,
        "crime_total": crime_total,
        "references": refs,
        "rows": crime_rows + asb_rows,
    }


SECTION = SimpleSection(
    key="categories", title="Categories", template="section_categories.html.j2", builder=build
)
