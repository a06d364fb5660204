"""Quarantine records: rows that could not be loaded, with the reason and the raw line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuarantinedRow:
    """A row refused at load.

    Attributes
    ----------
    line : int
        1-based line number in the source file (the header is line 1).
    reason : str
        Why it was refused, naming the bad value.
    raw : str
        The raw text of the row.
    """

    line: int
    reason: str
    raw: str


@dataclass(frozen=True)
class DuplicateRow:
    """A row whose id was already seen (in this file or an earlier one): stored once, counted."""

    line: int
    event_id: str
