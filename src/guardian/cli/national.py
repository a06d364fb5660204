"""CLI: the columnar national store (export-parquet), national analysis on Dask, tag matching."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from guardian.cli import make_console
from guardian.config import get_settings

console = make_console()

PARQUET_OPT = typer.Option(None, "--parquet", help="Parquet store folder (default: "
                           "GUARDIAN_HOME/parquet).")
SCHED_OPT = typer.Option(None, "--scheduler", help="dask.distributed scheduler address "
                         "(tcp://host:8786); default: a LocalCluster on this machine.")
WORKERS_OPT = typer.Option(2, "--workers", min=1, help="LocalCluster worker processes.")


def _root(path: Path | None) -> Path:
    return path if path is not None else get_settings().home / "parquet"


def _fmt(v, count: bool = False) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if isinstance(v, float):
        return f"{v:,.0f}" if count else f"{v:,.2f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def register(app: typer.Typer) -> None:
    """Add ``export-parquet``, ``national ...`` and ``tagmatch ...``."""
    nat = typer.Typer(help="National analysis over the Parquet store, on Dask.",
                      no_args_is_help=True)
    tag = typer.Typer(help="GPS-tag proximity hits for human review.", no_args_is_help=True)
    app.add_typer(nat, name="national")
    app.add_typer(tag, name="tagmatch")

    @app.command("export-parquet")
    def export_cmd(
        out: Path = typer.Argument(..., help="Parquet store folder (created when missing)."),
        paths: list[Path] = typer.Argument(..., help="police.uk files, folders or zips."),
        mapping: Path | None = typer.Option(None, "--mapping", help="TOML mapping of a force extract."),
        as_json: bool = typer.Option(False, "--json", help="Print the per-file reports as JSON."),
    ) -> None:
        """Validate files as `guardian ingest` does and write them as Parquet partitioned by
        force and month (a republished month replaces its partition atomically)."""
        from guardian.data.extract import ExtractMapping
        from guardian.store.parquet import export_parquet

        m = ExtractMapping.from_toml(mapping) if mapping else None
        reports = export_parquet(out, paths, mapping=m)
        if as_json:
            print(json.dumps([r.to_dict() for r in reports], indent=2))
        else:
            t = Table(title=f"Parquet store {out}: rows read = loaded + quarantined + duplicates")
            for c in ("file", "dataset", "month", "status", "read", "loaded", "quarantined",
                      "duplicates"):
                t.add_column(c)
            for r in reports:
                t.add_row(Path(r.name.split("!")[-1]).name, r.dataset, r.month, r.status,
                          *(f"{v:,}" for v in (r.rows_read, r.loaded, r.quarantined, r.duplicates)))
            console.print(t)
            for r in reports:
                if r.status in ("error", "replaced"):
                    console.print(f"{r.status}: {r.name}: {r.message}")
        if any(r.status == "error" for r in reports):
            raise typer.Exit(1)

    @nat.command("picture")
    def picture_cmd(parquet: Path | None = PARQUET_OPT, end: str | None = typer.Option(
            None, "--end", help="Month YYYY-MM (default: the latest loaded)."),
            scheduler: str | None = SCHED_OPT, workers: int = WORKERS_OPT,
            as_json: bool = typer.Option(False, "--json")) -> None:
        """Counts, rolling 12 months, rates per 1,000 and ranks for all 43 forces."""
        from guardian.operations.national import engine as ne

        with ne.dask_client(scheduler, workers=workers) as client:
            pic = ne.picture_dask(client, _root(parquet), end=end, home=get_settings().home)
        if as_json:
            print(json.dumps(pic.to_dict(), indent=2, default=str))
            return
        t = Table(title=f"National picture, {pic.end} (rates per 1,000 residents; rank 1 = highest)")
        for c in ("force", "months", "crime (month)", "per 1,000", "national rank",
                  "group rank", "12 months", "per 1,000 (12m)", "vs previous 12m"):
            t.add_column(c)
        month = pic.ranks[pic.ranks["measure"] == "crime_per_1000_month"]
        r = month[month["scope"] == "national"].set_index("force")
        g = month[month["scope"] == "group"].set_index("force")
        for row in pic.forces.itertuples():
            rk, gk = r.loc[row.force], g.loc[row.force]
            t.add_row(row.force, str(row.months_loaded), _fmt(row.crime_month, True),
                      _fmt(row.crime_per_1000_month),
                      f"{rk['rank']} of {rk['of']}" if rk["available"] else "-",
                      (f"{gk['rank']} of {gk['of']}" + (" *" if gk["group_derived"] else ""))
                      if gk["available"] else "-",
                      _fmt(row.crime_12m, True) if row.crime_12m is not None else row.crime_12m_coverage,
                      _fmt(row.crime_per_1000_12m),
                      "-" if row.crime_12m_pct_change is None else f"{row.crime_12m_pct_change:+.1f}%")
        console.print(t)
        console.print("Group rank: among the force's comparison group (HMICFRS most-similar "
                      "concept); * = a group derived from 2011 Census density, sparsity and "
                      "household features, not an official most similar group (see "
                      "docs/briefing.md).")

    @nat.command("hotspots")
    def hotspots_cmd(parquet: Path | None = PARQUET_OPT,
                     month: str | None = typer.Option(None, "--month", help="Last month (default latest)."),
                     months: int = typer.Option(1, "--months", min=1, help="Months in the period."),
                     top: int = typer.Option(5, "--top", min=1, help="Spots shown per force."),
                     scheduler: str | None = SCHED_OPT, workers: int = WORKERS_OPT,
                     as_json: bool = typer.Option(False, "--json")) -> None:
        """Harm spots with Gi* (FDR) for every force, forces in parallel."""
        from guardian.operations.national import engine as ne

        with ne.dask_client(scheduler, workers=workers) as client:
            res = ne.hotspots_dask(client, _root(parquet), last=month, months=months)
        if as_json:
            print(json.dumps({f: r.to_dict() for f, r in res.items()}, indent=2, default=str))
            return
        for f, r in sorted(res.items()):
            console.print(f"[b]{f}[/b] {r.start}..{r.end}: {r.totals.get('offences', 0):,} offences")
            for s in r.spots.head(top).itertuples():
                console.print(f"  {s.rank}. {s.why}")

    @nat.command("knox")
    def knox_cmd(parquet: Path | None = PARQUET_OPT,
                 month: str | None = typer.Option(None, "--month", help="Last month (default latest)."),
                 months: int = typer.Option(12, "--months", min=1),
                 permutations: int = typer.Option(99, "--permutations", min=1),
                 seed: int = typer.Option(20261206, "--seed"),
                 scheduler: str | None = SCHED_OPT, workers: int = WORKERS_OPT,
                 as_json: bool = typer.Option(False, "--json")) -> None:
        """Knox test of burglary near-repeats for every force, forces in parallel."""
        from guardian.operations.national import engine as ne

        with ne.dask_client(scheduler, workers=workers) as client:
            res = ne.knox_dask(client, _root(parquet), last=month, months=months,
                               permutations=permutations, seed=seed)
        if as_json:
            print(json.dumps({f: (r.to_dict() if r else None) for f, r in res.items()}, indent=2,
                             default=str))
            return
        for f, r in sorted(res.items()):
            if r is None:
                console.print(f"{f}: fewer than 2 located burglaries")
                continue
            sig = r.significant
            console.print(f"[b]{f}[/b]: {r.n_events:,} burglaries, {r.permutations} permutations "
                          f"(seed {r.seed}); {len(sig)} significant cells"
                          + "".join(f"\n  {c['space_band']} × {c['time_band']}: ratio "
                                    f"{c['knox_ratio']:.2f}, p={c['p_value']:.3f}" for c in sig))
        console.print("police.uk times are months: time bands read same month / next month / "
                      "the month after.")

    @tag.command("import")
    def tag_import(files: list[Path] = typer.Argument(..., help="Trail CSVs: subject,time,lon,lat,accuracy_m.")) -> None:
        """Validate trail files into Parquet (refused rows to the quarantine, with reasons)."""
        from guardian.operations.tagmatch import trails
        from guardian.store.db import get_engine

        engine, root = get_engine(), trails.trails_root(get_settings().home)
        for f in files:
            r = trails.import_trail(engine, root, f)
            console.print(f"{r['status']}: {f}: {r['rows_read']:,} read = {r['loaded']:,} loaded "
                          f"+ {r['quarantined']:,} quarantined")

    @tag.command("match")
    def tag_match(force: str = typer.Option(..., "--force", help="Dataset in the store, e.g. essex."),
                  first: str = typer.Option(..., "--from", help="First month YYYY-MM."),
                  last: str = typer.Option(..., "--to", help="Last month YYYY-MM."),
                  categories: str = typer.Option("Burglary,Robbery", "--categories"),
                  scheduler: str | None = SCHED_OPT, workers: int = WORKERS_OPT) -> None:
        """Match trails to the force's crimes and queue new hits for review."""
        from guardian.operations.national.engine import dask_client
        from guardian.operations.tagmatch import service, trails
        from guardian.operations.tagmatch.config import load_config
        from guardian.store.db import get_engine
        from guardian.store.events import events_frame
        from guardian.store.status import resolve_dataset

        settings = get_settings()
        engine, cfg = get_engine(), load_config(settings.home)
        ds = resolve_dataset(engine, force)
        ev = events_frame(engine, dataset=ds, categories=[c.strip() for c in categories.split(",")],
                          start_month=first, end_month=last)
        crimes = service.crimes_frame(ev)
        with dask_client(scheduler, workers=workers) as client:
            hits = service.match_partitioned(client, trails.trails_root(settings.home), crimes, cfg)
        out = service.store_hits(engine, ds, crimes, hits, cfg)
        console.print(f"{len(crimes):,} crimes, {len(hits):,} hits: {out['new']:,} new in the "
                      f"review queue, {out['kept']:,} already there. Review at /review "
                      f"(role reviewer). Windows: {json.dumps(cfg.to_dict()['windows'])}, other "
                      f"categories {json.dumps(cfg.to_dict()['default'])}.")
        if (ev["time_precision"].astype(str) == "month").any():
            console.print("note: police.uk crimes are month-precision, so each spans its whole "
                          "month; use a force extract with times for useful hits.")

    @tag.command("purge")
    def tag_purge(retention_days: int | None = typer.Option(
            None, "--retention-days", help="Default: tagmatch.toml, else 90.")) -> None:
        """Delete trail days older than the retention period (and their pending hits)."""
        from guardian.operations.tagmatch import service, trails
        from guardian.operations.tagmatch.config import load_config
        from guardian.store.db import get_engine

        settings = get_settings()
        days = retention_days or load_config(settings.home).retention_days
        r = service.purge(get_engine(), trails.trails_root(settings.home), retention_days=days)
        console.print(f"kept {days} days: deleted {len(r['days_deleted'])} trail days, "
                      f"{r['pending_hits_deleted']} pending hits")

    @tag.command("queue")
    def tag_queue() -> None:
        """Hits per review status (counts only; the hits themselves are seen, audited, at
        /review by a reviewer)."""
        from guardian.operations.tagmatch import service
        from guardian.store.db import get_engine

        c = service.counts(get_engine())
        console.print(", ".join(f"{k}: {c.get(k, 0)}" for k in ("pending", "discounted", "passed")))
