"""Street Safe: where people told the force they feel unsafe in the briefing month, aggregated
with the minimum count (:func:`guardian.operations.streetsafe.service.month_section`); says
"no Street Safe reports" when there are none."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from guardian.errors import GuardianError
from guardian.reports.briefing import targeting as tg
from guardian.reports.briefing.base import SimpleSection, unavailable


def build(ctx) -> dict:
    if ctx.engine is None:
        return unavailable("Street Safe reports live in the store; this briefing was built from "
                           "files (--files)")
    try:
        from guardian.config import get_settings
        from guardian.operations.streetsafe import service
        from guardian.operations.streetsafe.area import build_area
        from guardian.operations.streetsafe.config import load_config

        cfg = load_config(get_settings().home)
        area = build_area(ctx.engine, ctx.force, cfg.area_cell_m)
        d = service.month_section(ctx.engine, area, cfg, ctx.month)
    except (GuardianError, SQLAlchemyError) as exc:
        return unavailable(tg.reason(exc, "Street Safe reports could not be read"))
    if not d["reports"] and not d.get("withheld"):
        return {"available": True, "none": True, "month": ctx.month,
                "text": f"no Street Safe reports in {ctx.month}"}
    return {"available": True, "none": False, "month": ctx.month, **d}


SECTION = SimpleSection(
    key="streetsafe",
    title="Street Safe: where people feel unsafe",
    template="section_streetsafe.html.j2",
    builder=build,
)
