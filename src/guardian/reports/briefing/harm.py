"""Harm: the month's harm by category, harm per 1,000, and the concentration of harm."""

from __future__ import annotations

from guardian.analysis import harm as harm_mod
from guardian.errors import InputError
from guardian.reports import figures
from guardian.reports.briefing import common as c
from guardian.reports.briefing.base import SimpleSection


def build(ctx) -> dict:
    counts = c.category_counts(ctx, ctx.force, ctx.month)
    table = c.harm_of(ctx, counts)
    total = float(table["harm"].sum())
    pop = ctx.populations.get(ctx.force)
    hw = ctx.harm_weights
    weights = hw.to_frame()
    out = {
        "month": ctx.month,
        "total": total,
        "per_1000": harm_mod.per_1000(total, pop),
        "population": pop,
        "population_vintage": ctx.population_vintages.get(ctx.force, ctx.population_vintage),
        "unit": hw.unit,
        "index": {
            "version": hw.version,
            "source": hw.source,
            "caveat": hw.caveat,
            "weights": weights.to_dict(orient="records"),
        },
    }
    try:
        conc = harm_mod.concentration(table, harm_target=ctx.params.harm_target)
    except InputError as exc:
        out["concentration"] = {"available": False, "reason": str(exc)}
        return out
    ct = conc.to_frame()
    ct["weight"] = ct["category"].map(hw.weights)
    out["concentration"] = {
        "available": True,
        "sentence": conc.sentence,
        "k": conc.k,
        "offence_share": conc.offence_share,
        "harm_share": conc.harm_share,
        "harm_target": conc.harm_target,
        "table": ct.to_dict(orient="records"),
    }
    out["chart"] = figures.concentration_chart(
        list(ct["category"]), list(ct["offence_share"]), list(ct["harm_share"])
    )
    return out


SECTION = SimpleSection(
    key="harm", title="Harm and its concentration", template="section_harm.html.j2", builder=build
)
