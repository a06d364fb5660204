"""CLI: streetsafe (import a force's export, summary, partner export, purge of client hashes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer

from guardian.cli import make_console


def _setup(force: str | None):
    from guardian.config import get_settings
    from guardian.operations.streetsafe.area import build_area
    from guardian.operations.streetsafe.config import load_config
    from guardian.store.db import get_engine

    settings = get_settings()
    cfg = load_config(settings.home)
    engine = get_engine(settings.database_url)
    return engine, build_area(engine, force or cfg.dataset, cfg.area_cell_m), cfg, settings


def register(app: typer.Typer) -> None:
    """Add the streetsafe commands to ``app``."""
    ss = typer.Typer(help="Street Safe: the public 'I feel unsafe here' reports.",
                     no_args_is_help=True)
    app.add_typer(ss, name="streetsafe")

    @ss.command("import")
    def import_cmd(file: Path = typer.Argument(..., help="CSV: lat, lon, reasons, timestamp"),
                   force: str = typer.Option(None, help="dataset name (default: the loaded "
                                                        "force)"),
                   as_json: bool = typer.Option(False, "--json")) -> None:
        """Import a force's existing Street Safe export (validated; bad rows quarantined;
        re-running stores nothing twice)."""
        from guardian.operations.streetsafe.importer import import_file

        engine, area, cfg, _ = _setup(force)
        r = import_file(engine, area, cfg, file)
        if as_json:
            typer.echo(json.dumps(r, indent=2))
            return
        c = make_console()
        c.print(f"{file.name}: {r['rows']} rows, {r['loaded']} stored, {r['already']} already "
                f"stored, {r['duplicates']} duplicates, {r['quarantined']} quarantined "
                f"({area.dataset})")
        for q in r["quarantine"]:
            c.print(f"  line {q['line']}: {q['reason']}")

    @ss.command("summary")
    def summary_cmd(force: str = typer.Option(None), as_json: bool = typer.Option(False,
                                                                                 "--json")):
        """Clusters, trend and reasons by district (aggregated with the minimum count)."""
        from guardian.operations.streetsafe import service

        engine, area, cfg, _ = _setup(force)
        s = service.summary(engine, area, cfg)
        if as_json:
            typer.echo(json.dumps(s, indent=2, default=str))
            return
        c = make_console()
        c.print(f"{area.dataset}: clusters of {cfg.min_count}+ reports: {len(s['clusters'])}")
        for cl in s["clusters"][:20]:
            top = ", ".join(list(cl["reasons"])[:3])
            c.print(f"  {cl['key']} {cl['district']}: {cl['reports']} reports ({top})")
        c.print("refused/folded: " + (", ".join(f"{k} {v}" for k, v in s["refusals"].items())
                                      or "none"))

    @ss.command("export")
    def export_cmd(out: Path = typer.Option(..., "--out", help="CSV file to write"),
                   force: str = typer.Option(None)):
        """Write the partner export (cells of the minimum count or more, nothing else)."""
        from guardian.operations.streetsafe import service

        engine, area, cfg, _ = _setup(force)
        out.write_text(service.export_csv(engine, area, cfg))
        make_console().print(f"wrote {out}")

    @ss.command("purge")
    def purge_cmd():
        """Delete client hashes and day keys past their window (the page also does this)."""
        from guardian.operations.streetsafe.intake import Intake

        engine, area, cfg, settings = _setup(None)
        n = Intake(engine, settings.home, cfg, b"").purge(datetime.now(UTC))
        make_console().print(f"deleted {n} client hashes")
