"""Weighted displacement quotient (Bowers & Johnson 2003) with the buffer's displacement/diffusion.

Bowers, K. J. & Johnson, S. D. (2003). Measuring the geographical displacement and diffusion of
benefit effects of crime prevention activity. *Journal of Quantitative Criminology* 19(3),
275-301.

With counts ``R`` (response/treated area), ``B`` (buffer) and ``C`` (control), before (0) and
after (1)::

    success measure  SM  = R1/C1 - R0/C0           (< 0: the treated area improved vs control)
    buffer measure   BDM = B1/C1 - B0/C0           (> 0: buffer got worse vs control)
    WDQ = BDM / SM
    total net effect TNE = (R0*C1/C0 - R1) + (B0*C1/C0 - B1)   (crimes prevented, > 0 good)

Reading WDQ when SM < 0 (the scheme "worked"): WDQ > 0 diffusion of benefits; WDQ > 1 the
diffusion exceeds the direct effect; -1 < WDQ < 0 some displacement, smaller than the direct
effect; WDQ < -1 displacement exceeds the direct effect. WDQ is undefined when SM = 0 and is not
interpreted when SM >= 0.

The paper gives no sampling distribution. Here the interval is a seeded parametric (Poisson)
bootstrap of WDQ, and the p-value is the Wald test of "no change in the buffer relative to the
control", ``log((B1/B0)/(C1/C0)) = 0``, with variance ``1/B0 + 1/B1 + 1/C0 + 1/C1``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from guardian.errors import InputError

from .result import EvaluationResult


def _ratio_of_ratios(a0: float, a1: float, c0: float, c1: float) -> tuple[float, float, float]:
    """log((a1/a0)/(c1/c0)), its Poisson SE and two-sided p."""
    if min(a0, a1, c0, c1) <= 0:
        return float("nan"), float("nan"), float("nan")
    lr = math.log((a1 / a0) / (c1 / c0))
    se = math.sqrt(1 / a0 + 1 / a1 + 1 / c0 + 1 / c1)
    return lr, se, float(2 * stats.norm.sf(abs(lr / se)))


def wdq_measures(r0, r1, b0, b1, c0, c1) -> dict:
    """Bowers & Johnson's SM, BDM, WDQ and TNE from the six counts (pure arithmetic).

    Returns
    -------
    dict
        ``success_measure``, ``buffer_measure``, ``wdq`` (NaN when SM = 0) and
        ``total_net_effect`` (crimes; positive = crimes prevented in treated + buffer).
    """
    if c0 <= 0 or c1 <= 0:
        raise InputError("the control area needs crimes in both periods for the WDQ")
    sm = r1 / c1 - r0 / c0
    bdm = b1 / c1 - b0 / c0
    wdq = bdm / sm if sm != 0 else float("nan")
    tne = (r0 * c1 / c0 - r1) + (b0 * c1 / c0 - b1)
    return {"success_measure": sm, "buffer_measure": bdm, "wdq": wdq, "total_net_effect": tne}


def interpret_wdq(sm: float, wdq: float) -> str:
    """Plain-words reading of a WDQ (Bowers & Johnson 2003, table 1)."""
    if not sm < 0:
        return "no success in the treated area relative to control: WDQ not interpreted"
    if math.isnan(wdq):
        return "WDQ undefined"
    if wdq > 1:
        return "diffusion of benefits larger than the direct effect"
    if wdq > 0:
        return "diffusion of benefits into the buffer"
    if wdq == 0:
        return "no displacement or diffusion"
    if wdq > -1:
        return "some displacement into the buffer, smaller than the direct effect"
    return "displacement larger than the direct effect (net harm)"


def wdq(
    treated_before: float,
    treated_after: float,
    buffer_before: float,
    buffer_after: float,
    control_before: float,
    control_after: float,
    *,
    confidence: float = 0.95,
    n_boot: int = 4000,
    random_state: int = 0,
) -> EvaluationResult:
    """Weighted displacement quotient with a bootstrap interval and a buffer-vs-control test.

    Parameters
    ----------
    treated_before, treated_after, buffer_before, buffer_after, control_before, control_after
        Crime counts over equal before/after periods (non-negative).
    confidence : float
        Level of the percentile bootstrap interval for WDQ.
    n_boot : int
        Parametric bootstrap draws (Poisson, means = observed counts).
    random_state : int
        Seed, so the interval is reproducible.

    Returns
    -------
    EvaluationResult
        ``estimate`` is the WDQ; ``details`` holds SM, BDM, TNE and the reading.
    """
    vals = [treated_before, treated_after, buffer_before, buffer_after, control_before,
            control_after]
    if any(v is None or not math.isfinite(v) or v < 0 for v in vals):
        raise InputError("WDQ counts must be finite and non-negative")
    r0, r1, b0, b1, c0, c1 = (float(v) for v in vals)
    m = wdq_measures(r0, r1, b0, b1, c0, c1)
    rng = np.random.default_rng(random_state)
    draws = rng.poisson(np.array(vals)[:, None], size=(6, n_boot)).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        smb = draws[1] / draws[5] - draws[0] / draws[4]
        bdmb = draws[3] / draws[5] - draws[2] / draws[4]
        wq = bdmb / smb
    wq = wq[np.isfinite(wq)]
    alpha = 1 - confidence
    if wq.size >= n_boot // 2 and math.isfinite(m["wdq"]):
        lo, hi = (float(q) for q in np.quantile(wq, [alpha / 2, 1 - alpha / 2]))
    else:
        lo = hi = float("nan")
    lr, se, p = _ratio_of_ratios(b0, b1, c0, c1)
    lr_t, se_t, p_t = _ratio_of_ratios(r0, r1, c0, c1)
    return EvaluationResult(
        method="wdq",
        estimate=m["wdq"],
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        confidence=confidence,
        assumptions=(
            "before and after periods are of equal length in every area",
            "the control area shows what would have happened without the scheme, and is far "
            "enough away not to receive displaced crime itself",
            "counts are Poisson (the bootstrap and the test ignore overdispersion)",
            "the WDQ is a ratio: its interval is wide and unstable when the success measure is "
            "near zero",
            "p-value tests no change in the buffer relative to the control",
        ),
        smms_level=3,
        design="before-after in treated area, buffer and control area",
        details={
            **m,
            "reading": interpret_wdq(m["success_measure"], m["wdq"]),
            "buffer_vs_control_log_ratio": lr,
            "buffer_vs_control_se": se,
            "treated_vs_control_ratio": math.exp(lr_t) if math.isfinite(lr_t) else float("nan"),
            "treated_vs_control_p": p_t,
            "bootstrap_draws": int(n_boot),
            "random_state": int(random_state),
            "estimate_units": "quotient (buffer measure / success measure)",
            "reference": "Bowers & Johnson (2003) J. Quant. Criminol. 19:275-301",
        },
    )
