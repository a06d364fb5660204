"""Comparison group: crime and harm per 1,000 residents of the force and its loaded peers."""

from __future__ import annotations

from guardian.analysis import harm as harm_mod
from guardian.analysis import performance as perf
from guardian.reports.briefing import common as c
from guardian.reports.briefing.base import SimpleSection, unavailable


def _member_rows(ctx) -> list[dict]:
    rows = []
    for short, ds in [(ctx.force_short, ctx.force)] + [
        (s, d) for s, d in ctx.group_datasets.items() if d != ctx.force
    ]:
        loaded = ctx.loaded_months.get(ds, [])
        pop = ctx.populations.get(ds)
        row = {
            "force": short,
            "dataset": ds,
            "population": pop,
            "month_loaded": ctx.month in loaded,
            "month_is_anomaly": ctx.month in c.anomaly_months(ctx, ds),
        }
        if not row["month_loaded"]:
            row.update(
                crime=None,
                crime_per_1000=None,
                harm=None,
                harm_per_1000=None,
                note=f"{ctx.month} not loaded",
            )
        elif row["month_is_anomaly"]:
            row.update(
                crime=None,
                crime_per_1000=None,
                harm=None,
                harm_per_1000=None,
                note=f"{ctx.month} flagged as a data anomaly; left out of the ranking",
            )
        else:
            counts = c.category_counts(ctx, ds, ctx.month)
            crime = int(counts.drop(c.ASB).sum())
            h = float(c.harm_of(ctx, counts)["harm"].sum())
            row.update(
                crime=crime,
                crime_per_1000=perf.rate_per_1000(crime, pop),
                harm=h,
                harm_per_1000=harm_mod.per_1000(h, pop),
                note=None,
            )
            if pop is None:
                row["note"] = "population unknown"
        rows.append(row)
    return rows


def group_ranks(ctx, rows: list[dict] | None = None) -> dict:
    """Rank of the force on crime and harm per 1,000 among loaded group members (``rows``:
    the members' figures, when the caller has them)."""
    if ctx.group is None:
        r = unavailable(f"no comparison group configured for {ctx.force_short}")
        return {"crime_per_1000": r, "harm_per_1000": r}
    rows = _member_rows(ctx) if rows is None else rows
    out = {}
    for measure in ("crime_per_1000", "harm_per_1000"):
        vals = {r["force"]: r[measure] for r in rows}
        gr = perf.rank_in_group(vals, ctx.force_short, measure=measure)
        d = gr.to_dict()
        if not gr.available:
            own = rows[0]
            missing = [m for m in ctx.group.members if m not in ctx.group_datasets]
            if own[measure] is None and own.get("note"):
                d["reason"] = f"{ctx.force_short} has no value: {own['note']}"
            else:
                d["reason"] = gr.reason + (
                    f" (not in the store: {', '.join(missing)})" if missing else ""
                )
        out[measure] = d
    return out


def build(ctx) -> dict:
    if ctx.group is None:
        return unavailable(f"no comparison group configured for {ctx.force_short}")
    rows = _member_rows(ctx)
    missing = [m for m in ctx.group.members if m not in ctx.group_datasets]
    return {
        "available": True,
        "month": ctx.month,
        "group": ctx.group.to_dict(),
        "members": rows,
        "not_loaded": missing,
        "ranks": group_ranks(ctx, rows),
        "population_vintage": ctx.population_vintage,
        "note": "Rates are for the single month; rank 1 is the highest rate. Group average is "
        "the unweighted mean over loaded members including the force.",
    }


SECTION = SimpleSection(
    key="comparison", title="Comparison group", template="section_comparison.html.j2", builder=build
)
