"""Rendering the briefing: HTML (self-contained), PDF (WeasyPrint) and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from guardian.reports.briefing import SECTIONS, build_briefing
from guardian.reports.briefing import common as c


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("guardian.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = c.pct
    env.filters["num"] = lambda x, d=0: c.num(x, d)
    env.filters["month_label"] = c.month_label
    env.filters["ordinal"] = c.ordinal
    env.filters["share"] = lambda x: "n/a" if x is None else f"{x * 100:.1f}%"
    return env


def render_html(briefing: dict, sections=None) -> str:
    """The briefing as one self-contained HTML page (inline CSS, charts as data URIs)."""
    sections = SECTIONS if sections is None else sections
    tpl = _env().get_template("briefing.html.j2")
    return tpl.render(
        b=briefing, meta=briefing["meta"], sections=sections, data=briefing["sections"]
    )


def render_pdf(html: str, path: Path) -> None:
    """Write ``html`` as PDF with WeasyPrint (no network: everything is inline)."""
    from weasyprint import HTML

    HTML(string=html, base_url=None).write_pdf(str(path))


_NOT_IN_JSON = ("chart", "map_layer")
"""Keys left out of ``briefing.json``: chart images and the interactive map's drawing data."""


def _strip_charts(obj):
    if isinstance(obj, dict):
        return {k: _strip_charts(v) for k, v in obj.items() if k not in _NOT_IN_JSON}
    if isinstance(obj, list):
        return [_strip_charts(v) for v in obj]
    return obj


def briefing_json(briefing: dict) -> str:
    """Machine-readable briefing: every figure, without the chart images."""
    return json.dumps(_strip_charts(briefing), indent=2, ensure_ascii=False, allow_nan=False)


def write_briefing(
    ctx, out_dir: Path, *, pdf: bool = True, sections=None, interactive_map: bool = True
) -> dict[str, Path]:
    """Build the briefing from ``ctx`` and write ``briefing.html``, ``.json`` and ``.pdf``, and
    the interactive map ``briefing_map.html`` beside them (linked from the page).

    Returns the paths written (keys ``html``, ``json``, ``map``, ``pdf``).
    """
    from guardian.reports.interactive import MAP_FILE, write_briefing_map

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = build_briefing(ctx, sections)
    paths = {"html": out_dir / "briefing.html", "json": out_dir / "briefing.json"}
    if interactive_map:
        paths["map"] = out_dir / MAP_FILE
        write_briefing_map(data, paths["map"])
        data["map_file"] = MAP_FILE
    html = render_html(data, sections)
    paths["html"].write_text(html, encoding="utf-8")
    paths["json"].write_text(briefing_json(data), encoding="utf-8")
    if pdf:
        paths["pdf"] = out_dir / "briefing.pdf"
        render_pdf(html, paths["pdf"])
    return paths
