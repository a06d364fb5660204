"""Tests comparing two Poisson rates: the E-test and the exact conditional (binomial) test.

Krishnamoorthy, K. & Thomson, J. (2004). A more powerful test for comparing two Poisson means.
*Journal of Statistical Planning and Inference* 119(1), 23-35.

``k1`` events over exposure ``n1`` (e.g. weeks, or area-years) against ``k2`` over ``n2``. The
typical use is one place before (1) and after (2) an intervention, or a treated and a control
place over the same period.

E-test statistic (K&T 2004, eq. for ``T_{X1,X2}``)::

    T(x1, x2) = (x1/n1 - x2/n2 - d) / sqrt(x1/n1**2 + x2/n2**2)      (T = 0 when x1 = x2 = 0)

with the p-value evaluated at the restricted MLE of the rates under H0
``lambda2 = (k1 + k2)/(n1 + n2) - d*n1/(n1 + n2)``, ``lambda1 = lambda2 + d``::

    p = sum_{x1, x2} Pois(x1; n1*lambda1) Pois(x2; n2*lambda2) 1[T(x1, x2) >= T(k1, k2)]

The exact conditional test uses that, given ``k1 + k2``, ``k1`` is binomial with
``p = n1*R/(n1*R + n2)`` where ``R = lambda1/lambda2``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from guardian.errors import InputError

from .result import EvaluationResult

_ALTERNATIVES = ("two-sided", "greater", "less")


def _check(k1, n1, k2, n2, alternative: str, confidence: float) -> tuple[int, float, int, float]:
    for name, k in (("k1", k1), ("k2", k2)):
        if k is None or k < 0 or int(k) != k:
            raise InputError(f"{name} must be a non-negative whole count, got {k!r}")
    for name, n in (("n1", n1), ("n2", n2)):
        if n is None or not n > 0 or not math.isfinite(n):
            raise InputError(f"{name} must be a positive exposure (e.g. weeks), got {n!r}")
    if alternative not in _ALTERNATIVES:
        raise InputError(f"alternative must be one of {', '.join(_ALTERNATIVES)}")
    if not 0 < confidence < 1:
        raise InputError("confidence must be between 0 and 1")
    return int(k1), float(n1), int(k2), float(n2)


def _t_stat(x1, n1, x2, n2, d):
    num = x1 / n1 - x2 / n2 - d
    var = x1 / n1**2 + x2 / n2**2
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(var > 0, num / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    return t


def etest_pvalue(k1: int, n1: float, k2: int, n2: float, *, d: float = 0.0,
                 alternative: str = "two-sided") -> float:
    """P-value of the Krishnamoorthy-Thomson E-test for ``lambda1 - lambda2`` vs ``d``.

    Parameters
    ----------
    k1, k2 : int
        Event counts.
    n1, n2 : float
        Exposures (any unit, the same for both).
    d : float
        Rate difference under the null hypothesis (events per unit exposure).
    alternative : {"two-sided", "greater", "less"}
        ``"greater"`` tests H1: ``lambda1 - lambda2 > d``.

    Returns
    -------
    float
        The p-value, exact up to a truncation of the Poisson tails below 1e-13.
    """
    k1, n1, k2, n2 = _check(k1, n1, k2, n2, alternative, 0.95)
    lam2 = (k1 + k2) / (n1 + n2) - d * n1 / (n1 + n2)
    lam1 = lam2 + d
    if lam2 < 0 or lam1 < 0:
        # The restricted estimate leaves the parameter space: clamp to its boundary.
        lam2, lam1 = max(lam2, 0.0), max(lam1, 0.0)
    mu1, mu2 = n1 * lam1, n2 * lam2
    t_obs = float(_t_stat(np.float64(k1), n1, np.float64(k2), n2, d))
    def support(mu: float) -> np.ndarray:
        # Poisson mass outside [ppf(1e-13), isf(1e-13)] is negligible (< 2e-13).
        if mu <= 0:
            return np.zeros(1)
        lo = max(0, int(stats.poisson.ppf(1e-13, mu)) - 1)
        hi = int(stats.poisson.isf(1e-13, mu)) + 1
        return np.arange(lo, hi + 1, dtype=float)

    x1, x2 = support(mu1), support(mu2)
    p1 = stats.poisson.pmf(x1, mu1)
    p2 = stats.poisson.pmf(x2, mu2)
    eps = 1e-12 * max(1.0, abs(t_obs))  # ties count as "at least as extreme"
    p = 0.0
    step = max(1, 4_000_000 // len(x2))  # bounded memory for large counts
    for i in range(0, len(x1), step):
        t = _t_stat(x1[i:i + step, None], n1, x2[None, :], n2, d)
        if alternative == "greater":
            ind = t >= t_obs - eps
        elif alternative == "less":
            ind = t <= t_obs + eps
        else:
            ind = np.abs(t) >= abs(t_obs) - eps
        p += float(p1[i:i + step] @ (ind @ p2))
    return min(1.0, max(0.0, p))


def etest(
    k1: int,
    n1: float,
    k2: int,
    n2: float,
    *,
    d: float = 0.0,
    alternative: str = "two-sided",
    confidence: float = 0.95,
) -> EvaluationResult:
    """Krishnamoorthy-Thomson E-test comparing two Poisson rates.

    Parameters
    ----------
    k1, n1 : int, float
        Count and exposure of the first period/place (e.g. crimes before, weeks before).
    k2, n2 : int, float
        Count and exposure of the second (e.g. crimes after, weeks after).
    d : float
        Null-hypothesis difference ``lambda1 - lambda2`` in events per unit exposure.
    alternative : {"two-sided", "greater", "less"}
    confidence : float
        Level of the (Wald) interval for the rate difference.

    Returns
    -------
    EvaluationResult
        ``estimate`` is ``k1/n1 - k2/n2`` (events per unit exposure); ``details`` holds both
        rates, the rate ratio ``(k2/n2)/(k1/n1)`` and the E-test statistic.
    """
    k1, n1, k2, n2 = _check(k1, n1, k2, n2, alternative, confidence)
    p = etest_pvalue(k1, n1, k2, n2, d=d, alternative=alternative)
    r1, r2 = k1 / n1, k2 / n2
    est = r1 - r2
    se = math.sqrt(k1 / n1**2 + k2 / n2**2)
    zc = float(stats.norm.ppf(0.5 + confidence / 2))
    return EvaluationResult(
        method="etest",
        estimate=est,
        ci_low=est - zc * se,
        ci_high=est + zc * se,
        p_value=p,
        confidence=confidence,
        assumptions=(
            "each count is Poisson with a constant rate over its exposure (no overdispersion, "
            "no trend or seasonality within a period)",
            "the two counts are independent",
            "no comparison area: any change may be a general trend or regression to the mean",
            "the interval is the Wald interval for the rate difference; the p-value is the "
            "E-test's (exact evaluation of the parametric bootstrap)",
        ),
        smms_level=2,
        design="comparison of two rates (one place before/after, or two places)",
        details={
            "rate1": r1,
            "rate2": r2,
            "rate_ratio_2_over_1": (r2 / r1) if r1 > 0 else float("nan"),
            "t_statistic": float(_t_stat(np.float64(k1), n1, np.float64(k2), n2, d)),
            "d": d,
            "alternative": alternative,
            "estimate_units": "rate difference (events per unit exposure), first minus second",
            "reference": "Krishnamoorthy & Thomson (2004) J. Stat. Plan. Inference 119:23-35",
        },
    )


def exact_conditional(
    k1: int,
    n1: float,
    k2: int,
    n2: float,
    *,
    ratio: float = 1.0,
    alternative: str = "two-sided",
    confidence: float = 0.95,
) -> EvaluationResult:
    """Exact conditional (binomial) test of the rate ratio ``lambda2 / lambda1``.

    Given ``k = k1 + k2`` events, ``k2 ~ Binomial(k, n2*R/(n1 + n2*R))`` with
    ``R = lambda2/lambda1``.

    Parameters
    ----------
    k1, n1, k2, n2 : as :func:`etest`
    ratio : float
        Null-hypothesis rate ratio ``lambda2/lambda1``.
    alternative : {"two-sided", "greater", "less"}
        ``"less"`` tests H1: ratio below ``ratio`` (fewer events in the second period).
    confidence : float
        Level of the Clopper-Pearson interval, mapped to the ratio scale.

    Returns
    -------
    EvaluationResult
        ``estimate`` is the rate ratio ``(k2/n2)/(k1/n1)``; 0.8 means a 20% lower rate.
    """
    k1, n1, k2, n2 = _check(k1, n1, k2, n2, alternative, confidence)
    if not ratio > 0:
        raise InputError("ratio must be positive")
    k = k1 + k2
    if k == 0:
        raise InputError("no events in either period: nothing to compare")
    p0 = n2 * ratio / (n1 + n2 * ratio)
    res = stats.binomtest(k2, k, p0, alternative=alternative)
    # Clopper-Pearson limits from beta quantiles (the same as binomtest's "exact" interval).
    a = 1 - confidence
    ci_lo = 0.0 if k2 == 0 else float(stats.beta.ppf(a / 2, k2, k - k2 + 1))
    ci_hi = 1.0 if k2 == k else float(stats.beta.ppf(1 - a / 2, k2 + 1, k - k2))

    def to_ratio(q: float) -> float:
        if q >= 1:
            return float("inf")
        return q / (1 - q) * n1 / n2

    est = (k2 / n2) / (k1 / n1) if k1 > 0 else float("inf")
    return EvaluationResult(
        method="exact-conditional",
        estimate=est,
        ci_low=to_ratio(ci_lo),
        ci_high=to_ratio(ci_hi),
        p_value=float(res.pvalue),
        confidence=confidence,
        assumptions=(
            "each count is Poisson with a constant rate over its exposure (no overdispersion)",
            "the two counts are independent",
            "no comparison area: any change may be a general trend or regression to the mean",
            "conditional on the total count; the Clopper-Pearson interval is conservative",
        ),
        smms_level=2,
        design="comparison of two rates (one place before/after, or two places)",
        details={
            "rate1": k1 / n1,
            "rate2": k2 / n2,
            "null_ratio": ratio,
            "binomial_p0": p0,
            "alternative": alternative,
            "estimate_units": "rate ratio, second over first",
        },
    )
