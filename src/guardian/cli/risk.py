"""CLI commands: risk (back-tests of prospective risk maps) and harm spots."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from guardian.errors import InputError


def _read_police_uk(directory: Path):
    """All police.uk street files in a folder as one canonical frame (EPSG:27700)."""
    import pandas as pd

    from guardian.data.policeuk import read_street

    if not directory.is_dir():
        raise InputError(f"--police-uk {directory} is not a folder of police.uk street files")
    files = sorted(
        p for p in directory.iterdir() if p.name.endswith(("-street.csv", "-street.csv.gz"))
    )
    if not files:
        raise InputError(f"no '*-street.csv[.gz]' files in {directory}")
    return pd.concat([read_street(p) for p in files], ignore_index=True), files


def _load_events(*, data, police_uk, mapping, category, since, window, x, y, lon, lat, date,
                 date_format, crs, to_crs, tz, note_categories: bool):
    """The events a risk command works on: police.uk files, a mapped extract, or a CSV with
    named columns; optionally only ``category`` and events from ``since``.

    Returns
    -------
    (DataFrame, str, str)
        Events, a note saying where they came from, and the window (police.uk months make the
        default 7-day window a month).
    """
    import pandas as pd

    from guardian.analysis.hotspots import DEFAULT_TARGET_CATEGORIES

    if (data is None) == (police_uk is None):
        raise InputError("give exactly one of --data FILE or --police-uk DIR")
    if police_uk is not None:
        events, files = _read_police_uk(police_uk)
        cats = list(category) if category else list(DEFAULT_TARGET_CATEGORIES)
        events = events[events["category"].isin(cats)]
        if window == "7":
            window = "month"
        source_note = f"{len(files)} police.uk files in {police_uk}"
        if note_categories:
            source_note += f"; categories {cats}"
    elif mapping is not None:
        from guardian.data.extract import read_extract

        events = read_extract(data, mapping)
        if category:
            events = events[events["category"].isin(list(category))]
        source_note = f"{data} via {mapping}"
    else:
        events = _read_columns(data, x=x, y=y, lon=lon, lat=lat, date=date,
                               date_format=date_format, crs=crs, to_crs=to_crs, tz=tz)
        source_note = str(data)
        if events.attrs.get("skipped"):
            source_note += f" ({events.attrs['skipped']})"
    if since is not None:
        tz_ev = events["time"].dt.tz
        since_ts = pd.Timestamp(since)
        since_ts = since_ts.tz_localize(tz_ev) if since_ts.tzinfo is None else since_ts
        events = events[events["time"] >= since_ts]
        source_note += f"; events from {since}"
    return events, source_note, window


def _read_columns(path: Path, *, x, y, lon, lat, date, date_format, crs, to_crs, tz):
    """A CSV with named coordinate and date columns as a minimal event frame."""
    import numpy as np
    import pandas as pd

    if not path.is_file():
        raise InputError(f"--data {path} does not exist")
    if date is None:
        raise InputError("--date COL is required with --x/--y or --lon/--lat (or use --mapping)")
    df = pd.read_csv(path, dtype={date: str})  # dates as text: "2016" is a year, not an epoch
    need = [c for c in (x, y, lon, lat, date) if c]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputError(f"{path}: no columns {missing}; it has {list(df.columns)}")
    times = pd.to_datetime(df[date], format=date_format, errors="coerce")
    unreadable = times.isna() & df[date].notna()
    if unreadable.any():
        raise InputError(
            f"{path}: {int(unreadable.sum())} values in column {date!r} are not dates "
            f"(first: {df.loc[unreadable, date].iloc[0]!r}); give --date-format"
        )
    skipped = int(times.isna().sum())
    df, times = df[times.notna()], times[times.notna()]
    precision = "day" if (times.dt.normalize() == times).all() else "minute"
    times = times.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    if lon and lat:
        if not to_crs:
            raise InputError(
                "--lon/--lat need --to-crs (a projected CRS in metres, e.g. EPSG:26971)"
            )
        from pyproj import Transformer

        tr = Transformer.from_crs("EPSG:4326", to_crs, always_xy=True)
        xs, ys = tr.transform(df[lon].to_numpy(float), df[lat].to_numpy(float))
        out_crs = to_crs
    elif x and y:
        xs, ys = df[x].to_numpy(float), df[y].to_numpy(float)
        out_crs = crs or ""
    else:
        raise InputError("give --x COL --y COL (projected metres) or --lon COL --lat COL --to-crs")
    frame = pd.DataFrame(
        {
            "x": np.asarray(xs, float),
            "y": np.asarray(ys, float),
            "time": times.to_numpy(),
            "time_precision": precision,
            "crs": out_crs,
        }
    )
    frame.attrs["skipped"] = f"{skipped} rows without a date skipped" if skipped else ""
    return frame


def _read_polygon(path: Path | None):
    """A GeoJSON polygon (projected metres) for ``--area polygon``, or None."""
    if path is None:
        return None
    import json as _json

    import shapely
    from shapely.geometry import shape

    if not path.is_file():
        raise InputError(f"--polygon {path} does not exist")
    doc = _json.loads(path.read_text())
    if doc.get("type") == "FeatureCollection":
        geoms = [shape(f["geometry"]) for f in doc["features"]]
        return shapely.union_all(geoms)
    if doc.get("type") == "Feature":
        return shape(doc["geometry"])
    return shape(doc)


def _grid_for(events, grid_origin: str, cell: float):
    """None (Guardian's snapped grid) or open_cp's bounding-box grid with origin at min x/y."""
    if grid_origin == "snapped":
        return None
    if grid_origin != "min":
        raise InputError(f"--grid-origin was {grid_origin!r} but is expected to be snapped or min")
    from guardian.analysis.risk.opencp import opencp_grid

    crs = (
        str(events["crs"].dropna().iloc[0])
        if "crs" in events and events["crs"].notna().any()
        else ""
    )
    return opencp_grid(events["x"], events["y"], cell_m=cell, crs=crs)


def _parse_methods(method: str) -> list[str]:
    from guardian.analysis.risk import METHODS

    if method == "all":
        return list(METHODS)
    names = [m.strip() for m in method.split(",") if m.strip()]
    bad = [m for m in names if m not in METHODS]
    if bad:
        raise InputError(f"--method {bad} unknown; expected 'all' or some of {sorted(METHODS)}")
    return names


def register(app: typer.Typer) -> None:
    """Add the risk commands to the main app."""
    risk_app = typer.Typer(
        help="Prospective risk maps and their back-tested accuracy.", no_args_is_help=True
    )
    app.add_typer(risk_app, name="risk")

    @risk_app.command("backtest")
    def backtest(
        method: str = typer.Option(
            "all", help="all, or a comma list of naive,kde,prospective,sepp"
        ),
        data: Path | None = typer.Option(None, help="CSV of events (force extract)"),
        mapping: Path | None = typer.Option(None, help="TOML column mapping for --data"),
        x: str | None = typer.Option(None, help="x column (projected metres)"),
        y: str | None = typer.Option(None, help="y column (projected metres)"),
        lon: str | None = typer.Option(None, help="longitude column (WGS84)"),
        lat: str | None = typer.Option(None, help="latitude column (WGS84)"),
        date: str | None = typer.Option(None, help="date or date-time column"),
        date_format: str | None = typer.Option(None, help="strptime format of --date"),
        crs: str | None = typer.Option(None, help="CRS of --x/--y, e.g. EPSG:26971"),
        to_crs: str | None = typer.Option(None, help="projected CRS for --lon/--lat"),
        tz: str = typer.Option("UTC", help="timezone of the dates"),
        police_uk: Path | None = typer.Option(
            None, "--police-uk", help="folder of police.uk street files"
        ),
        category: list[str] | None = typer.Option(
            None, help="police.uk categories (repeatable); default: victim/public-reported crime"
        ),
        cell: float = typer.Option(150.0, help="cell size in metres"),
        window: str = typer.Option(
            "7", help="window in days, or 'month' (default for --police-uk)"
        ),
        start: str = typer.Option(..., help="first cut-off date"),
        since: str | None = typer.Option(None, help="ignore events before this date"),
        end: str = typer.Option(..., help="end of the last window"),
        domain_buffer: float = typer.Option(300.0, help="study area: metres around any event"),
        area: str = typer.Option(
            "footprint",
            help="study area (coverage denominator): footprint | bbox | cells-with-events | polygon",
        ),
        polygon: Path | None = typer.Option(
            None, help="GeoJSON polygon in the data's projected CRS, for --area polygon"
        ),
        grid_origin: str = typer.Option(
            "snapped", help="snapped (multiple of the cell) or min (open_cp: min x/y, bbox)"
        ),
        tie_rule: str = typer.Option("fractional", help="fractional | opencp (row-major order)"),
        naive_lookback: list[float] | None = typer.Option(
            None,
            help="also score 'last N days' counts as a stronger naive baseline (repeatable)",
        ),
        json_out: Path | None = typer.Option(None, "--json", help="save the comparison as JSON"),
        map_out: Path | None = typer.Option(
            None, "--map", help="also draw the best method's next-window map (PNG) with its figures"
        ),
    ) -> None:
        """Rolling-origin back-test: hit rate and PAI at 1/2/5/10% area for each method."""
        import time as _time

        from guardian.analysis.risk import make_estimator, rolling_origin_backtest

        console = Console(width=None if sys.stdout.isatty() else 140)
        tic = _time.perf_counter()
        events, source_note, window = _load_events(
            data=data, police_uk=police_uk, mapping=mapping, category=category, since=since,
            window=window, x=x, y=y, lon=lon, lat=lat, date=date, date_format=date_format,
            crs=crs, to_crs=to_crs, tz=tz, note_categories=True)
        load_s = _time.perf_counter() - tic
        names = _parse_methods(method)
        precision = (
            str(events["time_precision"].iloc[0])
            if "time_precision" in events.columns and len(events)
            else "minute"
        )
        if "sepp" in names and (events.get("time_precision") == "month").any():
            names.remove("sepp")
            console.print(
                "[yellow]sepp skipped:[/] it needs day- or minute-resolution times; "
                "these are month-precision police.uk data"
            )
        win: float | str = "month" if window == "month" else float(window)
        methods = {n: make_estimator(n, cell_m=cell) for n in names}
        for days in naive_lookback or []:
            name = f"naive-{days:g}d"
            methods[name] = make_estimator("naive", cell_m=cell, lookback_days=days)
            names.append(name)
        console.print(
            f"{len(events):,} events ({precision} precision) from {source_note} "
            f"read in {load_s:.1f} s"
        )
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} windows"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress:
            tasks = {}

            def report(name, done, total):
                if name not in tasks:
                    tasks[name] = progress.add_task(name, total=total)
                progress.update(tasks[name], completed=done)

            res = rolling_origin_backtest(
                events,
                methods=methods,
                start=start,
                end=end,
                window=win,
                cell_m=cell,
                grid=_grid_for(events, grid_origin, cell),
                domain_buffer_m=domain_buffer,
                area=area,
                polygon=_read_polygon(polygon),
                tie_rule=tie_rule,
                progress=report,
            )
        s = res.summary
        covs = sorted(s["coverage"].unique())
        wlabel = "monthly" if win == "month" else f"{win:g}-day"
        table = Table(
            title=(
                f"Back-test: {int(s['windows'].iloc[0])} {wlabel} windows, "
                f"{cell:g} m cells, study area {area} ({res.n_domain_cells:,} cells); "
                "mean over windows"
            )
        )
        table.add_column("method")
        for c in covs:
            table.add_column(f"hit {100 * c:g}%", justify="right")
            table.add_column(f"PAI {100 * c:g}%", justify="right")
        table.add_column("fit+predict s", justify="right")
        for name in names:
            r = s[s["method"] == name].set_index("coverage")
            cells = []
            for c in covs:
                cells += [f"{100 * r.loc[c, 'mean_hit_rate']:.1f}%", f"{r.loc[c, 'mean_pai']:.2f}"]
            table.add_row(name, *cells, f"{res.timings[name]:.1f}")
        r = s[s["method"] == names[0]].set_index("coverage")
        oracle = []
        for c in covs:
            oracle += [
                f"{100 * r.loc[c, 'mean_oracle_hit_rate']:.1f}%",
                f"{r.loc[c, 'mean_oracle_pai']:.2f}",
            ]
        table.add_row("[dim]oracle (actual counts)[/]", *oracle, "")
        console.print(table)
        best = res.best_method(0.05) if any(abs(c - 0.05) < 1e-12 for c in covs) else names[0]
        console.print(
            f"Best at 5% area: [bold]{best}[/]. Ties: {res.params['tie_rule_text']}. "
            f"Study area: {res.params['domain']}."
        )
        payload = res.to_dict()
        payload["source"] = source_note
        payload["command"] = "guardian risk backtest"
        payload["best_method_5pct"] = best
        if map_out is not None:
            payload["map"] = str(map_out)
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(payload, indent=1, default=str))
            console.print(f"saved {json_out}")
        if map_out is not None:
            from dataclasses import replace

            from guardian.analysis.risk.backtest import window_step
            from guardian.reports.maps import render_risk_map

            last_end = res.periods["end"].max()
            model = methods[best].clone(grid=res.grid).fit(events, last_end)
            # the map carries the name it was back-tested under (e.g. "naive-365d")
            surface = replace(model.predict(last_end, last_end + window_step(win)), method=best)
            render_risk_map(surface, res.summary_for(best), map_out, mask=res.domain)
            console.print(
                f"map of {best} for {surface.start.date()}..{surface.end.date()} "
                f"with its back-test figures: {map_out}"
            )

    @risk_app.command("compare-opencp")
    def compare_opencp(
        data: Path | None = typer.Option(
            None, help="CSV of events with x/y (projected metres), date"
        ),
        mapping: Path | None = typer.Option(
            None, help="TOML column mapping for --data (e.g. mappings/*.toml)"
        ),
        police_uk: Path | None = typer.Option(
            None, "--police-uk", help="folder of police.uk street files (monthly windows)"
        ),
        category: list[str] | None = typer.Option(
            None, help="police.uk categories (repeatable); default: victim/public-reported crime"
        ),
        since: str | None = typer.Option(None, help="ignore events before this date"),
        window: str = typer.Option(
            "7", help="window in days, or 'month' (default for --police-uk)"
        ),
        min_windows: int = typer.Option(
            4, help="validation windows (with events) needed before the first test window"
        ),
        x: str = typer.Option("X", help="x column (projected metres)"),
        y: str = typer.Option("Y", help="y column (projected metres)"),
        date: str = typer.Option("date", help="date column"),
        crs: str = typer.Option("EPSG:26971", help="CRS of --x/--y"),
        tz: str = typer.Option("America/Chicago", help="timezone of the dates"),
        start: str = typer.Option("2016-03-01", help="first test cut-off"),
        weeks: int = typer.Option(40, help="test windows (weeks, or months with --window month)"),
        validation_start: str = typer.Option(
            "2016-01-05", help="first cut-off of the weeks used only for choosing"
        ),
        cell: float = typer.Option(150.0, help="cell size in metres"),
        area: str = typer.Option("bbox", help="footprint | bbox | cells-with-events | polygon"),
        polygon: Path | None = typer.Option(None, help="GeoJSON polygon for --area polygon"),
        tie_rule: str = typer.Option("fractional", help="fractional | opencp"),
        json_out: Path | None = typer.Option(None, "--json", help="save the comparison as JSON"),
    ) -> None:
        """open_cp's prospective hot spot vs Guardian's rolling-origin-tuned best, same weeks."""
        import numpy as np

        from guardian.analysis.risk.compare import OPENCP, opencp_comparison

        console = Console(width=None if sys.stdout.isatty() else 160)
        events, source_note, window = _load_events(
            data=data, police_uk=police_uk, mapping=mapping, category=category, since=since,
            window=window, x=x, y=y, lon=None, lat=None, date=date, date_format=None,
            crs=crs, to_crs=None, tz=tz, note_categories=False)
        win: float | str = "month" if window == "month" else float(window)
        wlabel = "monthly" if win == "month" else ("weekly" if win == 7 else f"{win:g}-day")
        res = opencp_comparison(
            events,
            start=start,
            n_weeks=weeks,
            validation_start=validation_start,
            cell_m=cell,
            area=area,
            tie_rule=tie_rule,
            polygon=_read_polygon(polygon),
            window=win,
            min_windows=min_windows,
        )
        p = res.params
        s = res.summary
        console.print(
            f"{len(events):,} events from {source_note}"
            + f"; grid origin ({p['grid']['x0']:.1f}, {p['grid']['y0']:.1f}), "
            f"{p['grid']['nx']} x {p['grid']['ny']} cells of {cell:g} m"
        )
        console.print(f"Study area: {p['domain']}. Ties: {p['tie_rule_text']}.")
        covs = sorted(s["coverage"].unique())
        t = Table(
            title=(
                f"{p['test_weeks']} {wlabel} windows {p['first_test_cutoff'][:10]} .. "
                f"{p['last_test_cutoff'][:10]}, area {area} ({p['n_domain_cells']:,} cells): "
                "mean over windows [95% interval]"
            )
        )
        t.add_column("method")
        for c in covs:
            t.add_column(f"hit {100 * c:g}%", justify="right")
            t.add_column(f"PAI {100 * c:g}%", justify="right")
        at5 = s[np.isclose(s["coverage"], 0.05)].sort_values("mean_hit_rate", ascending=False)
        order = [OPENCP, "selected"] + [m for m in at5["method"] if m not in (OPENCP, "selected")]
        for m in order:
            r = s[s["method"] == m].set_index("coverage")
            cells = []
            for c in covs:
                cells += [
                    f"{100 * r.loc[c, 'mean_hit_rate']:.1f}% [{100 * r.loc[c, 'hit_rate_ci_low']:.1f}"
                    f"-{100 * r.loc[c, 'hit_rate_ci_high']:.1f}]",
                    f"{r.loc[c, 'mean_pai']:.2f} [{r.loc[c, 'pai_ci_low']:.2f}"
                    f"-{r.loc[c, 'pai_ci_high']:.2f}]",
                ]
            t.add_row(m, *cells)
        r = s[s["method"] == OPENCP].set_index("coverage")
        oracle = []
        for c in covs:
            oracle += [
                f"{100 * r.loc[c, 'mean_oracle_hit_rate']:.1f}%",
                f"{r.loc[c, 'mean_oracle_pai']:.2f}",
            ]
        t.add_row("[dim]oracle (actual counts)[/]", *oracle)
        console.print(t)
        v = res.versus
        chosen = res.choices["chosen"].value_counts().to_dict()
        console.print(
            f"Selected per week from {len(chosen)} candidate(s) used: {chosen}. "
            f"At 5%: selected {100 * v['mean_a']:.1f}% vs open_cp {100 * v['mean_b']:.1f}% "
            f"hit rate; paired difference {100 * v['diff']:+.1f} points "
            f"[{100 * v['diff_ci'][0]:+.1f}, {100 * v['diff_ci'][1]:+.1f}], relative "
            f"{100 * v['relative']:+.1f}% [{100 * v['relative_ci'][0]:+.1f}%, "
            f"{100 * v['relative_ci'][1]:+.1f}%] over {v['windows']} windows."
        )
        if json_out is not None:
            payload = {
                "command": "guardian risk compare-opencp",
                "source": source_note,
                "summary": s.to_dict(orient="records"),
                "choices": res.choices.assign(cutoff=res.choices["cutoff"].astype(str)).to_dict(
                    orient="records"
                ),
                "versus": v,
                "params": p,
            }
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(payload, indent=1, default=str))
            console.print(f"saved {json_out}")

    @risk_app.command("spots")
    def spots(
        police_uk: Path = typer.Option(..., "--police-uk", help="folder of police.uk street files"),
        month: str = typer.Option(..., help="month YYYY-MM"),
        category: list[str] | None = typer.Option(None, help="categories (repeatable)"),
        include_police_generated: bool = typer.Option(False, help="allow drugs / weapons"),
        top: int = typer.Option(20, help="number of cells"),
        cell: float = typer.Option(150.0, help="cell size in metres"),
        grow: bool = typer.Option(False, help="merge touching cells into one spot"),
        harm: str | None = typer.Option(
            None, help="harm table version (e.g. harm_index_v1) or CSV; default: counts"
        ),
        json_out: Path | None = typer.Option(None, "--json", help="save as JSON"),
    ) -> None:
        """Harm spots of one month with Gi*, FDR, shares and reasons."""
        from guardian.analysis.hotspots import StudyArea, harm_spots, month_periods

        console = Console(width=None if sys.stdout.isatty() else 160)
        events, _ = _read_police_uk(police_uk)
        area = StudyArea.from_events(events, cell_m=cell)
        ((s, e),) = month_periods([month])
        weights = None
        if harm is not None:
            from guardian.data.harm_table import load_harm_weights

            weights = load_harm_weights(harm).weights
        res = harm_spots(
            events,
            weights=weights,
            area=area,
            start=s,
            end=e,
            categories=category or None,
            include_police_generated=include_police_generated,
            top_n=top,
            grow=grow,
        )
        t = Table(title=f"Harm spots {month} ({res.precision}; {cell:g} m cells)")
        for c in ("rank", "district", "streets", "why"):
            t.add_column(c)
        for r in res.spots.itertuples():
            t.add_row(str(r.rank), r.district, r.streets[:40], r.why)
        console.print(t)
        console.print(res.concentration.sentence())
        for n in res.notes:
            console.print(f"- {n}")
        if json_out is not None:
            json_out.write_text(json.dumps(res.to_dict(), indent=1, default=str))
