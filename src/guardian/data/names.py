"""Finding a name the user typed among known names (datasets, districts)."""

from __future__ import annotations

from collections.abc import Sequence


def matching_names(typed: str, names: Sequence[str]) -> list[str]:
    """The names ``typed`` stands for: the one equal to it ignoring case, else every name that
    starts with it (``"essex"`` -> ``["Essex Police"]``). The caller says what none or several
    matches mean."""
    low = str(typed).strip().lower()
    exact = [n for n in names if n.lower() == low]
    return exact[:1] if exact else [n for n in names if n.lower().startswith(low)]
