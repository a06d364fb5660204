"""Districts: the month's crime, ASB and harm with rates per 1,000 residents."""

from __future__ import annotations

import pandas as pd

from guardian.analysis import harm as harm_mod
from guardian.analysis import performance as perf
from guardian.data.schema import ASB
from guardian.reports import figures
from guardian.reports.briefing import common as c
from guardian.reports.briefing.base import SimpleSection, unavailable


def build(ctx) -> dict:
    pop = ctx.district_population
    if pop.empty:
        return unavailable(
            f"no district population for {ctx.force_short} in the reference geography"
        )
    d = ctx.picture.district_counts
    d = d[d["month"] == ctx.month]
    is_asb = d["category"] == ASB
    crime = d[~is_asb].groupby("district")["count"].sum()
    asb = d[is_asb].groupby("district")["count"].sum()
    w = pd.Series(ctx.harm_weights.weights)
    dh = d[~is_asb].assign(h=lambda f: f["count"] * f["category"].map(w).astype(float))
    harm = dh.groupby("district")["h"].sum()
    table = perf.district_rates(crime, pop)
    table["asb"] = (
        table["district"]
        .map(asb.rename(index=lambda k: k or "(no location)"))
        .fillna(0)
        .astype(int)
    )
    table["asb_per_1000"] = [
        perf.rate_per_1000(a, p) for a, p in zip(table["asb"], table["population"], strict=True)
    ]
    table["harm"] = (
        table["district"].map(harm.rename(index=lambda k: k or "(no location)")).fillna(0.0)
    )
    table["harm_per_1000"] = [
        harm_mod.per_1000(h, p) if p == p else None
        for h, p in zip(table["harm"], table["population"], strict=True)
    ]
    table = table.rename(columns={"count": "crime", "rate_per_1000": "crime_per_1000"})
    known = table[table["population"].notna()]
    other = table[table["population"].isna()]
    chart = figures.bar_chart(
        list(known["district"]),
        list(known["crime_per_1000"]),
        xlabel=f"Crimes per 1,000 residents, {c.month_label(ctx.month)}",
    )
    return {
        "available": True,
        "month": ctx.month,
        "population_vintage": ctx.population_vintages.get(ctx.force, ctx.population_vintage),
        "rows": known.to_dict(orient="records"),
        "unallocated": other.to_dict(orient="records"),
        "unallocated_note": "Crimes with no location, or mapped by police.uk to an LSOA outside "
        "the force area, count in the force total but in no district.",
        "chart": chart,
    }


SECTION = SimpleSection(
    key="districts", title="Districts", template="section_districts.html.j2", builder=build
)
