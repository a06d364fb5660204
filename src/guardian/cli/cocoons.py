"""CLI commands: cocoons (open, list, show, visit, assign, overdue, stats).

Thin: parses options, picks the "as of" time, calls :mod:`guardian.operations.cocoons.service`
and prints Rich tables (or JSON with ``--json``). The "as of" time defaults to now, or, when the
data stop before now (historical data), to the end of the latest loaded month: otherwise every
cocoon of old data would show as expired and every visit as overdue.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from guardian.cli import make_console
from guardian.errors import InputError


def _console() -> Console:
    return make_console()


def _when(text: str, tz: str, option: str) -> datetime:
    """A date/time from the command line; naive values are read in the dataset's timezone."""
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{option} {text!r} is not a date/time; write e.g. 2016-02-01 or "
                         "2016-02-01T14:30 (local time of the data) or add +00:00") from exc
    if ts is pd.NaT:
        raise InputError(f"{option} {text!r} is not a date/time")
    if ts.tzinfo is None:
        ts = ts.tz_localize(tz, nonexistent="shift_forward", ambiguous=False)
    return ts.to_pydatetime()


def _local(iso: str | None, tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if not iso:
        return "-"
    return pd.Timestamp(iso).tz_convert(tz).strftime(fmt)


def _engine():
    from guardian.store.db import get_engine

    return get_engine()


def _dataset(engine, force: str | None) -> tuple[str, str]:
    from guardian.operations.cocoons.service import cocoon_dataset

    return cocoon_dataset(engine, force=force)


def _as_of(engine, dataset: str, tz: str, as_of: str | None) -> tuple[datetime, str]:
    from guardian.operations.cocoons.service import default_as_of

    if as_of:
        return _when(as_of, tz, "--as-of"), "given with --as-of"
    return default_as_of(engine, dataset=dataset, now=datetime.now(UTC))


def _header(console: Console, dataset: str, when: datetime, why: str, tz: str, timing: str | None) -> None:
    console.print(f"[bold]{dataset}[/] as of {_local(when.isoformat(), tz, '%Y-%m-%d %H:%M %Z')} "
                  f"({why})")
    if timing:
        style = "yellow" if timing.startswith("approximate") else "green"
        console.print(f"timing: [{style}]{timing}[/]")


@contextmanager
def _nothing():
    yield


def _dump(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def register(app: typer.Typer) -> None:
    """Add the cocoons commands to the main app."""
    co = typer.Typer(help="Burglary cocooning: zones, visits within 48 hours, overdue, delivery.",
                     no_args_is_help=True)
    app.add_typer(co, name="cocoons")

    @co.command("open")
    def open_cmd(
        force: str = typer.Option(..., "--force", help="Dataset, e.g. essex or chicago_be."),
        start: str | None = typer.Option(None, "--from", help="First month YYYY-MM."),
        end: str | None = typer.Option(None, "--to", help="Last month YYYY-MM."),
        radius: float | None = typer.Option(None, "--radius", help="Radius in metres (default 400)."),
        window: float | None = typer.Option(None, "--window", help="Risk window in days (default 42)."),
        from_knox: Path | None = typer.Option(None, "--from-knox", help="Knox result JSON (`guardian nearrepeat knox --json`): derive radius and window from it."),
        visit_hours: float = typer.Option(48.0, "--visit-hours", help="Visits due within this many hours of the report."),
        neighbour_visits: str | None = typer.Option(None, "--neighbour-visits", help="Nearest neighbouring places visited per burglary besides the victim, or 'all' (default: [cocoons.<force>] neighbour_visits in $GUARDIAN_HOME/forces.toml, else 5). The rest of the zone is covered by the zone itself (leaflets, patrol)."),
        max_visits: int | None = typer.Option(None, "--max-visits", hidden=True, help="Former form of the cap: visits per burglary, the victim included (0 = every place in the radius)."),
        owner: str | None = typer.Option(None, "--owner", help="Assignee of new cocoons: collar number or team."),
        addresses: Path | None = typer.Option(None, "--addresses", help="CSV of address points x,y,address (metres) to visit instead of the data's map points."),
        as_of: str | None = typer.Option(None, "--as-of", help="Date/time the run stands at (default: now, or the end of the latest loaded month for historical data)."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Open cocoons for the dwelling burglaries in the store that are not cocooned yet."""
        from guardian.config import get_settings
        from guardian.operations.cocoons.service import (
            CocoonParameters,
            knox_parameters,
            open_cocoons,
            resolve_neighbour_visits,
        )

        console = _console()
        if from_knox is not None and (radius is not None or window is not None):
            raise InputError("give either --from-knox FILE or --radius/--window, not both")
        if from_knox is not None:
            if not from_knox.is_file():
                raise InputError(f"Knox result {str(from_knox)!r} does not exist; write one with "
                                 "`guardian nearrepeat knox ... --json FILE.json`")
            try:
                doc = json.loads(from_knox.read_text())
            except json.JSONDecodeError as exc:
                raise InputError(f"{from_knox} is not JSON ({exc})") from exc
            params = knox_parameters(doc, visit_hours=visit_hours)
        elif radius is not None or window is not None:
            params = CocoonParameters(radius_m=radius if radius is not None else 400.0,
                                      window_days=window if window is not None else 42.0,
                                      visit_hours=visit_hours, source="manual")
        else:
            params = CocoonParameters(visit_hours=visit_hours)
        if neighbour_visits is not None and max_visits is not None:
            raise InputError("give either --neighbour-visits N or --max-visits N, not both")
        if max_visits is not None:  # the former option: victim included, 0 = all
            if max_visits < 0:
                raise InputError(f"--max-visits {max_visits} must be >= 0")
            neighbour_visits = "all" if max_visits == 0 else str(max_visits - 1)
        engine = _engine()
        name, tz = _dataset(engine, force)
        cap, cap_source = resolve_neighbour_visits(names=(name, force), given=neighbour_visits,
                                                   home=get_settings().home)
        if max_visits is not None:
            cap_source = f"--max-visits {max_visits}"
        when, why = _as_of(engine, name, tz, as_of)
        with console.status(f"opening cocoons for {name} ...", spinner="dots") if not as_json \
                else _nothing():
            rep = open_cocoons(engine, dataset=name, as_of=when, parameters=params,
                               start_month=start, end_month=end, owner=owner,
                               addresses=addresses, neighbour_visits=cap)
        if as_json:
            _dump(rep.to_dict() | {"as_of_reason": why, "neighbour_visits_source": cap_source})
            return
        _header(console, name, when, why, tz, rep.timing)
        console.print(f"burglaries: {rep.burglary_basis}")
        console.print(f"parameters: {params.radius_m:g} m, {params.window_days:g} days, visits "
                      f"due within {params.visit_hours:g} h ({params.source})")
        whom = ("every place" if cap is None
                else f"the nearest {cap} place{'s' if cap != 1 else ''}")
        console.print(f"visits: the victim and {whom} within the radius per burglary "
                      f"({cap_source}); the rest of each zone is covered by the zone itself "
                      "(leaflets, patrol)")
        t = Table(title="Cocoons opened")
        t.add_column("")
        t.add_column("count", justify="right")
        for label, v in (
            ("burglaries in the period", rep.considered),
            ("already cocooned (left alone)", rep.already_cocooned),
            ("reported after as-of (not yet)", rep.after_as_of),
            ("no location (cannot be cocooned)", rep.no_location),
            ("added to cocoons", rep.added),
            ("new cocoons", rep.cocoons_opened),
            ("joined an existing cocoon", rep.joined_existing),
            ("near repeats", rep.near_repeats),
            ("cocoons merged into another", rep.cocoons_merged),
            ("visits planned", rep.visits_planned),
            ("  victims", rep.victim_visits),
            ("  nearest neighbours", rep.neighbour_visits_planned),
            ("places in the zones", rep.places_in_zones),
            ("  visited individually", rep.places_visited),
            ("  covered by the zone (leaflets, patrol)", rep.places_covered_by_zone),
        ):
            t.add_row(label, f"{v:,}")
        console.print(t)
        if rep.non_dwelling_excluded:
            console.print(f"{rep.non_dwelling_excluded:,} non-dwelling burglaries not cocooned")

    @co.command("list")
    def list_cmd(
        force: str | None = typer.Option(None, "--force", help="Dataset (default: the only one with cocoons)."),
        status: str = typer.Option("open,active", "--status", help="Comma-separated: open, active, expired, merged, or all."),
        as_of: str | None = typer.Option(None, "--as-of", help="Date/time (default: now, or the end of the latest loaded month)."),
        limit: int = typer.Option(30, "--limit", help="Rows shown on screen (JSON has all)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Cocoons with their status, owner, members, near repeats and visits."""
        from guardian.operations.cocoons.service import list_cocoons

        console = _console()
        engine = _engine()
        name, tz = _dataset(engine, force)
        when, why = _as_of(engine, name, tz, as_of)
        statuses = None if status.strip() == "all" else [s.strip() for s in status.split(",") if s.strip()]
        rows = list_cocoons(engine, as_of=when, dataset=name, statuses=statuses)
        if as_json:
            _dump({"dataset": name, "as_of": when.isoformat(), "as_of_reason": why,
                   "cocoons": rows})
            return
        _header(console, name, when, why, tz, rows[0]["timing"] if rows else None)
        t = Table(title=f"Cocoons ({len(rows):,}; status {status})")
        for col in ("cocoon", "status", "owner", "opened", "ends", "burglaries", "near rep.",
                    "visits done", "overdue", "next due"):
            t.add_column(col, justify="right" if col in ("burglaries", "near rep.", "visits done", "overdue") else "left")
        for c in rows[:limit]:
            t.add_row(c["ref"], c["status"], c["owner"] or "-", _local(c["opened_at"], tz, "%Y-%m-%d"),
                      _local(c["ends_at"], tz, "%Y-%m-%d"), str(c["members"]), str(c["near_repeats"]),
                      f"{c['visits_done']}/{c['visits_planned']}",
                      f"[red]{c['visits_overdue']}[/]" if c["visits_overdue"] else "0",
                      _local(c["next_due_at"], tz) if c["status"] in ("open", "active") else "-")
        console.print(t)
        if len(rows) > limit:
            console.print(f"... {len(rows) - limit:,} more (--limit, or --json for all)")

    @co.command("show")
    def show_cmd(
        ref: str = typer.Argument(..., help="Cocoon reference, e.g. C-12."),
        as_of: str | None = typer.Option(None, "--as-of", help="Date/time (default: now, or the end of the latest loaded month)."),
        limit: int = typer.Option(40, "--limit", help="Visits shown on screen."),
        addresses: Path | None = typer.Option(None, "--addresses", help="The address CSV the visits were planned from (when `open --addresses` was used): places are counted from it."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """One cocoon: why it exists, its burglaries and its visits (victim first, nearest first)."""
        from guardian.operations.cocoons.service import get_cocoon

        console = _console()
        engine = _engine()
        name, tz = _cocoon_dataset(engine, ref)
        when, why = _as_of(engine, name, tz, as_of)
        c = get_cocoon(engine, ref=ref, as_of=when, addresses=addresses)
        if as_json:
            _dump(c)
            return
        _header(console, name, when, why, tz, c["timing"])
        if c["followed_from"]:
            console.print(f"{c['followed_from']} was merged into {c['ref']}")
        console.print(f"[bold]{c['ref']}[/] {c['status']}, owner {c['owner'] or '-'}: {c['why']}")
        console.print(f"zone: {c['radius_m']:g} m around each burglary; ends "
                      f"{_local(c['ends_at'], tz)}; parameters {c['params_source']}")
        console.print(f"places in the zone: {c['places_in_zone']:,}; visited individually "
                      f"{c['places_visited']:,}; [bold]covered by the zone itself (leaflets, "
                      f"patrol): {c['places_covered_by_zone']:,}[/]")
        t = Table(title=f"Visits ({len(c['visits_list'])})")
        for col in ("visit", "place", "m", "due", "state", "outcome", "by", "why"):
            t.add_column(col, justify="right" if col == "m" else "left")
        for v in c["visits_list"][:limit]:
            place = ("[b]victim[/]: " if v["is_victim"] else "") + v["place"]
            t.add_row(v["ref"], place, f"{v['distance_m']:.0f}", _local(v["due_at"], tz),
                      v["state"], v["outcome"] or "-", v["visited_by"] or "-", v["why"])
        console.print(t)
        if len(c["visits_list"]) > limit:
            console.print(f"... {len(c['visits_list']) - limit:,} more (--limit, or --json)")

    @co.command("visit")
    def visit_cmd(
        ref: str = typer.Argument(..., help="Visit V-345, or cocoon C-12 (its next pending visit)."),
        outcome: str = typer.Option(..., "--outcome", help="spoke, advice, no-answer or declined."),
        by: str | None = typer.Option(None, "--by", help="Officer collar number or team."),
        at: str | None = typer.Option(None, "--at", help="When the visit happened (default now; local time of the data)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Record a visit's outcome (two taps on a phone: the visit, the outcome)."""
        from guardian.operations.cocoons.service import record_visit

        console = _console()
        engine = _engine()
        _, tz = _cocoon_dataset(engine, ref)
        when = _when(at, tz, "--at") if at else datetime.now(UTC)
        v = record_visit(engine, ref=ref, outcome=outcome, at=when, by=by)
        if as_json:
            _dump(v)
            return
        place = ("victim: " if v["is_victim"] else "") + v["place"]
        console.print(f"{v['ref']} ({v['cocoon']}) {place}: [bold]{v['outcome']}[/] at "
                      f"{_local(v['visited_at'], tz)} by {v['visited_by'] or '-'}; due "
                      f"{_local(v['due_at'], tz)}: " + ("[green]on time[/]" if v["on_time"] else "[red]late[/]"))

    @co.command("assign")
    def assign_cmd(
        ref: str = typer.Argument(..., help="Cocoon reference, e.g. C-12."),
        to: str = typer.Option(..., "--to", help="Collar number or team (never a victim's name)."),
    ) -> None:
        """Set the owner of a cocoon."""
        from guardian.operations.cocoons.service import assign_cocoon

        r = assign_cocoon(_engine(), ref=ref, owner=to)
        _console().print(f"{r['ref']} owner: {r['previous_owner'] or '-'} -> [bold]{r['owner']}[/]")

    @co.command("overdue")
    def overdue_cmd(
        force: str | None = typer.Option(None, "--force", help="Dataset (default: the only one with cocoons)."),
        as_of: str | None = typer.Option(None, "--as-of", help="Date/time (default: now, or the end of the latest loaded month)."),
        include_expired: bool = typer.Option(False, "--include-expired", help="Also visits of expired cocoons (missed for good)."),
        limit: int = typer.Option(30, "--limit", help="Rows shown on screen (JSON has all)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Visits that missed their 48 hours and still have no outcome."""
        from guardian.operations.cocoons.service import overdue_visits

        console = _console()
        engine = _engine()
        name, tz = _dataset(engine, force)
        when, why = _as_of(engine, name, tz, as_of)
        rows = overdue_visits(engine, as_of=when, dataset=name, include_expired=include_expired)
        timing = rows[0]["timing"] if rows else None
        if as_json:
            _dump({"dataset": name, "as_of": when.isoformat(), "as_of_reason": why,
                   "timing": timing, "overdue": rows})
            return
        _header(console, name, when, why, tz, timing)
        t = Table(title=f"Overdue visits ({len(rows):,})")
        for col in ("visit", "cocoon", "owner", "place", "due", "hours over", "why"):
            t.add_column(col, justify="right" if col == "hours over" else "left")
        for v in rows[:limit]:
            place = ("victim: " if v["is_victim"] else "") + v["place"]
            t.add_row(v["ref"], v["cocoon"], v["owner"] or "-", place, _local(v["due_at"], tz),
                      f"{v['hours_overdue']:,.0f}", v["why"])
        console.print(t)
        if len(rows) > limit:
            console.print(f"... {len(rows) - limit:,} more (--limit, or --json for all)")

    @co.command("stats")
    def stats_cmd(
        force: str | None = typer.Option(None, "--force", help="Dataset (default: the only one with cocoons)."),
        start: str | None = typer.Option(None, "--from", help="First month YYYY-MM of the burglaries."),
        end: str | None = typer.Option(None, "--to", help="Last month YYYY-MM of the burglaries."),
        min_visits: int | None = typer.Option(None, "--min-visits", help="A burglary's visits count as complete with at least this many done (default: all planned)."),
        as_of: str | None = typer.Option(None, "--as-of", help="Date/time (default: now, or the end of the latest loaded month)."),
        as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    ) -> None:
        """Delivery: share of burglaries with visits started within 48 h, and completed."""
        from guardian.operations.cocoons.service import delivery_figures

        console = _console()
        engine = _engine()
        name, tz = _dataset(engine, force)
        when, why = _as_of(engine, name, tz, as_of)
        d = delivery_figures(engine, dataset=name, as_of=when, start_month=start,
                             end_month=end, min_visits=min_visits)
        if as_json:
            _dump(d | {"as_of_reason": why})
            return
        _header(console, name, when, why, tz, d["timing"])

        def pct(v: float | None) -> str:
            return "-" if v is None else f"{100 * v:.1f}%"

        t = Table(title="Cocoon delivery")
        t.add_column("measure")
        t.add_column("count", justify="right")
        t.add_column("share", justify="right")
        t.add_row("burglaries cocooned", f"{d['burglaries']:,}", "")
        t.add_row("judged (deadline passed)", f"{d['judged']:,}", "")
        t.add_row("visits started on time", f"{d['started_on_time']:,}", pct(d["share_started_on_time"]))
        t.add_row("visits completed", f"{d['completed']:,}", pct(d["share_completed"]))
        t.add_row("completed on time", f"{d['completed_on_time']:,}", pct(d["share_completed_on_time"]))
        t.add_row("visits planned", f"{d['visits_planned']:,}", "")
        t.add_row("visits done", f"{d['visits_done']:,}", "")
        t.add_row("residents reached (spoke/advice)", f"{d['visits_reached']:,}", pct(d["share_reached"]))
        t.add_row("visits overdue", f"{d['visits_overdue']:,}", "")
        console.print(t)
        for k, v in d["definitions"].items():
            console.print(f"[dim]{k}: {v}[/]")


def _cocoon_dataset(engine, ref: str) -> tuple[str, str]:
    from guardian.operations.cocoons.service import dataset_of_ref

    return dataset_of_ref(engine, ref=ref)
