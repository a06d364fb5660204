"""CLI: streetsafe."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the streetsafe commands to ``app``."""
    return None
