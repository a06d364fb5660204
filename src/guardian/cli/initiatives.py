"""CLI: initiatives (Street Weeks, days of action, Crime Stoppers Zones, seasonal campaigns),
their outcomes, resources and evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from guardian.cli import make_console


def _console() -> Console:
    return make_console(min_width=140)


def _engine():
    from guardian.store.db import get_engine

    return get_engine()


def _echo_json(obj) -> None:
    typer.echo(json.dumps(obj, indent=1, default=str))


def _gbp(x: float) -> str:
    return f"£{x:,.2f}"


def _area_value(text: str | None):
    if text is None:
        return None
    p = Path(text)
    if len(text) < 4096 and not text.lstrip().startswith("{") and p.exists():
        try:
            return p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            from guardian.errors import InputError

            raise InputError(f"{p}: cannot read the area ({exc})") from exc
    return text


def _print_initiative(c: Console, d: dict) -> None:
    c.print(f"[b]{d['ref']} {escape(d['name'])}[/b] - {d['kind']}, {d['start']}..{d['end']} "
            f"({escape(d['dataset'])})")
    where = {"districts": "districts", "cells": "grid cells", "polygon": "area"}[d["place_kind"]]
    extra = "" if not d.get("area_km2") else f", {d['area_km2']:.3f} km²"
    c.print(f"place: {where} in {', '.join(d['districts'])}{extra}")
    if d.get("phases"):
        c.print("days: " + "; ".join(f"{p['phase']} {p['first']}..{p['last']} ({p['days']} d)"
                                     for p in d["phases"]))
    c.print(f"band: {d['band'] or 'all day'}; demand uplift x{d['uplift']:g} on deployment days")
    c.print(f"targets: {', '.join(d['categories']) or 'all crime'}; partners: "
            f"{escape(', '.join(d['partners'])) or 'none'}")
    r = d["resources"]
    c.print(f"resources: {r['volunteer_hours']:g} volunteer h ({_gbp(r['volunteer_gbp'])} at "
            f"{_gbp(r['volunteer_hour_gbp'])}/h), {r['officer_hours']:g} officer h "
            f"({_gbp(r['officer_gbp'])}), spend {_gbp(r['cash_gbp'])}: total "
            f"{_gbp(r['total_gbp'])}")
    c.print(f"  rates: {escape(r['rates_source'])}")
    if d.get("outcomes"):
        t = Table(title="outcomes")
        for col in ("measure", "detail", "value", "recorded"):
            t.add_column(col)
        for o in d["outcomes"]:
            t.add_row(o["label"], escape(o["detail"]) or "-", f"{o['value']:g}",
                      f"{o['recorded_at'][:10]} {escape(o['recorded_by'])}")
        c.print(t)
    else:
        c.print("outcomes: none recorded yet")
    why = (d.get("details") or {}).get("why")
    if why:
        c.print(f"why: {escape(str(why))}")
    lt = d.get("leaflet_tasks") or {}
    if lt.get("total"):
        c.print(f"leaflet drops: {lt['total']} tasks ({lt['done']} done, {lt['open']} open)")


def _print_evaluation(c: Console, ev: dict) -> None:
    if ev["status"] != "ok":
        c.print(f"[b]evaluation:[/b] {escape(ev['reason'])}")
        return
    p = ev["periods"]
    c.print(f"[b]evaluation[/b] {', '.join(ev['categories'])}: before {p['before'][0]}.."
            f"{p['before'][-1]}, after {p['after'][0]}..{p['after'][-1]}")
    t = Table()
    for col in ("area", "before", "after", "change"):
        t.add_column(col, justify="right" if col != "area" else "left")
    for a, k in ev["counts"].items():
        t.add_row(a, str(k["before"]), str(k["after"]), f"{k['after'] - k['before']:+d}")
    c.print(t)
    for key, label in (("wdd", "WDD (Wheeler & Ratcliffe 2018), matched comparison"),
                       ("did", "DiD rate ratio vs rest of force"),
                       ("etest", "E-test, treated before vs after"),
                       ("cs_reports", "Crime Stoppers reports before vs after")):
        r = ev.get(key)
        if not r or "estimate" not in r:
            if r and r.get("reason"):
                c.print(f"{label}: not computed ({escape(r['reason'])})")
            continue
        c.print(f"{label}: {r['estimate']:+.2f} [{100 * r['confidence']:.0f}% CI "
                f"{r['ci_low']:+.2f} to {r['ci_high']:+.2f}], p = {r['p_value']:.3g}; "
                f"SMS level {r['smms_level']} ({r['design']})")
    c.print(ev["etest_reading"])
    for n in ev["notes"]:
        c.print(f"- {n}")


def register(app: typer.Typer) -> None:
    """Add the initiatives commands to ``app``."""
    ini = typer.Typer(help="Initiatives: Street Weeks, days of action, Crime Stoppers Zones, "
                           "seasonal campaigns; outcomes, resources, evaluation.",
                      no_args_is_help=True)
    app.add_typer(ini, name="initiatives")

    @ini.command("add")
    def add_cmd(
        force: str = typer.Option(..., "--force", help="dataset (name or prefix, e.g. essex)"),
        kind: str = typer.Option(..., "--kind", help="street-week | day-of-action | cs-zone | campaign"),
        name: str = typer.Option(..., "--name"),
        start: str = typer.Option(..., "--start", help="first day YYYY-MM-DD (a Street Week: its pre-scoping week)"),
        end: str | None = typer.Option(None, "--end", help="last day (a Street Week ends after 3 weeks)"),
        districts: str | None = typer.Option(None, "--districts", help="comma-separated district names"),
        cells: str | None = typer.Option(None, "--cells", help="grid cells CELL_M:I_J,I_J (e.g. 500:1170_372)"),
        area: str | None = typer.Option(None, "--area", help="GeoJSON polygon (text or file), BNG or WGS84"),
        partners: str | None = typer.Option(None, "--partners", help="comma-separated"),
        categories: str | None = typer.Option(None, "--categories", help="crime categories it targets (default all)"),
        band: str | None = typer.Option(None, "--band", help="08-16 | 16-24 | 24-08 (default all day)"),
        uplift: float | None = typer.Option(None, "--uplift", help="demand multiplier on deployment days (1-10)"),
        volunteer_hours: float = typer.Option(0.0, "--volunteer-hours"),
        officer_hours: float = typer.Option(0.0, "--officer-hours"),
        cash: float = typer.Option(0.0, "--cash", help="direct spend in pounds"),
        drop_day: list[str] = typer.Option([], "--drop-day", help="leaflet drop day of a zone (repeat)"),
        notes: str = typer.Option("", "--notes"),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ):
        """Record an initiative."""
        from guardian.operations.initiatives.service import create_initiative

        d = create_initiative(_engine(), dataset=force, kind=kind, name=name, start=start,
                              end=end, districts=districts, cells=cells, area=_area_value(area),
                              partners=partners, categories=categories, band=band,
                              uplift=uplift, volunteer_hours=volunteer_hours,
                              officer_hours=officer_hours, cash_gbp=cash,
                              drop_days=drop_day or None, notes=notes, by="cli")
        if as_json:
            _echo_json(d)
            return
        _print_initiative(_console(), d)

    @ini.command("import")
    def import_cmd(
        path: Path = typer.Argument(..., help="TOML ([[initiative]] tables) or CSV file"),
        force: str = typer.Option(..., "--force"),
        quarantine: Path | None = typer.Option(None, "--quarantine", help="write refused rows (line, reason, raw) to this CSV"),
        as_json: bool = typer.Option(False, "--json"),
    ):
        """Import initiatives from a file; bad rows are quarantined with their reason."""
        import csv

        from guardian.operations.initiatives.service import import_initiatives

        rep = import_initiatives(_engine(), path, dataset=force, by="import")
        if quarantine is not None and rep.quarantined:
            quarantine.parent.mkdir(parents=True, exist_ok=True)
            with quarantine.open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(["line", "reason", "raw"])
                for q in rep.quarantined:
                    w.writerow([q.line, q.reason, q.raw])
        if as_json:
            _echo_json(rep.to_dict())
            return
        c = _console()
        c.print(f"{rep.rows_read} rows: {len(rep.created)} created, {len(rep.unchanged)} already "
                f"stored, {len(rep.quarantined)} quarantined")
        for q in rep.quarantined:
            c.print(f"  line {q.line}: {escape(q.reason)}")

    @ini.command("list")
    def list_cmd(
        force: str | None = typer.Option(None, "--force"),
        kind: str | None = typer.Option(None, "--kind"),
        start: str | None = typer.Option(None, "--from", help="overlapping from this day"),
        end: str | None = typer.Option(None, "--to", help="overlapping up to this day"),
        categories: str | None = typer.Option(None, "--categories"),
        as_json: bool = typer.Option(False, "--json"),
    ):
        """List initiatives with resources and outcome totals."""
        from guardian.operations.initiatives.service import list_initiatives

        rows = list_initiatives(_engine(), dataset=force, kind=kind, start=start, end=end,
                                categories=categories)
        if as_json:
            _echo_json(rows)
            return
        t = Table(title=f"{len(rows)} initiatives")
        for col in ("ref", "kind", "name", "dates", "districts", "vol h", "£ total", "outcomes"):
            t.add_column(col)
        for d in rows:
            oc = ", ".join(f"{k} {v:g}" for k, v in d["outcome_totals"].items()) or "-"
            t.add_row(d["ref"], d["kind"], escape(d["name"]), f"{d['start']}..{d['end']}",
                      escape(", ".join(d["districts"])), f"{d['resources']['volunteer_hours']:g}",
                      _gbp(d["resources"]["total_gbp"]), oc)
        _console().print(t)

    @ini.command("show")
    def show_cmd(ref: str = typer.Argument(...),
                 as_json: bool = typer.Option(False, "--json")):
        """Show an initiative: place, days, resources, outcomes."""
        from guardian.operations.initiatives.service import get_initiative

        d = get_initiative(_engine(), ref=ref)
        if as_json:
            _echo_json(d)
            return
        _print_initiative(_console(), d)

    @ini.command("outcome")
    def outcome_cmd(
        ref: str = typer.Argument(...),
        measure: str | None = typer.Option(None, "--measure", help="residents-reached | referrals | action-plans | nhw-signups | volunteer-signups | cs-reports | leaflets | households-visited | other"),
        value: float | None = typer.Option(None, "--value", help="a count >= 0"),
        detail: str = typer.Option("", "--detail", help="referrals: to whom; cs-reports: before | after"),
        note: str = typer.Option("", "--note"),
        volunteer_hours: float | None = typer.Option(None, "--volunteer-hours", help="set the resources instead"),
        officer_hours: float | None = typer.Option(None, "--officer-hours"),
        cash: float | None = typer.Option(None, "--cash"),
        as_json: bool = typer.Option(False, "--json"),
    ):
        """Record an outcome (a re-recorded measure replaces the earlier value) or resources."""
        from guardian.errors import InputError
        from guardian.operations.initiatives.service import record_outcome, set_resources

        eng = _engine()
        d = None
        if volunteer_hours is not None or officer_hours is not None or cash is not None:
            d = set_resources(eng, ref=ref, volunteer_hours=volunteer_hours,
                              officer_hours=officer_hours, cash_gbp=cash)
        if measure is not None or value is not None:
            if measure is None or value is None:
                raise InputError("give both --measure and --value")
            d = record_outcome(eng, ref=ref, measure=measure, value=value, detail=detail,
                               note=note, by="cli")
        if d is None:
            raise InputError("give --measure and --value, or resources (--volunteer-hours ...)")
        if as_json:
            _echo_json(d)
            return
        _print_initiative(_console(), d)

    @ini.command("evaluate")
    def evaluate_cmd(
        ref: str = typer.Argument(...),
        harm: str | None = typer.Option(None, "--harm", help="harm-weight the WDD with this table (e.g. harm_index_v1)"),
        before_months: int | None = typer.Option(None, "--before-months"),
        buffer_m: float = typer.Option(500.0, "--buffer-m", help="displacement buffer width (m)"),
        as_json: bool = typer.Option(False, "--json"),
    ):
        """Evaluate on recorded crime: WDD with a matched comparison (and buffer), DiD rate
        ratio against the rest of the force, E-test before/after."""
        from guardian.operations.initiatives.evaluation import evaluate_initiative

        ev = evaluate_initiative(_engine(), ref=ref, harm_table=harm,
                                 before_months=before_months, buffer_m=buffer_m)
        if as_json:
            _echo_json(ev)
            return
        _print_evaluation(_console(), ev)

    @ini.command("zones")
    def zones_cmd(
        force: str = typer.Option(..., "--force"),
        months: int = typer.Option(12, "--months", help="months of data ending with the latest"),
        end_month: str | None = typer.Option(None, "--end-month"),
        cell_m: float = typer.Option(500.0, "--cell-m"),
        top_share: float = typer.Option(0.10, "--top-share", help="candidates: this share of cells by harm"),
        min_crimes: int = typer.Option(20, "--min-crimes"),
        alpha: float = typer.Option(0.05, "--alpha"),
        n: int = typer.Option(10, "-n", help="zones listed at most"),
        create: str | None = typer.Option(None, "--create", help="record a zone of this name from the ranking"),
        rank: str = typer.Option("1", "--rank", help="ranks to include, e.g. 1,3"),
        start: str | None = typer.Option(None, "--start"),
        end: str | None = typer.Option(None, "--end"),
        drop_day: list[str] = typer.Option([], "--drop-day", help="leaflet drop day (repeat)"),
        publish: bool = typer.Option(False, "--publish", help="publish the new zone's leaflet drops as tasks"),
        team: str | None = typer.Option(None, "--team", help="team the leaflet tasks go to"),
        as_json: bool = typer.Option(False, "--json"),
    ):
        """Propose Crime Stoppers Zones: cells where harm is high and reporting looks low."""
        from guardian.errors import InputError
        from guardian.operations.initiatives.zones import (
            create_zone,
            publish_leaflet_drops,
            zone_ranking,
        )

        eng = _engine()
        rk = zone_ranking(eng, dataset=force, end_month=end_month, months=months, cell_m=cell_m,
                          top_share=top_share, min_crimes=min_crimes, alpha=alpha, n=n)
        out: dict = {"ranking": rk}
        if create:
            if not start:
                raise InputError("--create needs --start")
            try:
                ranks = [int(x) for x in rank.split(",") if x.strip()]
            except ValueError as exc:
                raise InputError(f"--rank {rank!r}: expected numbers like 1,3") from exc
            out["initiative"] = create_zone(eng, dataset=force, name=create, start=start,
                                            end=end, ranks=ranks, drop_days=drop_day or None,
                                            ranking=rk, by="cli")
            if publish:
                out["tasks"] = publish_leaflet_drops(eng, ref=out["initiative"]["ref"],
                                                     team=team)
        if as_json:
            _echo_json(out)
            return
        c = _console()
        fs = rk["force_share"]
        c.print(f"[b]Crime Stoppers Zones[/b] {escape(rk['dataset'])} {rk['months'][0]}.."
                f"{rk['months'][1]} ({rk['months_loaded']} months loaded): {len(rk['zones'])} of {rk['considered']} candidate cells "
                f"({rk['cells_with_crime']} with crime); force proactive share "
                f"{'n/a' if fs is None else f'{fs:.1%}'}")
        t = Table()
        for col in ("rank", "cell", "district", "harm", "crimes", "police-found", "index", "p"):
            t.add_column(col)
        for z in rk["zones"]:
            t.add_row(str(z["rank"]), f"{z['cell'][0]}_{z['cell'][1]}", escape(z["district"]),
                      f"{z['harm']:,.0f}", str(z["crimes"]),
                      f"{z['proactive']}/{z['proactive'] + z['public_reported']} "
                      f"({z['share']:.0%})", f"{z['reporting_index']:.2f}", f"{z['p_value']:.2g}")
        c.print(t)
        for z in rk["zones"]:
            c.print(f"  {z['rank']}. {escape(z['why'])}")
        c.print(f"rule: {rk['rule']}")
        c.print(f"proxy: {rk['proxy']}")
        if "initiative" in out:
            _print_initiative(c, out["initiative"])
        if "tasks" in out:
            c.print(f"leaflet tasks: {out['tasks']['created']} published")

    @ini.command("leaflets")
    def leaflets_cmd(ref: str = typer.Argument(...),
                     team: str | None = typer.Option(None, "--team"),
                     as_json: bool = typer.Option(False, "--json")):
        """Publish a Crime Stoppers Zone's leaflet drops as tasks (idempotent)."""
        from guardian.operations.initiatives.zones import publish_leaflet_drops

        res = publish_leaflet_drops(_engine(), ref=ref, team=team)
        if as_json:
            _echo_json(res)
            return
        _console().print(f"{res['created']} leaflet-drop tasks published, {res['existing']} "
                         f"already there: {', '.join(res['refs'])}")

    @ini.command("campaign")
    def campaign_cmd(
        force: str = typer.Option(..., "--force"),
        start: str = typer.Option(..., "--start"),
        end: str = typer.Option(..., "--end"),
        n: int = typer.Option(3, "--districts", help="districts chosen at most"),
        neighbour_visits: str | None = typer.Option(None, "--neighbour-visits", help="cocooning intensity (default: [cocoons.<force>] in forces.toml, else 5)"),
        create: str | None = typer.Option(None, "--create", help="record the campaign under this name"),
        volunteer_hours: float = typer.Option(0.0, "--volunteer-hours"),
        as_json: bool = typer.Option(False, "--json"),
    ):
        """Winter burglary campaign: districts chosen from the data, with reasons and the
        cocooning intensity."""
        from guardian.operations.initiatives.campaigns import campaign_plan, create_campaign

        eng = _engine()
        plan = campaign_plan(eng, dataset=force, start=start, end=end, n=n,
                             neighbour_visits=neighbour_visits)
        out: dict = {"plan": plan}
        if create:
            out["initiative"] = create_campaign(eng, dataset=force, name=create, start=start,
                                                end=end, n=n, neighbour_visits=neighbour_visits,
                                                volunteer_hours=volunteer_hours, by="cli")
        if as_json:
            _echo_json(out)
            return
        c = _console()
        c.print(f"[b]winter burglary campaign[/b] {start}..{end}, {escape(plan['dataset'])}; "
                f"reference months {plan['reference'][0]}..{plan['reference'][-1]}")
        t = Table()
        for col in ("district", "burglaries", "per 1,000 hh/month", "winter uplift", "chosen"):
            t.add_column(col)
        for r in plan["ranking"]:
            t.add_row(escape(r["district"]), str(r["burglaries"]), f"{r['per_1000_month']:.2f}",
                      "-" if r["uplift"] is None else f"{r['uplift']:.2f}x",
                      "yes" if r["chosen"] else "")
        c.print(t)
        c.print(f"rule: {plan['rule']} (force {plan['force_per_1000_month']:.2f})")
        for r in plan["chosen"]:
            c.print(f"  {escape(r['district'])}: {escape(r['why'])}")
        c.print(f"cocooning: {plan['cocooning']['reading']} ({escape(plan['cocooning']['source'])})")
        c.print(f"caveat: {plan['caveat']}")
        if "initiative" in out:
            _print_initiative(c, out["initiative"])
