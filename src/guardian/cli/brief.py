"""CLI commands: brief."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the brief commands to the main app."""
