"""The monthly mobilisation plan: volunteers to district x day x band deployments.

Pure: dataclasses in and out (:mod:`.problem`), CP-SAT (:mod:`.cpsat`), a greedy baseline
(:mod:`.greedy`) and a rule checker (:mod:`.checker`) that recounts every rule on any plan.
"""

from guardian.analysis.mobilise.checker import Violation, check_plan
from guardian.analysis.mobilise.cpsat import describe_block, explain_infeasible, solve
from guardian.analysis.mobilise.greedy import greedy_plan
from guardian.analysis.mobilise.problem import (
    BANDS,
    KINDS,
    RULES,
    Assignment,
    Plan,
    Problem,
    Rules,
    Slot,
    Volunteer,
    objective,
)

__all__ = ["BANDS", "KINDS", "RULES", "Assignment", "Plan", "Problem", "Rules", "Slot",
           "Violation", "Volunteer", "check_plan", "describe_block", "explain_infeasible",
           "greedy_plan", "objective", "solve"]
