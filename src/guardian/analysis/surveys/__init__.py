"""Public perception surveys: weighting to the population, design effects, and honest change.

Pure functions: respondents as a DataFrame in, weights / estimates / comparisons out. The
loader that validates survey files is :mod:`guardian.data.surveys`.
"""

from __future__ import annotations

from .estimates import (
    ComparisonResult,
    ProportionEstimate,
    compare_proportions,
    compare_to_value,
    perception_statement,
    weighted_proportion,
    wilson_interval,
)
from .report import QuestionResult, survey_results
from .weighting import effective_sample_size, kish_deff, poststratify, rake

__all__ = [
    "ComparisonResult",
    "ProportionEstimate",
    "QuestionResult",
    "compare_proportions",
    "compare_to_value",
    "effective_sample_size",
    "kish_deff",
    "perception_statement",
    "poststratify",
    "rake",
    "survey_results",
    "weighted_proportion",
    "wilson_interval",
]
