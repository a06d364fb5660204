"""Data quality: months loaded and missing, quarantined and duplicate rows, anomalies, locations."""

from __future__ import annotations

from guardian.analysis import performance as perf
from guardian.reports.briefing.base import SimpleSection
from guardian.store.status import month_gaps


def build(ctx) -> dict:
    rows = []
    for ds in ctx.datasets:
        months = ctx.loaded_months.get(ds, [])
        q = ctx.quality.get(ds, {})
        counts = ctx.picture.counts
        month_rows = int(
            counts.loc[(counts["dataset"] == ds) & (counts["month"] == ctx.month), "count"].sum()
        )
        own = ds == ctx.force  # district-level detail is held for the force, not its peers
        dc = ctx.picture.district_counts
        dc = dc[dc["month"] == ctx.month]
        res = ctx.picture.anomalies.get(ds)
        s = ctx.picture.series.get(ds)
        anomalies = []
        for a in res.anomalies if res else ():
            d = a.to_dict()
            # ASB in the same month, against its own neighbours, tells a supply gap from a real drop
            d["asb_relative_departure"] = (
                None
                if s is None
                else perf.relative_to_neighbours(
                    s["asb"],
                    months,
                    a.month,
                    window_months=res.params["window_months"],
                    exclude=res.months,
                )
            )
            anomalies.append(d)
        rows.append(
            {
                "dataset": ds,
                "months_loaded": len(months),
                "first_month": months[0] if months else None,
                "last_month": months[-1] if months else None,
                "gaps": month_gaps(months),
                "rows": q.get("rows", int(counts.loc[counts["dataset"] == ds, "count"].sum())),
                "quarantined": q.get("quarantined"),
                "duplicates": q.get("duplicates"),
                "month_rows": month_rows,
                "month_no_location": int(dc.loc[dc["district"] == "", "count"].sum())
                if own
                else None,
                "month_outside_force_area": (
                    int(dc.loc[dc["district"] == "Outside force area", "count"].sum())
                    if own
                    else None
                ),
                "anomalies": anomalies,
                "not_assessed": list(res.not_assessed) if res else [],
            }
        )
    params = next(iter(ctx.picture.anomalies.values())).params if ctx.picture.anomalies else {}
    return {
        "datasets": rows,
        "anomaly_rule": (
            "A month is flagged when its daily crime rate departs from the median of the other "
            "loaded months within {window_months} months either side by at least "
            "{min_relative:.0%} and by at least {z_threshold} robust standard deviations "
            "(1.4826 x MAD, floored at {mad_floor:.1%} of the median); repeated until stable. "
            "Flagged months are kept out of every comparison and trend statement."
        ).format(**params)
        if params
        else "",
        "anomaly_params": params,
        "quarantine_known": any("quarantined" in ctx.quality.get(ds, {}) for ds in ctx.datasets),
    }


SECTION = SimpleSection(
    key="data_quality", title="Data quality", template="section_data_quality.html.j2", builder=build
)
