"""CLI commands: brief (the monthly coordination briefing)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


def register(app: typer.Typer) -> None:
    """Add the brief commands to the main app."""

    @app.command("brief")
    def brief_cmd(
        force: str = typer.Option(
            ..., "--force", help="Force as loaded, e.g. 'essex' (Essex Police)."
        ),
        month: str = typer.Option(
            "latest",
            "--month",
            help="Month to brief, YYYY-MM, or 'latest' (the latest loaded month of the force).",
        ),
        out: Path = typer.Option(
            Path("briefing"), "--out", help="Folder for briefing.html, .pdf and .json."
        ),
        baseline_year: int = typer.Option(
            2019, "--baseline-year", help="Baseline year (last pre-pandemic year by default)."
        ),
        harm_index: str = typer.Option(
            "harm_index_v1",
            "--harm-index",
            help="Harm table: a shipped version, or the path of a CSV with columns category, weight.",
        ),
        pdf: bool = typer.Option(
            True, "--pdf/--no-pdf", help="Also write briefing.pdf (WeasyPrint)."
        ),
        files: list[Path] | None = typer.Option(
            None,
            "--files",
            help="Read police.uk street files directly instead of the store (repeatable).",
        ),
    ) -> None:
        """Write the monthly coordination briefing: headline figures, trend, categories,
        districts with rates, harm and its concentration, comparison group, data quality."""
        from guardian.reports.context import Params, context_from_files, gather_context
        from guardian.reports.render import write_briefing

        console = Console(stderr=True)
        params = Params(baseline_year=baseline_year, harm_version=harm_index)
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("gathering data", total=None)
            if files:
                ctx = context_from_files(
                    list(files), force, month, params=params,
                    on_file=lambda name: progress.update(task, description=f"reading {name}"),
                )
            else:
                from guardian.store.db import get_engine

                ctx = gather_context(get_engine(), force, month, params=params)
            progress.update(task, description="computing and rendering")
            paths = write_briefing(ctx, out, pdf=pdf)
        json_path = paths.get("json")
        if json_path:
            import json as _json

            data = _json.loads(Path(json_path).read_text())
            head = data.get("sections", {}).get("headline", {})
            from guardian.cli import make_console

            out_console = make_console()
            out_console.print(f"[b]{data['meta']['force']}, {head.get('month_label', '')}[/b]")
            for sentence in head.get("sentences", []):
                out_console.print(f"  {sentence}")
        for kind, p in paths.items():
            console.print(f"{kind:>4}: {p}")
