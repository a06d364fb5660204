"""Rendering the board report: HTML (self-contained), PDF (WeasyPrint, as the briefing) and JSON.

The JSON is written with sorted keys and no time of the run, so the same quarter on the same data
and texts gives byte-identical files; the HTML and PDF carry the generation time in the footer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape

from guardian.reports.briefing import common as c
from guardian.reports.render import render_pdf


def _env() -> Environment:
    env = Environment(
        loader=ChoiceLoader([PackageLoader("guardian.reports.board", "templates"),
                             PackageLoader("guardian.reports", "templates")]),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = c.pct
    env.filters["num"] = lambda x, d=0: c.num(x, d)
    env.filters["month_label"] = c.month_label
    env.filters["share"] = lambda x: "n/a" if x is None else f"{x * 100:g}%"
    return env


def board_json(report: dict) -> str:
    """The report as JSON text: sorted keys, two-space indent, UTF-8, a final newline."""
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False,
                      allow_nan=False) + "\n"


def render_html(report: dict, *, generated_at: str | None = None) -> str:
    """The report as one self-contained HTML page (inline CSS, no script, no request)."""
    traces = report["provenance"]["traces"]
    fn = {tid: i for i, tid in enumerate(traces, 1)}
    return _env().get_template("board.html.j2").render(
        b=report, meta=report["meta"], data=report["sections"], traces=traces, fn=fn,
        generated_at=generated_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def write_board(report: dict, out_dir: Path, *, pdf: bool = True) -> dict[str, Path]:
    """Write ``board.json``, ``board.html``, ``governance.json`` and (``pdf``) ``board.pdf``.

    Returns the paths written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "board.json", "html": out_dir / "board.html",
             "governance": out_dir / "governance.json"}
    paths["json"].write_text(board_json(report), encoding="utf-8")
    gov = {"meta": report["meta"], "governance": report["sections"]["governance"],
           "provenance": report["provenance"]}
    paths["governance"].write_text(board_json(gov), encoding="utf-8")
    html = render_html(report)
    paths["html"].write_text(html, encoding="utf-8")
    if pdf:
        paths["pdf"] = out_dir / "board.pdf"
        render_pdf(html, paths["pdf"])
    return paths
