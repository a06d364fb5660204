"""CLI commands: nearrepeat."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the nearrepeat commands to the main app."""
