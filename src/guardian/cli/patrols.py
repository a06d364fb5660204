"""CLI commands: patrols (hot-spot patrol plans, the visit log, delivered dosage)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from guardian.cli import make_console


def _console() -> Console:
    return make_console(min_width=150)


def _engine():
    from guardian.store.db import get_engine

    return get_engine()


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * float(x):.1f}%"


def _plan_table(plan: dict) -> Table:
    from datetime import date

    days = plan["days"]
    t = Table(title=f"{plan['ref']}: {plan['district']}, week of {plan['week_start']} "
                    f"({plan['dataset']})")
    t.add_column("spot", justify="right")
    t.add_column("lat, lon", no_wrap=True)
    t.add_column("offences", justify="right")
    t.add_column("harm", justify="right")
    t.add_column("share", justify="right")
    t.add_column("streets", max_width=34, overflow="ellipsis", no_wrap=True)
    for d in days:
        t.add_column(date.fromisoformat(d).strftime("%a\n%d"), justify="center")
    for s in plan["spots"]:
        where = "" if s["lat"] is None else f"{s['lat']:.5f}, {s['lon']:.5f}"
        marks = ["P" if d in s["patrol_days"] else "c" for d in days]
        t.add_row(str(s["rank"]), where, f"{s['offences']:,}", f"{s['harm']:,.0f}",
                  _pct(s["share_harm"]), s["streets"] or "-", *marks)
    return t


def _print_plan(console: Console, plan: dict) -> None:
    p, tg = plan["parameters"], plan["targeting"]
    console.print(_plan_table(plan))
    console.print("P = patrol day, c = control day (no patrol)")
    console.print("[b]why each spot[/b]")
    for s in plan["spots"]:
        why = s["why"].replace("; approximate (police.uk snapped points)", "")
        console.print(f"  {s['rank']:>2}. {why}")
    console.print(f"[b]{tg['sentence']}[/b]")
    design = ("every day a patrol day" if p["design"] == "every-day" else
              f"random: each spot patrolled on {p['patrol_days']} of 7 days, control on the "
              f"rest, balanced across days; seed {p['seed']}")
    console.print(f"dosage: {p['visits_per_day']} visits a patrol day of about {p['minutes']:g} "
                  f"minutes each; {design}")
    hours = plan["hours"]
    console.print(hours["note"] if hours.get("known") else f"peak hours: {plan['peak_hours']}")
    console.print(f"targeting: {', '.join(p['categories'])}; {tg['start_month']}..{tg['end_month']}"
                  f" ({len(tg['months_used'])} months loaded); {p['cell_m']:g} m cells; spots are "
                  f"{tg['location_note']}")
    console.print(f"{tg['harm_basis']}")
    for n in plan["notes"]:
        console.print(f"- {n}")


def _dosage_tables(d: dict) -> tuple[Table, Table]:
    t = d["totals"]
    summary = Table(title=f"{d['plan']['ref']} delivered dosage ({d['plan']['district']}, week of "
                          f"{d['plan']['week_start']})")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    rows = [
        ("visits planned", f"{t['visits_planned']:,}"),
        ("visits delivered (patrol days)", f"{t['visits_delivered']:,}"),
        ("completion (credited / planned)", _pct(t["completion"])),
        *([("completion of the days already over", _pct(t["completion_to_date"]))]
          if d["status"].startswith("in progress") else []),
        ("minutes planned", f"{t['minutes_planned']:,.0f}"),
        ("minutes delivered (patrol days)", f"{t['minutes_delivered']:,.1f}"),
        ("visits logged", f"{t['visits_logged']:,}"),
        ("visits of 10-20 minutes (Koper)", f"{t['koper_visits']:,} ({_pct(t['koper_share'])})"),
        ("median visit minutes", "n/a" if t["median_minutes"] is None
         else f"{t['median_minutes']:.1f}"),
        ("visits on control days (contamination)", f"{t['contamination_visits']:,}"),
    ]
    rows += [(k.replace("_", " "), f"{v:,}") for k, v in t["interactions"].items()]
    for r in rows:
        summary.add_row(*r)
    per = Table(title="per spot")
    for col in ("spot", "patrol days", "visits planned", "delivered", "completion",
                "minutes planned", "minutes delivered", "Koper visits", "contamination"):
        per.add_column(col, justify="right")
    for s in d["spots"]:
        per.add_row(str(s["rank"]), str(s["patrol_days"]), str(s["visits_planned"]),
                    str(s["visits_delivered"]), _pct(s["completion"]),
                    f"{s['minutes_planned']:.0f}", f"{s['minutes_delivered']:.1f}",
                    str(s["koper_visits"]), str(s["contamination"]))
    return summary, per


def register(app: typer.Typer) -> None:
    """Add the patrols commands to the main app."""
    patrols = typer.Typer(help="Hot-spot patrols: weekly plans, the visit log, delivered dosage.",
                          no_args_is_help=True)
    app.add_typer(patrols, name="patrols")

    @patrols.command("plan")
    def plan_cmd(
        force: str = typer.Option(..., help="dataset / force, e.g. essex"),
        district: str = typer.Option(..., help="policing district, e.g. 'Southend-on-Sea UA'"),
        week: str = typer.Option(..., help="first day of the week, YYYY-MM-DD"),
        spots: int = typer.Option(20, help="number of spots"),
        cell: float = typer.Option(150.0, help="spot (grid cell) size in metres"),
        visits_per_day: int = typer.Option(3, help="visits per spot on a patrol day"),
        minutes: float = typer.Option(15.0, help="planned minutes per visit (Koper: ~15)"),
        random_days: int | None = typer.Option(
            None, help="patrol days per spot (1-6) for a random patrol/control design"),
        seed: int | None = typer.Option(None, help="seed of the random day design"),
        category: list[str] | None = typer.Option(
            None, help="police.uk categories (repeatable); default street violence"),
        include_police_generated: bool = typer.Option(
            False, help="allow drugs / possession of weapons (feedback-loop risk)"),
        lookback_months: int = typer.Option(12, help="months of data used for targeting"),
        counts: bool = typer.Option(False, help="rank by offence counts, not harm"),
        json_out: Path | None = typer.Option(None, "--json", help="write the plan as JSON here"),
    ) -> None:
        """Plan a week of hot-spot patrols for a district."""
        from guardian.operations.patrols.service import create_plan
        from guardian.store.status import resolve_dataset

        engine = _engine()
        console = _console()
        with console.status("selecting harm spots ..."):
            plan = create_plan(
                engine, dataset=resolve_dataset(engine, force), district=district, week=week,
                spots=spots, cell_m=cell, visits_per_day=visits_per_day, minutes=minutes,
                random_days=random_days, random_state=seed, categories=category or None,
                include_police_generated=include_police_generated,
                lookback_months=lookback_months, harm_table=None if counts else "harm_index_v1")
        _print_plan(console, plan)
        console.print(f"log visits with: guardian patrols log {plan['id']} --spot N --start "
                      f"{plan['week_start']}T14:00 --end {plan['week_start']}T14:15 --officer "
                      "'PC 1234'")
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(plan, indent=1, default=str))
            console.print(f"saved {json_out}")

    @patrols.command("show")
    def show_cmd(
        plan_id: str = typer.Argument(..., help="plan id (12 or P-12)"),
        as_json: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
    ) -> None:
        """Show a stored plan: spots, why, patrol and control days, peak hours, notes."""
        from guardian.operations.patrols.service import get_plan

        plan = get_plan(_engine(), plan_id=plan_id)
        if as_json:
            typer.echo(json.dumps(plan, indent=1, default=str))
            return
        _print_plan(_console(), plan)

    @patrols.command("log")
    def log_cmd(
        plan_id: str = typer.Argument(..., help="plan id (12 or P-12)"),
        spot: int = typer.Option(..., help="spot number in the plan (1 = most harm)"),
        start: str = typer.Option(..., help="start, e.g. 2022-01-04T14:05 (local time)"),
        end: str = typer.Option(..., help="end, e.g. 2022-01-04T14:20 (local time)"),
        officer: str = typer.Option(..., help="collar number or team (never a public name)"),
        business_checks: int = typer.Option(0, help="business checks"),
        stop_search: int = typer.Option(0, help="stops and searches"),
        engagements: int = typer.Option(0, help="engagements with the public"),
        arrests: int = typer.Option(0, help="arrests"),
        weapons: int = typer.Option(0, help="weapons found"),
    ) -> None:
        """Log one patrol visit."""
        from guardian.operations.patrols.service import log_visit

        v = log_visit(_engine(), plan_id=plan_id, spot=spot, start=start, end=end,
                      officer=officer, business_checks=business_checks,
                      stop_search=stop_search, engagements=engagements, arrests=arrests,
                      weapons_found=weapons)
        console = _console()
        band = "within" if v["koper"] else "outside"
        console.print(f"logged visit {v['id']} to spot {v['spot']} of {v['plan']} on {v['day']}: "
                      f"{v['minutes']:g} minutes ({band} the 10-20 minute Koper band), "
                      f"{v['arm']} day")
        if v.get("warning"):
            console.print(f"[yellow]warning:[/] {v['warning']}")

    @patrols.command("dosage")
    def dosage_cmd(
        plan_id: str = typer.Argument(..., help="plan id (12 or P-12)"),
        as_json: bool = typer.Option(False, "--json", help="print JSON instead of tables"),
    ) -> None:
        """Delivered dosage against plan: minutes, visits, Koper share, contamination."""
        from guardian.operations.patrols.service import plan_dosage

        d = plan_dosage(_engine(), plan_id=plan_id, as_of=datetime.now(UTC))
        if as_json:
            typer.echo(json.dumps(d, indent=1, default=str))
            return
        console = _console()
        summary, per = _dosage_tables(d)
        console.print(f"{d['plan']['ref']}: {d['status']}; {d['plan']['parameters']['visits_per_day']}"
                      f" visits of {d['plan']['parameters']['minutes']:g} minutes planned per "
                      "patrol day")
        console.print(summary)
        console.print(per)
        for w in d["warnings"]:
            console.print(f"[yellow]warning:[/] {w}")

    @patrols.command("list")
    def list_cmd(
        force: str | None = typer.Option(None, help="dataset / force, e.g. essex"),
        district: str | None = typer.Option(None, help="policing district"),
    ) -> None:
        """List stored patrol plans."""
        from guardian.operations.patrols.service import list_plans
        from guardian.store.status import resolve_dataset

        engine = _engine()
        ds = resolve_dataset(engine, force) if force else None
        t = Table(title="patrol plans")
        for col in ("plan", "dataset", "district", "week", "design", "seed", "spots"):
            t.add_column(col)
        for p in list_plans(engine, dataset=ds, district=district):
            design = "every day" if p["design"] == "every-day" else f"random {p['patrol_days']}/7"
            t.add_row(p["ref"], p["dataset"], p["district"], p["week_start"], design,
                      "" if p["seed"] is None else str(p["seed"]), str(p["spots"]))
        _console().print(t)
