"""CLI: serve the web app; users; the audit log export; task synchronisation."""

from __future__ import annotations

import getpass
import json
import os
from datetime import UTC, datetime, timedelta

import typer
from rich.table import Table

from guardian.cli import make_console
from guardian.errors import InputError

console = make_console()


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        d = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{option} {text!r} is not a date/time (e.g. 2026-01-01 or "
                         "2026-01-01T09:00+00:00)") from exc
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def register(app: typer.Typer) -> None:
    """Add serve, users, audit and tasks."""
    users = typer.Typer(help="Accounts and roles.", no_args_is_help=True)
    audit_app = typer.Typer(help="The audit log of personal data.", no_args_is_help=True)
    tasks_app = typer.Typer(help="The one task list.", no_args_is_help=True)
    app.add_typer(users, name="users")
    app.add_typer(audit_app, name="audit")
    app.add_typer(tasks_app, name="tasks")

    @app.command("serve")
    def serve(host: str = typer.Option("127.0.0.1", "--host"),
              port: int = typer.Option(8000, "--port"),
              as_of: str = typer.Option(None, "--as-of", help="The app's clock (historical "
                                        "data); default now."),
              insecure_cookies: bool = typer.Option(False, "--insecure-cookies",
                                                    help="Cookies without Secure (plain http "
                                                    "on a host other than localhost)."),
              workers: int = typer.Option(1, "--workers", min=1, max=64,
                                          help="Server processes (about one per core).")) -> None:
        """Start the web app (FastAPI + Uvicorn) on the store."""
        import uvicorn

        from guardian.web.app import create_app

        at = _when(as_of, "--as-of")
        console.print(f"Guardian on http://{host}:{port}/ (sign in: `guardian users add`)")
        if workers == 1:
            from guardian.web.serve import ready

            web = create_app(as_of=at, secure_cookies=not insecure_cookies)
            ready(web)
            uvicorn.run(web, host=host, port=port, log_level="warning")
            return
        # Several processes: each builds its own app from the same settings (the store is
        # migrated once, here, before they start).
        from guardian.store.db import get_engine

        get_engine().dispose()
        os.environ["GUARDIAN_SERVE_AS_OF"] = at.isoformat() if at else ""
        os.environ["GUARDIAN_SERVE_INSECURE_COOKIES"] = "1" if insecure_cookies else ""
        # Each process listens on a socket of its own (SO_REUSEPORT), so the kernel spreads
        # connections over them; uvicorn's shared socket gave them all to one (measured).
        from guardian.web.serve import serve as serve_many

        try:
            status = serve_many(host, port, workers)
        except OSError as exc:
            raise InputError(f"cannot listen on {host}:{port}: {exc}") from exc
        if status:
            raise typer.Exit(status)

    @users.command("add")
    def add(username: str, role: str = typer.Option(..., "--role"),
            name: str = typer.Option("", "--name"), team: str = typer.Option(None, "--team"),
            password_env: str = typer.Option(None, "--password-env",
                                             help="Read the password from this environment "
                                                  "variable (scripts); else prompt.")) -> None:
        """Add a user (password prompted, or from --password-env)."""
        from guardian.operations.accounts import service as accounts
        from guardian.store.db import get_engine

        if password_env:
            pw = os.environ.get(password_env)
            if not pw:
                raise InputError(f"environment variable {password_env} is empty or unset")
        else:
            pw = getpass.getpass("password: ")
        u = accounts.add_user(get_engine(), username=username, password=pw, role=role,
                              display_name=name, team=team)
        console.print(f"added {u.username} ({u.role}{', team ' + u.team if u.team else ''})")

    @users.command("demo")
    def demo(force: str = typer.Option("essex", "--force"),
             tasks_for_officer: int = typer.Option(12, "--tasks")) -> None:
        """Create demo accounts (officer, supervisor, partner, admin) with one new random
        password, sync tasks, and give the officer the latest cocoon visits. For trying the
        app on the bundled data; never on a live force's store."""
        import secrets

        from sqlalchemy import func, select, update

        from guardian.errors import Conflict
        from guardian.operations.accounts import service as accounts
        from guardian.operations.tasks import service as tasks
        from guardian.operations.tasks.models import Task
        from guardian.store.db import get_engine

        engine = get_engine()
        pw = "demo-" + secrets.token_urlsafe(9)
        made = []
        for name, role, team in (("demo-officer", "officer", "demo-team"),
                                 ("demo-supervisor", "supervisor", "demo-team"),
                                 ("demo-partner", "partner", None), ("demo-admin", "admin", None)):
            try:
                accounts.add_user(engine, username=name, password=pw, role=role, team=team,
                                  display_name=name.replace("-", " ").title())
                made.append(name)
            except Conflict:
                pass
        tasks.sync_tasks(engine)
        with engine.begin() as conn:
            mine = conn.execute(select(func.count()).select_from(Task).where(
                Task.assignee == "demo-officer")).scalar_one()
            if mine == 0:
                ids = conn.execute(select(Task.id).where(Task.kind == "cocoon-visit",
                                                         Task.status == "open")
                                   .order_by(Task.due_at.desc(), Task.id)
                                   .limit(tasks_for_officer)).scalars().all()
                conn.execute(update(Task).where(Task.id.in_(ids)).values(assignee="demo-officer"))
        if made:
            console.print(f"demo accounts {', '.join(made)}; password: {pw}")
        else:
            console.print("demo accounts exist already (passwords unchanged)")

    @users.command("list")
    def list_(as_json: bool = typer.Option(False, "--json")) -> None:
        """Every account."""
        from guardian.operations.accounts import service as accounts
        from guardian.store.db import get_engine

        rows = [u.to_dict() for u in accounts.list_users(get_engine())]
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
            return
        t = Table(title="Users")
        for c in ("username", "display_name", "role", "team", "active"):
            t.add_column(c)
        for r in rows:
            t.add_row(*[str(r[c] if r[c] is not None else "") for c in
                        ("username", "display_name", "role", "team", "active")])
        console.print(t)

    @users.command("disable")
    def disable(username: str) -> None:
        """Disable a user and end their sessions."""
        from guardian.operations.accounts import service as accounts
        from guardian.store.db import get_engine

        u = accounts.disable_user(get_engine(), username=username)
        console.print(f"disabled {u.username}")

    @users.command("set-role")
    def set_role(username: str, role: str) -> None:
        """Change a user's role (their sessions end)."""
        from guardian.operations.accounts import service as accounts
        from guardian.store.db import get_engine

        u = accounts.set_role(get_engine(), username=username, role=role)
        console.print(f"{u.username} is now {u.role}")

    @audit_app.command("export")
    def export(start: str = typer.Option(None, "--from"), end: str = typer.Option(None, "--to"),
               fmt: str = typer.Option("csv", "--format", help="csv or json")) -> None:
        """Print audit entries with from <= time < to (UTC unless an offset is given)."""
        from guardian.operations.audit import service as audit
        from guardian.store.db import get_engine

        rows = audit.entries(get_engine(), start=_when(start, "--from"), end=_when(end, "--to"))
        if fmt == "json":
            typer.echo(json.dumps(rows, indent=2))
        elif fmt == "csv":
            typer.echo(audit.to_csv(rows), nl=False)
        else:
            raise InputError(f"--format {fmt!r}: csv or json")

    @tasks_app.command("brief")
    def brief_spot(plan: str = typer.Option(..., "--plan", help="Patrol plan, e.g. P-3."),
                   spot: int = typer.Option(..., "--spot", help="The spot's rank on the plan."),
                   assignee: str = typer.Option(None, "--assignee", help="Officer (username)."),
                   team: str = typer.Option(None, "--team"),
                   hours: int = typer.Option(72, "--hours", min=1, help="Due in N hours."),
                   as_of: str = typer.Option(None, "--as-of", help="Window start (default "
                                             "now).")) -> None:
        """Create a street-briefing task at a harm spot (as the dashboard's button does)."""
        from guardian.operations.accounts.service import Account
        from guardian.operations.tasks import service as tasks
        from guardian.store.db import get_engine

        start = _when(as_of, "--as-of") or datetime.now(UTC)
        # the command line is the analyst's own machine: it acts as the admin would
        cli_user = Account(0, "cli", "command line", "admin", None, True)
        t = tasks.add_street_briefing(get_engine(), cli_user, plan=plan, spot=spot, start=start,
                                      due_at=start + timedelta(hours=hours), assignee=assignee,
                                      team=team)
        console.print(f"{t['ref']}: {t['why']} -- due {t['due_at']}"
                      f"{', to ' + (assignee or team) if (assignee or team) else ', unassigned'}")

    @tasks_app.command("sync")
    def sync() -> None:
        """Create tasks for cocoon visits and patrol days that have none yet."""
        from guardian.operations.tasks import service as tasks
        from guardian.store.db import get_engine

        made = tasks.sync_tasks(get_engine())
        console.print(f"tasks created: {made['cocoon-visit']:,} cocoon visits, "
                      f"{made['patrol-visit']:,} patrol days")
