"""CLI: forecast."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the forecast commands to ``app``."""
    return None
