"""Weighted proportions with 95% intervals, and significance of change on effective sizes.

A weighted proportion ``p = sum(w*y)/sum(w)`` has (to first order, ignoring clustering) the
precision of a simple random sample of the Kish effective size ``n_eff``. Intervals are Wilson
score intervals at ``n_eff``; comparisons are two-proportion z-tests with each side's
``n_eff`` (the pooled-variance test), or a one-sample z-test against a fixed comparison value.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from guardian.errors import InputError

from .weighting import kish_deff


@dataclass(frozen=True)
class ProportionEstimate:
    """A weighted proportion: estimate, interval and the sizes behind it."""

    proportion: float
    ci_low: float
    ci_high: float
    n: int
    n_effective: float
    design_effect: float
    confidence: float = 0.95

    def to_dict(self) -> dict:
        """Plain dictionary."""
        return asdict(self)


@dataclass(frozen=True)
class ComparisonResult:
    """Significance of a difference between two proportions (or one and a fixed value)."""

    difference: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    significant: bool
    direction: str  # "higher" | "lower" | "no different"
    test: str
    confidence: float = 0.95

    def to_dict(self) -> dict:
        """Plain dictionary."""
        return asdict(self)


def wilson_interval(p: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``p`` at (effective) size ``n``."""
    if n <= 0:
        return float("nan"), float("nan")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    den = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / den
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z**2 / (4 * n**2)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def weighted_proportion(positive, weights=None, *, confidence: float = 0.95) -> ProportionEstimate:
    """Weighted share of respondents answering positively.

    Parameters
    ----------
    positive : array-like of bool
        One entry per respondent who answered (exclude "don't know"/missing beforehand).
    weights : array-like, optional
        Survey weights (default equal).
    confidence : float

    Returns
    -------
    ProportionEstimate
    """
    y = np.asarray(positive, dtype=float)
    if y.size == 0:
        raise InputError("no respondents answered this question")
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != y.shape:
        raise InputError("one weight per respondent")
    deff = kish_deff(w)
    n_eff = y.size / deff
    p = float(np.sum(w * y) / np.sum(w))
    lo, hi = wilson_interval(p, n_eff, confidence)
    return ProportionEstimate(p, lo, hi, int(y.size), float(n_eff), float(deff), confidence)


def compare_proportions(a: ProportionEstimate, b: ProportionEstimate, *,
                        confidence: float = 0.95) -> ComparisonResult:
    """Two-proportion z-test of ``a`` vs ``b`` on their effective sample sizes.

    The test uses the pooled proportion (the null of no difference); the interval for
    ``a - b`` is the unpooled Wald interval.
    """
    n1, n2 = a.n_effective, b.n_effective
    p1, p2 = a.proportion, b.proportion
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (p1 - p2) / se0 if se0 > 0 else 0.0
    p = float(2 * stats.norm.sf(abs(z)))
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    zc = float(stats.norm.ppf(0.5 + confidence / 2))
    sig = p < 1 - confidence
    return ComparisonResult(
        difference=p1 - p2, ci_low=p1 - p2 - zc * se, ci_high=p1 - p2 + zc * se, z=float(z),
        p_value=p, significant=bool(sig),
        direction=("higher" if p1 > p2 else "lower") if sig else "no different",
        test="two-proportion z-test on Kish effective sample sizes", confidence=confidence)


def compare_to_value(a: ProportionEstimate, value: float, *,
                     confidence: float = 0.95) -> ComparisonResult:
    """One-sample z-test of ``a`` against a fixed comparison value (no sampling error)."""
    if not 0 < value < 1:
        raise InputError("comparison value must be a proportion strictly between 0 and 1")
    n = a.n_effective
    se0 = math.sqrt(value * (1 - value) / n)
    z = (a.proportion - value) / se0
    p = float(2 * stats.norm.sf(abs(z)))
    zc = float(stats.norm.ppf(0.5 + confidence / 2))
    se = math.sqrt(a.proportion * (1 - a.proportion) / n)
    d = a.proportion - value
    sig = p < 1 - confidence
    return ComparisonResult(
        difference=d, ci_low=d - zc * se, ci_high=d + zc * se, z=float(z), p_value=p,
        significant=bool(sig),
        direction=("higher" if d > 0 else "lower") if sig else "no different",
        test="one-sample z-test on the Kish effective sample size", confidence=confidence)


def _pct(p: float) -> str:
    return f"{p * 100:.0f}%"


def perception_statement(text: str, estimate: ProportionEstimate, *,
                         previous: ProportionEstimate | None = None,
                         previous_label: str = "last year's",
                         comparison: ComparisonResult | None = None,
                         comparison_value: float | None = None,
                         comparison_label: str = "the comparison figure of") -> str:
    """A board-ready sentence, e.g. "81% think the police do a good job, significantly higher
    than last year's 72%".

    Parameters
    ----------
    text : str
        The finding in words after the percentage ("think the police do a good job").
    estimate : ProportionEstimate
    previous : ProportionEstimate, optional
        Last year's estimate (tested with :func:`compare_proportions`).
    comparison, comparison_value : optional
        A :func:`compare_to_value` result and the value it tested against.
    """
    parts = [f"{_pct(estimate.proportion)} {text} (95% CI {_pct(estimate.ci_low)}-"
             f"{_pct(estimate.ci_high)})"]
    if previous is not None:
        c = compare_proportions(estimate, previous)
        if c.significant:
            parts.append(f"significantly {c.direction} than {previous_label} "
                         f"{_pct(previous.proportion)}")
        else:
            parts.append(f"not significantly different from {previous_label} "
                         f"{_pct(previous.proportion)}")
    if comparison is not None and comparison_value is not None:
        if comparison.significant:
            parts.append(f"significantly {comparison.direction} than {comparison_label} "
                         f"{_pct(comparison_value)}")
        else:
            parts.append(f"not significantly different from {comparison_label} "
                         f"{_pct(comparison_value)}")
    return ", ".join(parts[:1]) + ("" if len(parts) == 1 else ", " + "; ".join(parts[1:]))
