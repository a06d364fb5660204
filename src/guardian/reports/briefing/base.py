"""The section contract of the briefing.

A section is a small module exposing ``SECTION``: an object with a ``key`` (JSON key and HTML
anchor), a ``title``, a ``template`` (a Jinja partial in ``reports/templates``) and
``build(ctx) -> dict`` returning the section's figures as plain JSON-able data. Adding a section
means writing one module and adding it to :data:`guardian.reports.briefing.SECTIONS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd


class Section(Protocol):
    key: str
    title: str
    template: str

    def build(self, ctx) -> dict: ...


@dataclass(frozen=True)
class SimpleSection:
    """A section made of a build function and a template partial."""

    key: str
    title: str
    template: str
    builder: Callable[[Any], dict]

    def build(self, ctx) -> dict:
        return self.builder(ctx)


def unavailable(reason: str, **extra) -> dict:
    """The standard marker for a figure the data cannot support."""
    return {"available": False, "reason": reason, **extra}


def clean(obj):
    """Make ``obj`` JSON-safe: NaN/inf -> None, numpy scalars -> Python, frames -> records."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return clean(obj.to_dict(orient="records"))
    if isinstance(obj, pd.Series):
        return clean(obj.to_dict())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if obj is pd.NA or obj is pd.NaT:
        return None
    return obj
