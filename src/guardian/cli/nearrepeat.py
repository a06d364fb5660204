"""CLI commands: nearrepeat (the Knox test on a CSV file or on events in the store)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from guardian.cli import make_console
from guardian.errors import InputError


def _console() -> Console:
    return make_console()


def _parse_breaks(name: str, text: str) -> list[float]:
    try:
        vals = [float(v) for v in text.replace(" ", "").split(",") if v != ""]
    except ValueError as exc:
        raise InputError(
            f"{name} must be comma-separated numbers such as 0,100,200,300; got {text!r}."
        ) from exc
    return vals


def _column(frame: pd.DataFrame, spec: str, option: str, header: bool) -> pd.Series:
    """Column by name, or by 0-based position for headerless files."""
    if not header:
        try:
            pos = int(spec)
        except ValueError as exc:
            raise InputError(
                f"{option} {spec!r}: with --no-header, columns are 0-based positions (e.g. 0, 1, 2)."
            ) from exc
        if not 0 <= pos < frame.shape[1]:
            raise InputError(
                f"{option} {pos}: the file has only {frame.shape[1]} columns (0-based)."
            )
        return frame.iloc[:, pos]
    if spec in frame.columns:
        return frame[spec]
    raise InputError(
        f"{option} {spec!r} is not a column of the file; columns are {list(frame.columns)} "
        "(use --no-header and 0-based positions for a file without a header row)."
    )


def events_from_csv(
    path: Path,
    *,
    x: str,
    y: str,
    date: str,
    time: str | None = None,
    header: bool = True,
    date_format: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Read x, y (metres) and t (days since the earliest date) from a CSV file.

    Rows with a missing or unreadable x, y, date (or time) are left out and counted in the
    returned ``info`` (``dropped_rows`` and their 1-based line numbers), never silently.
    """
    if not path.is_file():
        raise InputError(f"File {str(path)!r} does not exist.")
    raw = path.read_bytes()
    frame = pd.read_csv(path, header=0 if header else None, dtype=str, keep_default_na=True)
    xs = pd.to_numeric(_column(frame, x, "--x", header), errors="coerce")
    ys = pd.to_numeric(_column(frame, y, "--y", header), errors="coerce")
    dates = pd.to_datetime(
        _column(frame, date, "--date", header), format=date_format, errors="coerce"
    )
    # Without --time a time of day inside the date column is kept; with --time the date
    # column gives the day and the time column the fraction of it.
    days = dates.dt.normalize() if time else dates
    frac = pd.Series(0.0, index=frame.index)
    if time:
        tt = _column(frame, time, "--time", header).astype("string").str.strip()
        td = pd.to_timedelta(tt.where(tt.str.count(":") != 1, tt + ":00"), errors="coerce")
        frac = td / pd.Timedelta(days=1)
    ok = xs.notna() & ys.notna() & days.notna() & frac.notna()
    ok &= np.isfinite(xs.fillna(np.nan).to_numpy(float)) & np.isfinite(
        ys.fillna(np.nan).to_numpy(float)
    )
    bad_lines = [int(i) + (2 if header else 1) for i in np.flatnonzero(~ok.to_numpy())]
    if ok.sum() < 2:
        raise InputError(
            f"{path.name}: fewer than 2 usable rows (x, y and date all readable); check the column "
            f"options (--x {x} --y {y} --date {date}) and --no-header."
        )
    first = days[ok].min().normalize()
    t = ((days[ok] - first) / pd.Timedelta(days=1)).to_numpy(float) + frac[ok].to_numpy(float)
    info = {
        "source": str(path),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "rows_read": int(len(frame)),
        "rows_used": int(ok.sum()),
        "dropped_rows": len(bad_lines),
        "dropped_lines": bad_lines[:50],
        "time_origin": first.date().isoformat(),
        "time_unit": "days",
    }
    return xs[ok].to_numpy(float), ys[ok].to_numpy(float), t, info


def events_from_store(
    force: str, *, category: str | None, start: str | None, end: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """x, y and t (days) of events in the store (``events_frame``), with provenance."""
    from guardian.data.schema import normalise_category
    from guardian.store.db import get_engine
    from guardian.store.events import events_frame
    from guardian.store.status import resolve_dataset

    cats = [normalise_category(category)] if category else None
    engine = get_engine()
    try:
        dataset = resolve_dataset(engine, force)
        ev = events_frame(
            engine, dataset=dataset, categories=cats, start_month=start, end_month=end
        )
    finally:
        engine.dispose()
    located = ev["x"].notna() & ev["y"].notna() & ev["time"].notna()
    ev_ok = ev[located]
    if len(ev_ok) < 2:
        raise InputError(
            f"{dataset}: fewer than 2 located events for category {cats or 'all'} between "
            f"{start or 'the first month'} and {end or 'the last month'}."
        )
    origin = ev_ok["time"].min()
    t = np.array((ev_ok["time"] - origin) / pd.Timedelta(days=1), dtype=float)
    prec = ev_ok["time_precision"].astype(str).to_numpy()
    # Day-precision times are local midnights stored in UTC: a daylight-saving change shifts
    # them by an hour, so round them back to whole days.
    day = prec == "day"
    t[day] = np.rint(t[day])
    warnings = []
    n_month = int((prec == "month").sum())
    if n_month:
        warnings.append(
            f"{n_month} of {len(prec)} events have month-resolution times (police.uk publishes "
            "the month only); their time differences are whole months, so day bands are not "
            "meaningful for them. Use a force extract with exact dates for near-repeat work."
        )
    info = {
        "source": f"store:{dataset}",
        "dataset": dataset,
        "category": cats,
        "from": start,
        "to": end,
        "rows_read": int(len(ev)),
        "rows_used": int(len(ev_ok)),
        "dropped_rows": int((~located).sum()),
        "time_origin": origin.isoformat(),
        "time_unit": "days",
        "crs": sorted(set(ev_ok["crs"].astype(str))),
        "warnings": warnings,
    }
    return ev_ok["x"].to_numpy(float), ev_ok["y"].to_numpy(float), t, info


def result_tables(result: Any) -> list[Table]:
    """Rich tables: observed counts, and Knox ratios with p-values (significant in bold red)."""
    obs = Table(title=f"Observed pairs ({result.n_events:,} events)")
    rat = Table(
        title=(
            f"Knox ratio (p-value), {result.permutations} permutations, seed {result.seed}; "
            f"[bold red]significant[/]: p <= {result.alpha:g} and ratio >= {result.min_ratio:g}"
        )
    )
    for t in (obs, rat):
        t.add_column("distance (m) \\ days", style="bold")
    for lab in result.time_labels:
        obs.add_column(lab, justify="right")
        rat.add_column(lab, justify="right")
    sig = result.is_significant()
    for i, slab in enumerate(result.space_labels):
        obs.add_row(slab, *[f"{int(v):,}" for v in result.observed[i]])
        cells = []
        for j in range(len(result.time_labels)):
            r = result.knox_ratio[i, j]
            txt = ("n/a" if not np.isfinite(r) else f"{r:.2f}") + f" ({result.p_value[i, j]:.3f})"
            cells.append(f"[bold red]{txt}[/]" if sig[i, j] else txt)
        rat.add_row(slab, *cells)
    return [obs, rat]


def register(app: typer.Typer) -> None:
    """Add the nearrepeat commands to the main app."""
    nr = typer.Typer(help="Near-repeat analysis (Knox test).", no_args_is_help=True)
    app.add_typer(nr, name="nearrepeat")

    @nr.command("knox")
    def knox_cmd(
        file: Path | None = typer.Argument(
            None, help="CSV of events (or use --force for the store)."
        ),
        x: str | None = typer.Option(None, "--x", help="Column of x (metres)."),
        y: str | None = typer.Option(None, "--y", help="Column of y (metres)."),
        date: str | None = typer.Option(
            None,
            "--date",
            help="Column of the event date (a time of day in it is used unless --time is given).",
        ),
        time: str | None = typer.Option(
            None, "--time", help="Column of the time of day (HH:MM[:SS])."
        ),
        date_format: str | None = typer.Option(
            None, "--date-format", help="strptime format of --date."
        ),
        no_header: bool = typer.Option(
            False, "--no-header", help="The file has no header row; columns are 0-based positions."
        ),
        force: str | None = typer.Option(
            None, "--force", help="Dataset in the store (e.g. essex, chicago_be)."
        ),
        category: str | None = typer.Option(
            None, "--category", help="police.uk category, e.g. burglary."
        ),
        start: str | None = typer.Option(None, "--from", help="First month YYYY-MM (store)."),
        end: str | None = typer.Option(None, "--to", help="Last month YYYY-MM (store)."),
        space_bands: str = typer.Option(
            ..., "--space-bands", help="Space breaks in metres, e.g. 0,100,200,300."
        ),
        time_bands: str = typer.Option(
            ..., "--time-bands", help="Time breaks in days, e.g. 0,7,14,21."
        ),
        same_location: bool = typer.Option(
            False, "--same-location", help="Add a 'distance exactly 0' band."
        ),
        closed: str = typer.Option("left", "--closed", help="left: [a, b); right: (a, b]."),
        metric: str = typer.Option("euclidean", "--metric", help="euclidean or manhattan."),
        permutations: int = typer.Option(999, "--permutations", help="Monte Carlo permutations."),
        seed: int | None = typer.Option(
            None, "--seed", help="Random seed (written into the output)."
        ),
        alpha: float = typer.Option(0.05, "--alpha", help="Significance level."),
        json_out: Path | None = typer.Option(None, "--json", help="Write the result as JSON here."),
        figure: Path | None = typer.Option(
            None, "--figure", help="Write the heat-map here (.png, .svg)."
        ),
    ) -> None:
        """Knox test: observed vs expected pairs per distance band and time band."""
        from guardian.analysis.nearrepeat import derive_cocoon_parameters, knox_test
        from guardian.reports.knox_heatmap import knox_heatmap

        console = _console()
        if (file is None) == (force is None):
            raise InputError(
                "Give a CSV FILE or --force NAME (events in the store): exactly one of the two."
            )
        if file is not None:
            store_only = [
                o for o, v in (("--category", category), ("--from", start), ("--to", end)) if v
            ]
            if store_only:
                raise InputError(
                    f"{', '.join(store_only)} apply to --force (the store) only; "
                    "filter the CSV file before running on it."
                )
            missing = [o for o, v in (("--x", x), ("--y", y), ("--date", date)) if v is None]
            if missing:
                raise InputError(
                    f"With a FILE, give {', '.join(missing)} (column names, or positions with --no-header)."
                )
            xs, ys, t, info = events_from_csv(
                file,
                x=x,
                y=y,
                date=date,
                time=time,
                header=not no_header,
                date_format=date_format,  # type: ignore[arg-type]
            )
        else:
            xs, ys, t, info = events_from_store(force, category=category, start=start, end=end)  # type: ignore[arg-type]
        if info.get("dropped_rows"):
            console.print(
                f"[yellow]left out {info['dropped_rows']} row(s) without usable x, y or date"
                + (f" (lines {info['dropped_lines'][:10]})" if info.get("dropped_lines") else "")
                + "[/]"
            )
        for w in info.get("warnings", []):
            console.print(f"[yellow]warning:[/] {w}")

        with Progress(
            TextColumn("Knox permutations"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as prog:
            task = prog.add_task("knox", total=permutations if permutations > 0 else 1)
            result = knox_test(
                xs,
                ys,
                t,
                space_bands=_parse_breaks("--space-bands", space_bands),
                time_bands=_parse_breaks("--time-bands", time_bands),
                closed=closed,
                same_location=same_location,
                metric=metric,
                permutations=permutations,
                alpha=alpha,
                random_state=seed,
                progress=lambda done, total: prog.update(task, completed=done),
            )
        for table in result_tables(result):
            console.print(table)
        for w in result.warnings:
            console.print(f"[yellow]warning:[/] {w}")
        console.print(
            f"seed {result.seed}; {result.n_close_pairs:,} pairs closer than "
            f"{result.space_bands[-1]:g} m enumerated"
        )
        cocoon = derive_cocoon_parameters(result, min_ratio=result.min_ratio, alpha=result.alpha)
        if cocoon is None:
            console.print(
                "no significant near-repeat zone at the origin (first distance band, "
                "first time band): no cocoon size suggested"
            )
        else:
            console.print(
                f"suggested cocoon: {cocoon[0]:g} m for {cocoon[1]:g} days "
                "(furthest significant bands reached from the origin; docs/near-repeat.md)"
            )
        if json_out is not None:
            doc = result.to_dict()
            doc["cocoon"] = (
                None if cocoon is None else {"radius_m": cocoon[0], "window_days": cocoon[1]}
            )
            doc["input"] = info
            json_out.write_text(json.dumps(doc, indent=2))
            console.print(f"wrote {json_out}")
        if figure is not None:
            knox_heatmap(result, figure)
            console.print(f"wrote {figure}")
