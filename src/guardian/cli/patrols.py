"""CLI commands: patrols."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the patrols commands to the main app."""
