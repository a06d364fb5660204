"""CLI commands: volunteers (registry, availability) and mobilise (the monthly plan)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from guardian.cli import make_console


def _console() -> Console:
    return make_console(min_width=150)


def _engine():
    from guardian.store.db import get_engine

    return get_engine()


def _print_import(console: Console, r) -> None:
    console.print(f"{r.file}: {r.read} rows read, {r.added} added, {r.updated} updated, "
                  f"{r.unchanged} unchanged, {r.quarantined} quarantined")
    for reason in r.reasons[:20]:
        console.print(f"  [yellow]quarantined[/] {escape(reason)}")
    if len(r.reasons) > 20:
        console.print(f"  ... {len(r.reasons) - 20} more: guardian volunteers quarantine")


def _grid_table(plan: dict) -> Table:
    t = Table(title=f"{plan['ref']}: {plan['month']} ({plan['dataset']}), people per deployment "
                    "as 08-16/16-24/24-08; '.' = none")
    t.add_column("day", no_wrap=True)
    for dist in plan["districts"]:
        t.add_column(dist, justify="center", no_wrap=True)
    cells = {(g["district"], g["day"], g["band"]): g["people"] for g in plan["grid"]}
    for d in plan["days"]:
        t.add_row(date.fromisoformat(d).strftime("%a %d"), *[
            "/".join(str(cells.get((dist, d, b), 0) or ".") for b in range(3))
            for dist in plan["districts"]])
    share = {x["district"]: x["share"] for x in plan["by_district"]}
    t.add_row("covered", *[f"{100 * share[d]:.0f}%" for d in plan["districts"]])
    return t


def _print_plan(console: Console, plan: dict, *, gaps: int = 10) -> None:
    if plan["status"] == "infeasible":
        console.print(f"[red]{plan['ref']} is infeasible[/]: {escape(plan['explanation'])}")
        return
    console.print(_grid_table(plan))
    gap = "" if plan["gap"] is None else f", optimality gap {100 * plan['gap']:.2f}%"
    console.print(f"{plan['method']} {plan['status']}{gap} in {plan['seconds']:.1f} s: "
                  f"{plan['summary']['assignments']} shifts, harm-weighted coverage "
                  f"{plan['coverage']:,.0f} of {plan['demand']:,.0f} "
                  f"({100 * plan['coverage_share']:.1f}%)")
    for b in plan["basis"]:
        console.print(f"- {escape(b)}")
    if plan["gaps"] and gaps:
        t = Table(title="largest gaps (demand left uncovered)")
        for c in ("district", "day", "band", "demand", "people", "uncovered"):
            t.add_column(c)
        for g in plan["gaps"][:gaps]:
            t.add_row(g["district"], g["day"], g["band_label"], f"{g['demand']:.1f}",
                      str(g["people"]), f"{g['uncovered']:.1f}")
        console.print(t)


def register(app: typer.Typer) -> None:
    """Add the ``volunteers`` and ``mobilise`` commands to ``app``."""
    vol = typer.Typer(help="The volunteer registry and availability.", no_args_is_help=True)
    mob = typer.Typer(help="The monthly mobilisation plan (CP-SAT).", no_args_is_help=True)
    app.add_typer(vol, name="volunteers")
    app.add_typer(mob, name="mobilise")

    @vol.command("import")
    def import_cmd(
        path: Path = typer.Argument(..., help="the rostering tool's CSV export"),
        mapping: Path = typer.Option(..., help="TOML mapping (see docs/volunteers.md)"),
    ) -> None:
        """Import (add or update) volunteers; bad rows are quarantined with a reason."""
        from guardian.operations.volunteers.registry import import_registry

        _print_import(_console(), import_registry(_engine(), path=path, mapping=mapping))

    @vol.command("list")
    def list_cmd(
        district: str | None = typer.Option(None, help="policing district"),
        kind: str | None = typer.Option(None, "--type", help="special, active-citizen, csas, "
                                                              "psv or cadet"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """List the registry (cadets by age band only)."""
        from guardian.operations.volunteers.registry import list_volunteers

        rows = list_volunteers(_engine(), district=district, kind=kind)
        if as_json:
            typer.echo(json.dumps(rows, indent=1))
            return
        t = Table(title=f"volunteers ({len(rows)})")
        for c in ("ref", "name", "type", "organisation", "district", "skills", "accredited to",
                  "age band", "login"):
            t.add_column(c)
        for r in rows:
            acc = r["accredited_until"] or ""
            if r["accreditation_valid"] is False:
                acc += " (expired)"
            t.add_row(r["ref"], r["name"], r["type"], r["organisation"], r["district"],
                      ", ".join(r["skills"]), acc, r["age_band"] or "", r["username"] or "")
        _console().print(t)

    @vol.command("link")
    def link_cmd(ref: str = typer.Argument(..., help="V-<number>"),
                 username: str = typer.Argument(..., help="sign-in account ('-' unlinks)")) -> None:
        """Link a volunteer record to a sign-in account (they then see their shifts)."""
        from guardian.operations.volunteers.registry import link_user

        r = link_user(_engine(), ref=ref, username=None if username == "-" else username)
        _console().print(f"{r['ref']} linked to {r['username'] or 'no account'}")

    @vol.command("quarantine")
    def quarantine_cmd() -> None:
        """Rows refused at import, with the reason."""
        from guardian.operations.volunteers.registry import quarantined

        t = Table(title="volunteer import quarantine")
        for c in ("what", "file", "line", "reason"):
            t.add_column(c)
        for q in quarantined(_engine()):
            t.add_row(q["what"], q["file"], str(q["line"]), escape(q["reason"]))
        _console().print(t)

    @vol.command("availability")
    def availability_cmd(
        path: Path | None = typer.Argument(None, help="availability CSV to import"),
        mapping: Path | None = typer.Option(None, help="TOML mapping ([availability])"),
        month: str | None = typer.Option(None, help="show free shifts of YYYY-MM"),
        ref: str | None = typer.Option(None, help="one volunteer (V-<number>)"),
    ) -> None:
        """Import free shifts from a CSV (with --mapping), or show them (--month)."""
        from guardian.errors import InputError
        from guardian.operations.volunteers import availability as av

        console = _console()
        if path is not None:
            if mapping is None:
                raise InputError("give --mapping with the availability file")
            _print_import(console, av.import_availability(_engine(), path=path, mapping=mapping))
            return
        if month is None:
            raise InputError("give a CSV to import, or --month YYYY-MM to show free shifts")
        rows = av.availability(_engine(), month=month, ref=ref)
        per: dict[tuple, int] = {}
        for r in rows:
            per[(r["day"], r["band_label"])] = per.get((r["day"], r["band_label"]), 0) + 1
        t = Table(title=f"free shifts {month}: {len(rows)}")
        for c in ("day", "band", "volunteers free"):
            t.add_column(c)
        for (d, b), n in sorted(per.items()):
            t.add_row(d, b, str(n))
        console.print(t)

    @mob.command("plan")
    def plan_cmd(
        force: str = typer.Option(..., help="dataset / force, e.g. essex"),
        month: str = typer.Option(..., help="month to plan, YYYY-MM"),
        method: str = typer.Option("cp-sat", help="cp-sat or greedy (the baseline)"),
        need: int = typer.Option(4, help="people per deployment that fully cover its demand"),
        min_people: int = typer.Option(2, help="fewest people on a deployment that goes ahead"),
        max_people: int = typer.Option(6, help="most people on a deployment"),
        max_shifts: int | None = typer.Option(None, help="most shifts per person (default 8)"),
        rest_hours: int | None = typer.Option(None, help="least rest between shifts (11)"),
        under18_hours: int | None = typer.Option(None, help="under-18 hour cap (16)"),
        fairness: float | None = typer.Option(None, help="fairness weight (0.2; 0 = off)"),
        lookback: int = typer.Option(12, help="months of harm behind the demand"),
        calendar: Path | None = typer.Option(None, help="planning calendar TOML"),
        district: list[str] = typer.Option([], help="plan only these districts"),
        time_limit: float = typer.Option(60.0, help="CP-SAT time limit, seconds"),
    ) -> None:
        """Solve and store the month's plan; print the district x day grid and the gaps."""
        from guardian.operations.volunteers.plans import create_plan
        from guardian.store.status import resolve_dataset

        engine = _engine()
        plan = create_plan(engine, dataset=resolve_dataset(engine, force), month=month,
                           method=method, need=need, min_people=min_people,
                           max_people=max_people, max_shifts=max_shifts, rest_hours=rest_hours,
                           under18_max_hours=under18_hours, fairness_weight=fairness,
                           lookback_months=lookback, calendar=calendar,
                           districts=list(district) or None, time_limit_s=time_limit,
                           created_by="cli")
        _print_plan(_console(), plan)

    @mob.command("show")
    def show_cmd(
        plan_id: str | None = typer.Argument(None, help="plan (M-<number>); none = list plans"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
        why: bool = typer.Option(False, "--why", help="every assignment with its reason"),
    ) -> None:
        """Show a stored plan (or list plans)."""
        from guardian.operations.volunteers.plans import get_plan, list_plans

        engine = _engine()
        console = _console()
        if plan_id is None:
            t = Table(title="mobilisation plans")
            for c in ("plan", "month", "dataset", "method", "status", "coverage", "re-solve of"):
                t.add_column(c)
            for p in list_plans(engine):
                t.add_row(p["ref"], p["month"], p["dataset"], p["method"], p["status"],
                          f"{100 * p['coverage_share']:.1f}%", p["parent"] or "")
            console.print(t)
            return
        plan = get_plan(engine, plan_id=plan_id)
        if as_json:
            typer.echo(json.dumps(plan, indent=1, default=str))
            return
        _print_plan(console, plan)
        if why:
            for a in plan["assignments"]:
                console.print(escape(f"{a['volunteer']} {a['day']} {a['band_label']} "
                                     f"{a['district']}: {a['why']}"))

    @mob.command("resolve")
    def resolve_cmd(
        plan_id: str = typer.Argument(..., help="plan (M-<number>)"),
        drop: list[str] = typer.Option(..., help="volunteer who dropped out (V-<number>)"),
        time_limit: float = typer.Option(60.0, help="CP-SAT time limit, seconds"),
    ) -> None:
        """Re-solve after a drop-out, keeping the rest of the plan fixed."""
        from guardian.operations.volunteers.plans import resolve_plan

        _print_plan(_console(), resolve_plan(_engine(), plan_id=plan_id, drop=list(drop),
                                             time_limit_s=time_limit, created_by="cli"))

    @mob.command("export")
    def export_cmd(
        plan_id: str = typer.Argument(..., help="plan (M-<number>)"),
        out: Path = typer.Option(Path("mobilise-export"), help="folder for the CSV and ICS files"),
        publish: bool = typer.Option(False, "--publish", help="also publish shifts as tasks"),
    ) -> None:
        """Export a plan: CSV of every shift, one ICS calendar per volunteer; --publish tasks."""
        from guardian.operations.volunteers.exports import export_plan
        from guardian.operations.volunteers.plans import publish_tasks

        engine = _engine()
        res = export_plan(engine, plan_id=plan_id, out_dir=out)
        console = _console()
        console.print(f"wrote {res['csv']} and {res['ics']} calendars in {res['dir']}")
        if publish:
            p = publish_tasks(engine, plan_id=plan_id)
            console.print(f"tasks: {p['published']} published, {p['already']} already, "
                          f"{p['no_account']} shifts of volunteers without a sign-in account")
