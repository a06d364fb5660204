"""Guardian's command line (Typer). Thin: each module registers the commands of one room.

Domain errors (:class:`guardian.errors.GuardianError`) are turned into a one-line message and
exit code 2 here, in one place.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

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


_registered = False


def _register() -> None:
    # Each module adds its commands to ``app``; imported here, not at package import, so that
    # ``import guardian.cli`` stays cheap for tests. Once per process: a second call would add
    # every group again, and Typer rebuilds the whole tree on each invocation (in-process CLI
    # tests grew slower with every test that had registered before them).
    global _registered
    if _registered:
        return
    _registered = True
    from guardian.cli import (
        board,
        brief,
        cocoons,
        data_cmds,
        evaluate,
        forecast,
        initiatives,
        national,
        nearrepeat,
        patrols,
        reference,
        risk,
        streetsafe,
        volunteers,
        web_cmds,
    )

    for module in (data_cmds, reference, nearrepeat, brief, risk, cocoons, patrols, web_cmds,
                   streetsafe, volunteers, initiatives, evaluate, forecast, board, national):
        module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point for the ``guardian`` script.

    Every way a command can fail is mapped here, in one place, to one line and an exit code:

    * a domain error (:class:`guardian.errors.GuardianError`): ``error: <message>``, exit 2;
    * Ctrl-C: ``interrupted ... the store is unchanged`` (each command writes in one
      transaction, which is rolled back), exit 130;
    * usage errors: Typer's own message, exit 2.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).
    """
    _register()
    err = Console(stderr=True, highlight=False)
    try:
        app(args=argv, standalone_mode=True)
    except GuardianError as exc:
        # soft_wrap: one line, however narrow the terminal; escape: messages quote user
        # input (headers, paths) whose brackets rich would otherwise read as markup.
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        sys.exit(2)
    except OSError as exc:  # the store's folder, not the input: read-only, full, missing
        err.print(f"[bold red]error:[/] {escape(_environment_message(exc))}", soft_wrap=True)
        sys.exit(2)
    except Exception as exc:
        from sqlalchemy.exc import OperationalError

        if not isinstance(exc, OperationalError):
            raise  # a bug: its traceback is what a report needs
        err.print(f"[bold red]error:[/] {escape(_environment_message(exc))}", soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:  # a Ctrl-C outside Typer's own handling (e.g. at start-up)
        err.print(INTERRUPTED, soft_wrap=True)
        sys.exit(130)
    except SystemExit as exc:
        # Typer answers a Ctrl-C inside a command with a silent exit 130; no command exits
        # with 130 on purpose, so this is the place to say what happened to the store.
        if exc.code == 130:
            err.print(INTERRUPTED, soft_wrap=True)
        raise


INTERRUPTED = ("[bold yellow]interrupted[/] (Ctrl-C): stopped before committing, so the store "
               "is unchanged; run the command again to finish")


def _environment_message(exc: BaseException) -> str:
    """One line for a store (or an output path) that cannot be opened or written.

    These surface as ``OSError`` (creating ``GUARDIAN_HOME``) or SQLAlchemy's
    ``OperationalError`` (SQLite, PostgreSQL); the transaction has been rolled back.
    """
    import errno

    from guardian.config import get_settings

    try:
        settings = get_settings()
        where = f"the store ({settings.database_url})"
        home = str(settings.home)
    except Exception:  # settings themselves unusable: name the variable instead
        where, home = "the store", "$GUARDIAN_HOME"
    filename = getattr(exc, "filename", None)
    output = False
    if filename and not str(filename).startswith(home):
        # An output path of the command (e.g. --out), not the store's folder.
        where, home = str(filename), str(Path(filename).parent)
        output = True
    text = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    low = text.lower()
    code = getattr(exc, "errno", None)
    if "locked" in low:  # SQLite: another command holds the write lock past the timeout
        fix = "another guardian command is writing the store; wait for it to finish"
    elif code == errno.ENOSPC or "full" in low or "no space" in low:
        fix = f"free space on the disk holding {home} (or point GUARDIAN_HOME elsewhere)"
    elif code in (errno.EROFS, errno.EACCES, errno.EPERM) or any(
            w in low for w in ("read-only", "readonly", "unable to open", "permission denied")):
        fix = (f"make {home} writable, or choose another output folder" if output else
               f"make {home} writable, or set GUARDIAN_HOME to a writable folder")
    else:
        fix = "check GUARDIAN_HOME / GUARDIAN_DATABASE_URL and that the database is reachable"
    return (f"{where} cannot be opened or written ({text}); {fix}, then rerun; the store is "
            f"unchanged")
