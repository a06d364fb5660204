"""CLI commands: brief (the monthly coordination briefing)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from guardian.errors import InputError


def _context_from_files(files: list[Path], force: str, month: str | None, params, progress, task):
    """Build the context straight from police.uk street files (no store)."""
    import pandas as pd

    from guardian.data.policeuk import read_street
    from guardian.data.sources import iter_sources
    from guardian.reports.context import context_from_frames, sources_from_files

    srcs = [s for s in iter_sources(files) if s.member is None and "street" in s.basename]
    if not srcs:
        raise InputError(f"no police.uk street files (*-street.csv[.gz]) under {files}")
    frames = []
    for s in srcs:
        progress.update(task, description=f"reading {s.basename}")
        frames.append(read_street(s.path))
    events = pd.concat(frames, ignore_index=True)
    wanted = [
        d
        for d in events["dataset"].unique()
        if d.lower() == force.lower() or d.lower().startswith(force.lower())
    ]
    if len(wanted) != 1:
        raise InputError(
            f"force {force!r} matches {wanted or 'no'} dataset in the files; "
            f"datasets present: {sorted(events['dataset'].unique())}"
        )
    ds = wanted[0]
    months = sorted(events.loc[events["dataset"] == ds, "month"].unique())
    month = month or months[-1]
    sources = sources_from_files([s.path for s in srcs])
    return context_from_frames(events, force=ds, month=month, sources=sources, params=params)


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
        from guardian.reports.context import Params, gather_context
        from guardian.reports.render import write_briefing

        console = Console(stderr=True)
        latest = month.strip().lower() == "latest"
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
                ctx = _context_from_files(
                    list(files), force, None if latest else month, params, progress, task
                )
            else:
                from guardian.store.db import get_engine
                from guardian.store.status import loaded_months, resolve_dataset

                engine = get_engine()
                if latest:
                    ds = resolve_dataset(engine, force)
                    lm = loaded_months(engine, ds)
                    if not lm:
                        raise InputError(f"no months of {ds} are loaded")
                    month = lm[-1]
                ctx = gather_context(engine, force, month, params=params)
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
