"""Weighted displacement difference test (Wheeler & Ratcliffe 2018).

Wheeler, A. P. & Ratcliffe, J. H. (2018). A simple weighted displacement difference test to
evaluate place based crime interventions. *Crime Science* 7:11.

With before/after counts in the treated area (T), its control (C), and optionally a
displacement buffer (D) and the control's buffer (Dc)::

    WDD = (T1 - T0) - (C1 - C0) + (D1 - D0) - (Dc1 - Dc0)

Treating every count as an independent Poisson variable, the variance of WDD is the sum of all
the counts, and ``Z = WDD / sqrt(var)`` is approximately standard normal. The harm-weighted
version (section "Weighted WDD" of the paper) multiplies each crime type's counts by its weight:
the estimate is the weighted sum and the variance is the sum of ``weight**2 * count``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import stats

from guardian.errors import InputError

from .result import EvaluationResult


def _vec(x, name: str, n: int | None) -> np.ndarray:
    if isinstance(x, Mapping):
        x = list(x.values())
    a = np.atleast_1d(np.asarray(x, dtype=float))
    if a.ndim != 1:
        raise InputError(f"{name} must be a count or a 1-d list of counts per crime type")
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise InputError(f"{name} must be finite non-negative counts, got {a.tolist()}")
    if n is not None and a.size != n:
        raise InputError(f"{name} has {a.size} crime types, expected {n}")
    return a


def wdd(
    treated_before,
    treated_after,
    control_before,
    control_after,
    displaced_before=None,
    displaced_after=None,
    *,
    weights=None,
    control_displaced_before=None,
    control_displaced_after=None,
    confidence: float = 0.95,
) -> EvaluationResult:
    """Weighted displacement difference test.

    Parameters
    ----------
    treated_before, treated_after, control_before, control_after : float or array-like
        Crime counts over equal-length periods before and after the intervention. Either one
        number each, or one number per crime type (same order in every argument; a mapping's
        values are taken in insertion order).
    displaced_before, displaced_after : optional
        Counts in the treated area's displacement buffer (both or neither).
    weights : array-like or mapping, optional
        Harm weight per crime type (e.g. Crime Harm Index days); default 1.
    control_displaced_before, control_displaced_after : optional
        Counts in the control area's buffer (Wheeler & Ratcliffe's fourth area).
    confidence : float
        Level of the normal-approximation interval.

    Returns
    -------
    EvaluationResult
        ``estimate`` is the WDD in (weighted) crimes: negative means fewer crimes in the treated
        area (and buffer) relative to control. ``details["z"]`` is the test statistic.
    """
    if not 0 < confidence < 1:
        raise InputError("confidence must be between 0 and 1")
    t0 = _vec(treated_before, "treated_before", None)
    n = t0.size
    t1 = _vec(treated_after, "treated_after", n)
    c0 = _vec(control_before, "control_before", n)
    c1 = _vec(control_after, "control_after", n)
    parts = [("treated", t0, t1, 1.0), ("control", c0, c1, -1.0)]
    for label, b, a in (
        ("displaced", displaced_before, displaced_after),
        ("control_displaced", control_displaced_before, control_displaced_after),
    ):
        if (b is None) != (a is None):
            raise InputError(f"give both {label}_before and {label}_after, or neither")
        if b is not None:
            sign = 1.0 if label == "displaced" else -1.0
            parts.append((label, _vec(b, f"{label}_before", n), _vec(a, f"{label}_after", n), sign))
    if weights is None:
        w = np.ones(n)
    else:
        w = _vec(weights, "weights", n)
    est = 0.0
    var = 0.0
    changes = {}
    for label, b, a, sign in parts:
        d = float(np.sum(w * (a - b)))
        changes[label] = d
        est += sign * d
        var += float(np.sum(w**2 * (a + b)))
    se = math.sqrt(var)
    zc = float(stats.norm.ppf(0.5 + confidence / 2))
    if se > 0:
        z = est / se
        p = float(2 * stats.norm.sf(abs(z)))
    else:
        z, p = float("nan"), 1.0
    weighted = weights is not None
    has_buffer = displaced_before is not None
    assumptions = [
        "counts are independent Poisson variables (variance = mean); overdispersion makes the "
        "interval too narrow",
        "before and after periods are of equal length in every area",
        "the control area would have changed as the treated area did without the intervention",
    ]
    if weighted:
        assumptions.append("harm weights are fixed constants, not estimates")
    if has_buffer:
        assumptions.append("the buffer is where crime would be displaced to (or diffuse benefits)")
    design = "before-after with a comparable control area" + (
        " and displacement buffer" if has_buffer else ""
    )
    return EvaluationResult(
        method="wdd-weighted" if weighted else "wdd",
        estimate=est,
        ci_low=est - zc * se,
        ci_high=est + zc * se,
        p_value=p,
        confidence=confidence,
        assumptions=tuple(assumptions),
        smms_level=3,
        design=design,
        details={
            "z": z,
            "se": se,
            "variance": var,
            "changes": changes,
            "estimate_units": "harm-weighted crimes" if weighted else "crimes",
            "alternative": "two-sided",
            "reference": "Wheeler & Ratcliffe (2018) Crime Science 7:11",
        },
    )
