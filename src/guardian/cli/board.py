"""CLI: board."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the board commands to ``app``."""
    return None
