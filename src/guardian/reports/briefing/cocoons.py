"""Active cocoons and delivery: the burglary cocoons live at the end of the briefing month, the
parameters they were opened with (default or derived from the force's Knox result), overdue
visits and the delivery figures (:func:`guardian.operations.cocoons.service.cocoon_section_data`).
"""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from guardian.errors import GuardianError
from guardian.reports.briefing import common as c
from guardian.reports.briefing import targeting as tg
from guardian.reports.briefing.base import SimpleSection, unavailable

SHOWN = 15
"""Cocoons and overdue visits listed on the page (the JSON has every live cocoon)."""


def _param_text(p: dict) -> str:
    src = str(p.get("source") or "")
    if src == "default":
        where = "Guardian's defaults"
    elif src.startswith("knox"):
        where = f"derived from the force's Knox test ({src})"
    elif src == "manual":
        where = "set by hand (--radius / --window)"
    else:
        where = src or "unknown source"
    return (
        f"{p['radius_m']:g} m for {p['window_days']:g} days, visits due within "
        f"{p['visit_hours']:g} hours — {where}"
    )


def build(ctx) -> dict:
    short = ctx.force_short.lower() if ctx.force_short else ctx.force
    open_cmd = f"guardian cocoons open --force {short} --to {ctx.month}"
    if ctx.engine is None:
        return unavailable(
            "cocoons live in the store; this briefing was built from files (--files). Load the "
            f"data with `guardian ingest`, then `{open_cmd}`",
            command=open_cmd,
        )
    tz = tg.local_tz(ctx)
    as_of = tg.end_of_month_utc(ctx.month, tz)
    try:
        from guardian.operations.cocoons.service import cocoon_section_data

        d = cocoon_section_data(ctx.engine, dataset=ctx.force, as_of=as_of)
    except (GuardianError, SQLAlchemyError) as exc:  # no data, no tables: say so, go on
        return unavailable(tg.reason(exc, "cocoons could not be read"), command=open_cmd)
    if not d["parameters"]:
        return unavailable(
            f"no cocoons have been opened for {ctx.force}; open them from the loaded burglaries "
            f"with `{open_cmd}` (add `--from-knox knox.json` to use the force's own near-repeat "
            "distances and times)",
            command=open_cmd,
            as_of=d["as_of"],
        )
    live = sorted(d["cocoons"], key=lambda r: (-r["visits_overdue"], -r["members"], str(r["ref"])))
    params = [{**p, "text": _param_text(p)} for p in d["parameters"]]
    sources = sorted({str(p.get("source")) for p in d["parameters"]})
    crs = d.get("crs") or ""
    return {
        "available": True,
        "as_of": d["as_of"],
        "as_of_rule": f"the end of {c.month_label(ctx.month)}",
        "timezone": d["timezone"],
        "timing": d["timing"],
        "timing_note": d["timing_note"],
        "burglary_basis": d["burglary_basis"],
        "parameters": params,
        "parameters_source": "derived from Knox"
        if all(s.startswith("knox") for s in sources)
        else ("default" if sources == ["default"] else ", ".join(sources)),
        "live_count": len(live),
        "open_count": sum(1 for r in live if r["status"] == "open"),
        "members": sum(int(r["members"]) for r in live),
        "near_repeats": sum(int(r["near_repeats"]) for r in live),
        "cocoons": live,
        "overdue_count": d["overdue_count"],
        "overdue": d["overdue"],
        "delivery": d["delivery"],
        "caveats": d["caveats"],
        "command": open_cmd,
        "shown": SHOWN,
        "map_layer": {
            "crs": crs,
            "cocoons": [
                {
                    "ref": r["ref"],
                    "lat": r["centre"]["lat"],
                    "lon": r["centre"]["lon"],
                    "radius_m": r["radius_m"],
                    "members": r["members"],
                    "overdue": r["visits_overdue"],
                    "zone_km2": r["zone_km2"],
                    "why": r["why"],
                }
                for r in live
                if r["centre"].get("lat") is not None
            ],
        },
    }


SECTION = SimpleSection(
    key="cocoons",
    title="Active cocoons and delivery",
    template="section_cocoons.html.j2",
    builder=build,
)
