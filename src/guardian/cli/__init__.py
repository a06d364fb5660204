"""Guardian's command line (Typer). Thin: each module registers the commands of one room.

Domain errors (:class:`guardian.errors.GuardianError`) are turned into a one-line message and
exit code 2 here, in one place.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from guardian.errors import GuardianError

app = typer.Typer(
    name="guardian",
    help="Guardian: crime-prevention intelligence and coordination.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def make_console(min_width: int = 132) -> Console:
    """A console wide enough for the tables even when output is piped (CI, logs)."""
    c = Console()
    if not c.is_terminal:
        c = Console(width=max(c.width, min_width))
    return c


def _register() -> None:
    # Each module adds its commands to ``app``; imported here, not at package import, so that
    # ``import guardian.cli`` stays cheap for tests.
    from guardian.cli import (
        brief,
        cocoons,
        data_cmds,
        nearrepeat,
        patrols,
        reference,
        risk,
        web_cmds,
    )

    for module in (data_cmds, reference, nearrepeat, brief, risk, cocoons, patrols, web_cmds):
        module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point for the ``guardian`` script."""
    _register()
    err = Console(stderr=True)
    try:
        app(args=argv, standalone_mode=True)
    except GuardianError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)
