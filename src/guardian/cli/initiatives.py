"""CLI: initiatives."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the initiatives commands to ``app``."""
    return None
