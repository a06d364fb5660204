"""The one result type every evaluation statistic returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SMS_LEVELS = {
    1: "correlation at one point in time, no comparison",
    2: "before-after in the treated area, or comparison with a non-equivalent group",
    3: "before-after in treated and comparable control areas",
    4: "before-after in several treated and control units, controlling for other variables",
    5: "random assignment of units to treatment and control",
}
"""Maryland Scientific Methods Scale (Sherman et al. 1997; Farrington et al. 2002)."""


def _plain(x: Any) -> Any:
    """Turn numpy scalars/arrays and NaN into JSON-safe Python values."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_plain(v) for v in x.tolist()]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return None if math.isnan(x) or math.isinf(x) else x
    if isinstance(x, np.bool_):
        return bool(x)
    return x


@dataclass(frozen=True)
class EvaluationResult:
    """Outcome of one evaluation statistic.

    Attributes
    ----------
    method : str
        Short name of the statistic (``"wdd"``, ``"etest"``, ...).
    estimate : float
        The effect estimate, in the units ``details["estimate_units"]`` names (a count
        difference, a rate difference, a rate ratio ...). Negative differences / ratios below 1
        mean fewer crimes after / under treatment.
    ci_low, ci_high : float
        Confidence interval for ``estimate`` at ``confidence``.
    p_value : float
        Two-sided unless ``details["alternative"]`` says otherwise.
    confidence : float
        Confidence level of the interval, e.g. 0.95.
    assumptions : tuple of str
        What must hold for the numbers to mean what they say.
    smms_level : int
        Maryland Scientific Methods Scale level (1-5) of the design that produced the data.
    design : str
        One line describing the design.
    details : dict
        Method-specific figures (inputs, intermediate quantities).
    """

    method: str
    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float
    assumptions: tuple[str, ...]
    smms_level: int
    design: str
    details: dict = field(default_factory=dict)

    @property
    def significant(self) -> bool:
        """Whether ``p_value < 1 - confidence``."""
        return bool(self.p_value < 1.0 - self.confidence)

    @property
    def smms_description(self) -> str:
        """The Maryland SMS wording for :attr:`smms_level`."""
        return SMS_LEVELS.get(self.smms_level, "unknown")

    def to_dict(self) -> dict:
        """JSON-safe dictionary of every field (NaN becomes ``None``)."""
        return {
            "method": self.method,
            "estimate": _plain(self.estimate),
            "ci_low": _plain(self.ci_low),
            "ci_high": _plain(self.ci_high),
            "p_value": _plain(self.p_value),
            "confidence": _plain(self.confidence),
            "significant": self.significant,
            "assumptions": list(self.assumptions),
            "smms_level": int(self.smms_level),
            "smms_description": self.smms_description,
            "design": self.design,
            "details": _plain(self.details),
        }
