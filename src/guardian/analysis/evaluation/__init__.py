"""Evaluation of place-based interventions: did it work, how sure are we, and how strong is the design.

Pure statistics (numpy / scipy / statsmodels in, :class:`EvaluationResult` out). Every result
states its estimate, confidence interval, p-value, assumptions and the Maryland Scientific
Methods Scale level of the design that produced the data.

=====================  ==========================================================  =========
function               question                                                    SMS level
=====================  ==========================================================  =========
:func:`wdd`            treated vs control change (+ buffer), optionally harm        3
:func:`wdq`            displacement / diffusion into the buffer                     3
:func:`etest`          two Poisson rates (before/after)                             2
:func:`exact_conditional`  two Poisson rates, exact rate-ratio interval             2
:func:`did_counts`     area x period counts, NB GLM with area and period effects    3-4
:func:`synthetic_comparison`  one treated area vs a weighted mix of donors          3
:func:`hotspot_trial`  randomised patrol vs control place-days (crime and harm)     5
:func:`cocoon_effect`  near repeats after cocooned vs uncocooned burglaries         2
:func:`power_analysis` weeks needed / power / MDE, by formula and simulation        planned
=====================  ==========================================================  =========
"""

from __future__ import annotations

from .cocoon import cocoon_effect, near_repeat_counts
from .did import did_counts, synthetic_comparison
from .power import (
    PowerResult,
    minimum_detectable_effect,
    power_analysis,
    power_formula,
    simulate_power,
    weeks_needed,
)
from .rates import etest, etest_pvalue, exact_conditional
from .result import SMS_LEVELS, EvaluationResult
from .trial import TrialEvaluation, hotspot_trial
from .wdd import wdd
from .wdq import interpret_wdq, wdq, wdq_measures

__all__ = [
    "SMS_LEVELS",
    "EvaluationResult",
    "PowerResult",
    "TrialEvaluation",
    "cocoon_effect",
    "did_counts",
    "etest",
    "etest_pvalue",
    "exact_conditional",
    "hotspot_trial",
    "interpret_wdq",
    "minimum_detectable_effect",
    "near_repeat_counts",
    "power_analysis",
    "power_formula",
    "simulate_power",
    "synthetic_comparison",
    "wdd",
    "wdq",
    "wdq_measures",
    "weeks_needed",
]
