"""Harm-spot patrols: the plans of the briefing period and their delivered dosage against plan
(:func:`guardian.operations.patrols.service.patrol_section_data`)."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from guardian.errors import GuardianError
from guardian.reports.briefing import common as c
from guardian.reports.briefing import targeting as tg
from guardian.reports.briefing.base import SimpleSection, unavailable

PERIOD_DAYS = 28


def build(ctx) -> dict:
    short = ctx.force_short.lower() if ctx.force_short else ctx.force
    plan_cmd = f'guardian patrols plan --force {short} --district "DISTRICT" --week YYYY-MM-DD'
    if ctx.engine is None:
        return unavailable(
            "patrol plans live in the store; this briefing was built from files (--files)",
            command=plan_cmd,
        )
    tz = tg.local_tz(ctx)
    as_of = tg.end_of_month_utc(ctx.month, tz)
    try:
        from guardian.operations.patrols.service import patrol_section_data

        d = patrol_section_data(ctx.engine, dataset=ctx.force, as_of=as_of, period_days=PERIOD_DAYS)
    except (GuardianError, SQLAlchemyError) as exc:  # no data, no tables: say so, go on
        return unavailable(tg.reason(exc, "patrol plans could not be read"), command=plan_cmd)
    if not d["plans"]:
        return unavailable(
            f"no patrol plan for {ctx.force} has a week between {d['period']['start']} and "
            f"{d['period']['end']}; plan one with `{plan_cmd}`",
            command=plan_cmd,
            period=d["period"],
        )
    return {
        "available": True,
        "as_of": d["as_of"],
        "as_of_rule": f"the end of {c.month_label(ctx.month)}; plans whose week overlaps the "
        f"{PERIOD_DAYS} days before it or the week after",
        "period": d["period"],
        "plans": d["plans"],
        "totals": d["totals"],
        "caveats": d["caveats"],
    }


SECTION = SimpleSection(
    key="patrols",
    title="Harm-spot patrols: plan and delivered dosage",
    template="section_patrols.html.j2",
    builder=build,
)
