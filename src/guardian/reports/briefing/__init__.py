"""The monthly coordination briefing.

:data:`SECTIONS` is the registry: the briefing shows its sections in this order. Each entry is a
small module's ``SECTION`` (see :mod:`guardian.reports.briefing.base`); to add a section (harm
spots, cocoons, forecasts) write ``briefing/<name>.py`` with a ``SECTION`` and a template partial
``templates/section_<name>.html.j2`` and add it here.
"""

from __future__ import annotations

import hashlib

from guardian.reports.briefing import (
    categories,
    cocoons,
    comparison,
    data_quality,
    districts,
    forecast,
    harm,
    headline,
    patrols,
    risk,
    spots,
    streetsafe,
    trend,
)
from guardian.reports.briefing.base import Section, SimpleSection, clean, unavailable

SECTIONS: list[Section] = [
    headline.SECTION,
    trend.SECTION,
    categories.SECTION,
    districts.SECTION,
    harm.SECTION,
    comparison.SECTION,
    forecast.SECTION,
    streetsafe.SECTION,
    spots.SECTION,
    risk.SECTION,
    cocoons.SECTION,
    patrols.SECTION,
    data_quality.SECTION,
]

__all__ = ["SECTIONS", "Section", "SimpleSection", "build_briefing", "clean", "unavailable"]


def build_briefing(ctx, sections: list[Section] | None = None) -> dict:
    """Every figure of the briefing as JSON-able data.

    Returns
    -------
    dict
        ``{"meta": {...}, "sections": {key: data}, "order": [keys], "titles": {key: title}}``;
        keys are documented in ``docs/briefing.md``.
    """
    sections = SECTIONS if sections is None else sections
    data = {s.key: s.build(ctx) for s in sections}
    by_ds: dict[str, list[dict]] = {}
    for src in ctx.sources:
        by_ds.setdefault(src.get("dataset") or ctx.force, []).append(src)
    source_sets = []
    for ds, files in by_ds.items():
        months = sorted(f["month"] for f in files if f.get("month"))
        joined = "\n".join(sorted(f["sha256"] for f in files)).encode()
        source_sets.append(
            {
                "dataset": ds,
                "files": len(files),
                "first_month": months[0] if months else None,
                "last_month": months[-1] if months else None,
                "sha256": hashlib.sha256(joined).hexdigest(),
            }
        )
    meta = {
        "force": ctx.force,
        "force_short": ctx.force_short,
        "month": ctx.month,
        "guardian_version": ctx.version,
        "generated_at": ctx.generated_at,
        "parameters": ctx.params.to_dict(),
        "harm_index": ctx.harm_weights.version,
        "population_vintage": ctx.population_vintage,
        "loaded_months": {k: list(v) for k, v in ctx.loaded_months.items()},
        "sources": list(ctx.sources),
        "source_sets": source_sets,
        "comparison_group": ctx.group.to_dict() if ctx.group else None,
    }
    return clean(
        {
            "meta": meta,
            "order": [s.key for s in sections],
            "titles": {s.key: s.title for s in sections},
            "sections": data,
        }
    )
