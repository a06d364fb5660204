"""CLI: evaluate."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the evaluate commands to ``app``."""
    return None
