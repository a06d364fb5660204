"""CLI: the quarterly board report (``guardian board``), the analyst's texts
(``guardian board text set|history``) and a themes-file check (``guardian board check-themes``)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the board commands to ``app``."""
    board = typer.Typer(help="Quarterly board report against the strategy's themes, and the "
                        "governance pack.", invoke_without_command=True, no_args_is_help=False)
    text = typer.Typer(help="The analyst's text per section (stored, versioned).",
                       no_args_is_help=True)
    board.add_typer(text, name="text")
    app.add_typer(board, name="board")

    @board.callback()
    def board_cmd(
        ctx: typer.Context,
        force: str = typer.Option(None, "--force", help="Force as loaded, e.g. 'essex'."),
        quarter: str = typer.Option(None, "--quarter", help="Quarter, YYYYQn, e.g. 2021Q4."),
        out: Path = typer.Option(Path("board"), "--out", help="Folder for board.html, .pdf, "
                                 ".json and governance.json."),
        themes: Path | None = typer.Option(None, "--themes", help="Themes TOML (default: the "
                                           "shipped Essex themes)."),
        pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also write board.pdf."),
    ) -> None:
        """Write the quarterly board report: executive summary, performance, forecast, the
        themes, Street Safe and perception, risks and data quality, forward look, governance."""
        if ctx.invoked_subcommand is not None:
            return
        if not force or not quarter:
            raise typer.BadParameter("--force and --quarter are required (e.g. --force essex "
                                     "--quarter 2021Q4)")
        from guardian.cli import make_console
        from guardian.reports.board import board_report
        from guardian.reports.board.render import write_board
        from guardian.store.db import get_engine

        report = board_report(get_engine(), force=force, quarter=quarter, themes=themes)
        paths = write_board(report, out, pdf=pdf)
        con = make_console()
        con.print(f"[b]{report['meta']['force']}, {report['meta']['quarter_label']}[/b]")
        for s in report["sections"]["executive_summary"]["sentences"]:
            con.print(f"  {s['text']}")
        for kind, p in paths.items():
            con.print(f"{kind:>10}: {p}")

    @board.command("check-themes")
    def check_cmd(path: Path = typer.Argument(..., help="Themes TOML to validate.")) -> None:
        """Validate a themes file; errors name the theme, the key and the fix."""
        from guardian.reports.board.themes import load_themes

        cfg = load_themes(path)
        typer.echo(f"{path}: {len(cfg.themes)} themes, {len(cfg.questions)} questions, "
                   f"{sum(len(t.kpis) for t in cfg.themes)} KPIs; ok")

    def _slot(force: str, quarter: str, section: str, themes: Path | None) -> tuple[str, str]:
        from guardian.errors import InputError
        from guardian.reports.board.build import text_slots
        from guardian.reports.board.themes import load_themes
        from guardian.store.db import get_engine
        from guardian.store.status import resolve_dataset

        slots = text_slots(load_themes(themes))
        if section not in slots:
            import difflib

            close = difflib.get_close_matches(section, slots, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(f"section {section!r} is not a text slot of the report{hint}; "
                             f"slots: {', '.join(slots)}")
        return resolve_dataset(get_engine(), force), quarter

    @text.command("set")
    def text_set(
        force: str = typer.Option(..., "--force"),
        quarter: str = typer.Option(..., "--quarter"),
        section: str = typer.Option(..., "--section", help="e.g. performance, "
                                    "theme:hate_crime, question:going_down"),
        author: str = typer.Option(..., "--author"),
        body: str | None = typer.Option(None, "--text", help="The text (or --file)."),
        file: Path | None = typer.Option(None, "--file", help="Read the text from a file."),
        themes: Path | None = typer.Option(None, "--themes"),
    ) -> None:
        """Store a new version of a section's text (an empty text withdraws it)."""
        from guardian.errors import InputError
        from guardian.operations.board.service import set_text
        from guardian.store.db import get_engine

        if (body is None) == (file is None):
            raise InputError("give the text with --text \"...\" or --file PATH (one of them)")
        if file is not None:
            try:
                body = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"cannot read {file} as UTF-8 text ({exc})") from exc
        ds, quarter = _slot(force, quarter, section, themes)
        row = set_text(get_engine(), force=ds, quarter=quarter, section=section, body=body,
                       author=author)
        typer.echo(f"{row['force']} {row['quarter']} {row['section']}: version {row['version']} "
                   f"by {row['author']} at {row['at']}")

    @text.command("history")
    def text_history(
        force: str = typer.Option(..., "--force"),
        quarter: str = typer.Option(..., "--quarter"),
        section: str | None = typer.Option(None, "--section"),
    ) -> None:
        """Every version of the texts of a quarter (or of one section), oldest first."""
        from rich.table import Table

        from guardian.cli import make_console
        from guardian.operations.board.service import history
        from guardian.store.db import get_engine
        from guardian.store.status import resolve_dataset

        eng = get_engine()
        rows = history(eng, force=resolve_dataset(eng, force), quarter=quarter, section=section)
        t = Table(title=f"Board texts, {quarter}")
        for col in ("section", "version", "author", "at", "text"):
            t.add_column(col)
        for r in rows:
            body = r["body"] or "(withdrawn)"
            t.add_row(r["section"], str(r["version"]), r["author"], r["at"],
                      body if len(body) <= 80 else body[:77] + "...")
        make_console().print(t)
