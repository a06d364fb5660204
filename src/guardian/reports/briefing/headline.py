"""Headline figures: the month's crime and ASB against the previous month, last year, the baseline
year, and the rolling 12 months; harm; rank; concentration -- as figures and as sentences."""

from __future__ import annotations

from guardian.analysis import harm as harm_mod
from guardian.analysis import performance as perf
from guardian.errors import InputError
from guardian.reports.briefing import common as c
from guardian.reports.briefing.base import SimpleSection


def _measure(ctx, column: str) -> dict:
    s = ctx.picture.series[ctx.force][column]
    loaded = ctx.loaded_months[ctx.force]
    # anomalies are detected on the crime series (a gap in the supply of crime rows); ASB
    # rows come through a separate channel and are judged on their own count
    anomalies = c.anomaly_months(ctx, ctx.force) if column == "crime" else []
    comps = perf.month_comparisons(
        s, loaded, ctx.month, baseline_year=ctx.params.baseline_year, anomalies=anomalies
    )
    rolls = perf.rolling_comparisons(
        s, loaded, ctx.month, baseline_year=ctx.params.baseline_year, anomalies=anomalies
    )
    count = int(s[ctx.month])
    return {
        "count": count,
        "daily_average": count / perf.days_in_month(ctx.month),
        "month_is_anomaly": ctx.month in anomalies,
        "comparisons": {k: v.to_dict() for k, v in comps.items()},
        "rolling_12_months": {k: v.to_dict() for k, v in rolls.items()},
    }


def _coverage(w: dict) -> str:
    """``"10 of 12 months (missing 2021-01..2021-02)"``."""
    notes = []
    if w["missing"]:
        notes.append(f"missing {perf.month_span(w['missing'])}")
    if w["anomalous"]:
        notes.append(f"anomalous {', '.join(w['anomalous'])}")
    return w["coverage"] + (f" ({'; '.join(notes)})" if notes else "")


def _sentences(ctx, name: str, m: dict) -> list[str]:
    ml = c.month_label(ctx.month)
    comp, roll = m["comparisons"], m["rolling_12_months"]
    out = []
    parts = [f"{m['count']:,} {name} in {ml}"]
    ly = comp["same_month_last_year"]
    parts.append(
        f"{c.pct(ly['pct_change'])} on the same month last year"
        if ly["available"]
        else f"no comparison with the same month last year ({ly['reason']})"
    )
    bl = comp["baseline"]
    parts.append(
        f"{c.pct(bl['pct_change'])} on {c.month_label(bl['reference_month'])} (baseline year)"
        if bl["available"]
        else f"no comparison with the baseline year ({bl['reason']})"
    )
    out.append("; ".join(parts) + ".")
    pm = comp["previous_month"]
    if pm["available"]:
        more = "more" if pm["daily_change"] >= 0 else "fewer"
        out.append(
            f"A daily average of {pm['daily_average']:,.1f} against "
            f"{pm['reference_daily_average']:,.1f} the month before "
            f"({c.pct(pm['daily_pct_change'])}, {abs(pm['daily_change']):,.1f} {more} a day)."
        )
    else:
        out.append(
            f"A daily average of {m['daily_average']:,.1f}; no comparison with the month "
            f"before ({pm['reason']})."
        )
    for key, what in (
        ("previous_12_months", "the previous 12 months"),
        ("baseline", f"the 12 months to {c.month_label(roll['baseline']['reference']['end'])}"),
    ):
        r = roll[key]
        if r["available"]:
            out.append(
                f"For the 12 months to {ml}, {name} {c.pct(r['pct_change'])} on {what} "
                f"({r['current']['total']:,} against {r['reference']['total']:,})."
            )
        else:
            out.append(
                f"For the 12 months to {ml}, {name} are not compared with {what}: "
                f"{_coverage(r['current'])} against {_coverage(r['reference'])}."
            )
    return out


def build(ctx) -> dict:
    crime, asb = _measure(ctx, "crime"), _measure(ctx, "asb")
    counts = c.category_counts(ctx, ctx.force, ctx.month)
    table = c.harm_of(ctx, counts)
    total_harm = float(table["harm"].sum())
    pop = ctx.populations.get(ctx.force)
    harm = {
        "total": total_harm,
        "per_1000": harm_mod.per_1000(total_harm, pop),
        "population": pop,
        "unit": ctx.harm_weights.unit,
        "version": ctx.harm_weights.version,
    }
    try:
        conc = harm_mod.concentration(table, harm_target=ctx.params.harm_target)
        concentration = {
            "available": True,
            "sentence": conc.sentence,
            "k": conc.k,
            "offence_share": conc.offence_share,
            "harm_share": conc.harm_share,
        }
    except InputError as exc:  # no crime at all in the month
        concentration = {"available": False, "reason": str(exc)}
    from guardian.reports.briefing.comparison import group_ranks

    ranks = group_ranks(ctx)
    sentences = _sentences(ctx, "crimes", crime) + _sentences(ctx, "ASB incidents", asb)
    rk = ranks["crime_per_1000"]
    if rk["available"]:
        sentences.append(
            f"Crime per 1,000 population ranks {c.ordinal(rk['rank'])} of {rk['of']} "
            f"loaded forces of the comparison group (1st = highest)."
        )
    else:
        sentences.append(
            f"Crime per 1,000 population cannot be ranked in the comparison group: {rk['reason']}."
        )
    if concentration["available"]:
        sentences.append(concentration["sentence"][0].upper() + concentration["sentence"][1:] + ".")
    return {
        "month": ctx.month,
        "month_label": c.month_label(ctx.month),
        "days_in_month": perf.days_in_month(ctx.month),
        "baseline_year": ctx.params.baseline_year,
        "crime": crime,
        "asb": asb,
        "harm": harm,
        "concentration": concentration,
        "rank": ranks,
        "sentences": sentences,
    }


SECTION = SimpleSection(
    key="headline", title="Headline figures", template="section_headline.html.j2", builder=build
)
