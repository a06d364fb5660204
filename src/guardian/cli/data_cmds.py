"""CLI: ingest, status, quarantine, fetch."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from guardian.cli import make_console
from guardian.config import get_settings
from guardian.data.extract import ExtractMapping
from guardian.data.fetch import DEFAULT_BASE_URL, fetch_police_uk
from guardian.data.sources import iter_sources
from guardian.store.db import get_engine
from guardian.store.ingest import FileReport, ingest, quarantine_csv, quarantine_frame
from guardian.store.status import dataset_status, resolve_dataset

console = make_console()


def _report_table(reports: list[FileReport]) -> Table:
    t = Table(title="Ingest: rows read = loaded + quarantined + duplicates", show_lines=False)
    for col in ("file", "dataset", "month", "status", "read", "loaded", "quarantined", "duplicates"):
        t.add_column(col, justify="right" if col in ("read", "loaded", "quarantined", "duplicates") else "left")
    for r in reports:
        t.add_row(Path(r.name.split("!")[-1]).name, r.dataset, r.month, r.status,
                  f"{r.rows_read:,}", f"{r.loaded:,}", f"{r.quarantined:,}", f"{r.duplicates:,}")
    tot = [sum(getattr(r, k) for r in reports) for k in ("rows_read", "loaded", "quarantined", "duplicates")]
    t.add_row("[b]total[/b]", "", "", "", *[f"[b]{v:,}[/b]" for v in tot])
    return t


def run_ingest(paths: list[Path], mapping: Path | None = None, quiet: bool = False) -> list[FileReport]:
    """Ingest with a progress bar and the per-file accounting table."""
    engine = get_engine()
    m = ExtractMapping.from_toml(mapping) if mapping else None
    n = len(list(iter_sources(paths)))
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} files"), TimeElapsedColumn(),
                  console=console, transient=True, disable=quiet) as prog:
        task = prog.add_task("loading", total=n)
        reports = ingest(engine, paths, mapping=m,
                         progress=lambda r: prog.update(task, advance=1, description=Path(r.name).name))
    if quiet:
        return reports
    console.print(_report_table(reports))
    for r in reports:
        if r.status == "error":
            console.print(f"[red]not loaded:[/] {r.name}: {r.message}")
        elif r.status == "replaced":
            console.print(f"[yellow]replaced:[/] {r.month} of {r.dataset} ({r.message})")
    return reports


def status_table(status: list[dict]) -> Table:
    t = Table(title="Guardian store")
    for col in ("dataset", "months", "first", "last", "rows", "quarantined", "duplicates", "gaps"):
        t.add_column(col, justify="right" if col in ("months", "rows", "quarantined", "duplicates") else "left")
    for s in status:
        gaps = ", ".join(g[0] if g[0] == g[1] else f"{g[0]}..{g[1]}" for g in s["gaps"]) or "none"
        t.add_row(s["dataset"], str(len(s["months"])), s["first_month"] or "-", s["last_month"] or "-",
                  f"{s['rows']:,}", f"{s['quarantined']:,}", f"{s['duplicates']:,}", gaps)
    return t


def register(app: typer.Typer) -> None:
    """Add ingest, status, quarantine and fetch."""

    @app.command("ingest")
    def ingest_cmd(
        paths: list[Path] = typer.Argument(..., help="Files (.csv, .csv.gz), folders or police.uk .zip archives."),
        mapping: Path | None = typer.Option(None, "--mapping", help="TOML column mapping for a force extract."),
        as_json: bool = typer.Option(False, "--json", help="Print the per-file reports as JSON."),
    ) -> None:
        """Load police.uk files or a force extract; print rows read = loaded + quarantined + duplicates."""
        reports = run_ingest(paths, mapping, quiet=as_json)
        if as_json:
            print(json.dumps([r.to_dict() for r in reports], indent=2))
        if any(r.status == "error" for r in reports):
            raise typer.Exit(1)

    @app.command("status")
    def status_cmd(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
        """Per dataset: months loaded, rows, quarantined, duplicates and gaps in the monthly series."""
        st = dataset_status(get_engine())
        if as_json:
            print(json.dumps(st, indent=2))
            return
        if not st:
            console.print("The store is empty: load data with `guardian ingest PATH`.")
            return
        console.print(status_table(st))
        settings = get_settings()
        console.print(f"store: {settings.database_url}")
        from guardian.data.population import active_population

        console.print(f"population for rates: {active_population(settings.home).describe()} "
                      f"(per force: `guardian reference`)")

    @app.command("quarantine")
    def quarantine_cmd(
        dataset: str | None = typer.Option(None, "--force", "--dataset", help="Only this dataset."),
        export: Path | None = typer.Option(None, "--export", help="Write every quarantined row to this CSV."),
        limit: int = typer.Option(20, help="Rows to show on screen."),
    ) -> None:
        """Rows refused at load, with file, line, reason and the raw line."""
        engine = get_engine()
        name = resolve_dataset(engine, dataset) if dataset else None
        frame = quarantine_frame(engine, dataset=name)
        if export:
            export.write_text(quarantine_csv(frame))
            console.print(f"{len(frame):,} quarantined rows written to {export}")
        summary = frame.groupby(frame["reason"].str.replace(r"'[^']*'|\([^)]*\)", "…", regex=True)).size() \
            if len(frame) else None
        t = Table(title=f"Quarantine: {len(frame):,} rows")
        for col in ("file", "line", "reason"):
            t.add_column(col)
        for r in frame.head(limit).itertuples():
            t.add_row(Path(r.file.split("!")[-1]).name, str(r.line), r.reason)
        console.print(t)
        if summary is not None:
            console.print("by reason: " + "; ".join(f"{k} ({v})" for k, v in summary.items()))

    @app.command("fetch")
    def fetch_cmd(
        force: str = typer.Option(..., "--force", help="Force name, e.g. essex, 'avon and somerset'."),
        first: str = typer.Option(..., "--from", help="First month YYYY-MM."),
        last: str = typer.Option(..., "--to", help="Last month YYYY-MM."),
        base_url: str = typer.Option(DEFAULT_BASE_URL, "--base-url", help="Where the monthly archives live."),
        no_ingest: bool = typer.Option(False, "--no-ingest", help="Download only."),
    ) -> None:
        """Download police.uk monthly data for a force and load it."""
        dest = get_settings().home / "downloads" / "police.uk"
        files = fetch_police_uk(force, first, last, dest, base_url=base_url,
                                progress=lambda m: console.print(m))
        console.print(f"{len(files)} files in {dest}")
        if not no_ingest:
            run_ingest(files)
