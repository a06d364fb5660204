"""Monthly trend of crime and ASB; months not loaded are gaps, anomalies marked."""

from __future__ import annotations

from guardian.analysis import performance as perf
from guardian.reports import figures
from guardian.reports.briefing import common as c
from guardian.reports.briefing.base import SimpleSection


def build(ctx) -> dict:
    s = ctx.picture.series[ctx.force]
    first = max(s.index[0], perf.add_months(ctx.month, -(ctx.params.trend_months - 1)))
    months = perf.month_range(first, ctx.month)
    sub = s.reindex(months)
    anomalies = c.anomaly_months(ctx, ctx.force)
    rows = []
    for m in months:
        loaded = bool(sub.loc[m, "loaded"]) if m in s.index else False
        rows.append(
            {
                "month": m,
                "loaded": loaded,
                "crime": None if not loaded else int(sub.loc[m, "crime"]),
                "asb": None if not loaded else int(sub.loc[m, "asb"]),
                "crime_daily_average": None
                if not loaded
                else sub.loc[m, "crime"] / perf.days_in_month(m),
                "anomaly": m in anomalies,
            }
        )
    chart = figures.trend_chart(
        months, [r["crime"] for r in rows], [r["asb"] for r in rows], anomalies, ctx.month
    )
    missing = [r["month"] for r in rows if not r["loaded"]]
    return {
        "months": rows,
        "first": months[0],
        "last": months[-1],
        "not_loaded": missing,
        "not_loaded_text": perf.month_span(missing) if missing else "",
        "anomalies": [m for m in anomalies if m in months],
        "chart": chart,
    }


SECTION = SimpleSection(
    key="trend", title="Monthly trend", template="section_trend.html.j2", builder=build
)
