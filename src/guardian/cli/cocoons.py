"""CLI commands: cocoons."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the cocoons commands to the main app."""
