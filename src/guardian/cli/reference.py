"""CLI: the reference geography (forces, authorities, districts, population and its vintage)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from guardian.cli import make_console
from guardian.config import get_settings
from guardian.data import geography, population
from guardian.errors import InputError

console = make_console()


def reference_rows(home: Path | None, force: str | None = None) -> list[dict]:
    """Per force (or, with ``force``, per district of it): LSOAs, authorities, districts,
    the 2011 Census population and the population rates use, with its vintage."""
    active = population.active_population(home)
    census = population.census_2011()
    ref = geography.lsoa_table()
    if force is not None:
        short = geography.force_short_name(force)
        if short not in geography.forces():
            raise InputError(f"unknown force {force!r}; expected one of {list(geography.forces())}")
        grouping = geography.district_grouping(short, home)
        sub = ref[ref["force"] == short].assign(district=lambda d: d["lad_name"].map(grouping))
        used = active.district_population(short, home) if active.user_supplied else None
        vintage = active.describe() if used is not None else census.vintage
        used_by = {} if used is None else dict(zip(used["district"], used["population"],
                                                    strict=True))
        rows = []
        for district, d in sub.groupby("district"):
            rows.append({
                "district": district, "authorities": sorted(d["lad_name"].unique()),
                "lsoas": len(d), "census_2011": int(d["population"].sum()),
                "population": int(used_by.get(district, d["population"].sum())),
                "vintage": vintage,
            })
        return rows
    fp = population.force_populations(geography.forces(), active)
    districts = geography.check_district_config(home)
    rows = []
    for short, d in ref.groupby("force"):
        rows.append({
            "force": short, "lsoas": len(d), "authorities": d["lad_code"].nunique(),
            "districts": districts[short], "census_2011": int(d["population"].sum()),
            "population": fp.populations[short], "vintage": fp.vintages[short],
        })
    return rows


def register(app: typer.Typer) -> None:
    """Add ``reference`` (show) and ``reference population import|clear``."""
    ref_app = typer.Typer(help="Reference geography: forces, districts, population vintage.",
                          no_args_is_help=False, invoke_without_command=True)
    pop_app = typer.Typer(help="The population figures rates per 1,000 use.",
                          no_args_is_help=True)
    ref_app.add_typer(pop_app, name="population")
    app.add_typer(ref_app, name="reference")

    @ref_app.callback()
    def show(
        ctx: typer.Context,
        force: str = typer.Option(None, "--force", help="One force, per policing district."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Population and LSOA count per force (or per district of one force), with the
        vintage of the population rates use. Also checks the district configuration."""
        if ctx.invoked_subcommand is not None:
            return
        home = get_settings().home
        rows = reference_rows(home, force)
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        key = "district" if force else "force"
        t = Table(title=f"Reference geography{' of ' + geography.force_short_name(force) if force else ''}")
        cols = [key, "lsoas", "authorities"] + ([] if force else ["districts"]) + [
            "census_2011", "population", "vintage"]
        for c in cols:
            t.add_column(c, justify="left" if c in (key, "vintage", "authorities") and force
                         or c in (key, "vintage") else "right", overflow="fold")
        for r in rows:
            cells = []
            for c in cols:
                v = r[c]
                if isinstance(v, list):
                    v = ", ".join(v)
                elif isinstance(v, int):
                    v = f"{v:,}"
                cells.append("" if v is None else str(v))
            t.add_row(*cells)
        tot = [sum(r[c] or 0 for r in rows) for c in ("lsoas", "census_2011", "population")]
        console.print(t)
        console.print(f"{len(rows)} {'districts' if force else 'forces'}, {tot[0]:,} LSOAs, "
                      f"{tot[1]:,} usual residents (2011 Census); rates use {tot[2]:,}")

    @pop_app.command("import")
    def import_cmd(
        path: Path = typer.Argument(..., help="CSV of persons per LSOA or local authority."),
        mapping: Path = typer.Option(None, "--mapping", help="TOML with a [population] table."),
        code_column: str = typer.Option(None, "--code-column"),
        population_column: str = typer.Option(None, "--population-column"),
        vintage: str = typer.Option(None, "--vintage", help="e.g. 'ONS mid-2020 estimates'."),
        level: str = typer.Option(None, "--level", help="lsoa or lad (default: from the codes)."),
    ) -> None:
        """Validate a population table and make it the one rates use; bad rows quarantined."""
        over = {"code_column": code_column, "population_column": population_column,
                "vintage": vintage, "level": level}
        m = (population.PopulationMapping.from_toml(mapping, **over) if mapping
             else population.PopulationMapping.build(**over))
        table, bad = population.read_population(path, m)
        home = get_settings().home
        out = population.save_population(home, table, bad)
        covered = [f for f in geography.forces() if table.covers(f)]
        console.print(f"population table {table.describe()}: {len(table.figures):,} {table.level} "
                      f"areas, {len(bad):,} quarantined -> {out}")
        if bad:
            console.print(f"[yellow]quarantined:[/] {out.parent / 'quarantine.csv'} "
                          f"(first: line {bad[0].line}: {bad[0].reason})")
        console.print(f"covers {len(covered)} of {len(geography.forces())} forces"
                      + (f": {', '.join(covered)}" if covered else "")
                      + "; the others keep the 2011 Census")

    @pop_app.command("clear")
    def clear_cmd() -> None:
        """Go back to the 2011 Census for every force."""
        was = population.clear_population(get_settings().home)
        console.print("population: ONS 2011 Census usual residents"
                      + (" (supplied table removed)" if was else " (already in use)"))
