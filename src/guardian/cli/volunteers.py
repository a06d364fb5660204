"""CLI: volunteers."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the volunteers commands to ``app``."""
    return None
