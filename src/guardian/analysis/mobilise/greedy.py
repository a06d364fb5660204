"""A greedy baseline: the most demanding slot first, each filled with whoever still can go.

What a coordinator with a spreadsheet does: sort deployments by demand, and for each take the
available, allowed people who have worked least so far (Specials first, so a deployment with
cadets has its supervisor), until the slot's need is met; a slot that cannot reach its minimum,
or cannot be supervised, or lacks a needed skill, is left empty.
"""

from __future__ import annotations

import time
from collections import defaultdict

from guardian.analysis.mobilise.cpsat import explain_assignments
from guardian.analysis.mobilise.problem import SHIFT_HOURS, Assignment, Plan, Problem, objective


def greedy_plan(problem: Problem, *, excluded=()) -> Plan:
    """The greedy baseline plan (keeps every rule; scored by the same objective)."""
    t0 = time.perf_counter()
    excluded = set(excluded)
    free: dict[tuple, list[str]] = defaultdict(list)
    for ref, day, band in problem.available:
        if ref not in excluded:
            free[(day, band)].append(ref)
    vmap = {v.ref: v for v in problem.volunteers}
    taken: dict[str, list] = defaultdict(list)
    chosen: list[Assignment] = []
    for s in sorted(problem.slots, key=lambda s: (-s.demand, s.day, s.band, s.district)):
        def can(ref: str, s=s) -> bool:
            v = vmap.get(ref)
            if v is None or problem.blockers(v, s):
                return False
            mine = taken[ref]
            if len(mine) + 1 > problem.shift_cap(v):
                return False
            if SHIFT_HOURS * (len(mine) + 1) > problem.hour_cap(v):
                return False
            if v.minor_on(s.day) and SHIFT_HOURS * (1 + sum(
                    1 for o in mine if v.minor_on(o.day))) > problem.rules.under18_max_hours:
                return False
            return not any(problem.conflicts(o, s) for o in mine)

        cands = sorted((r for r in free.get((s.day, s.band), ()) if can(r)),
                       key=lambda r: (not vmap[r].supervises_on(s.day), len(taken[r]), r))
        team: list[str] = []
        has_sup = s.officer_present
        for r in cands:
            if len(team) >= min(s.need, s.max_people):
                break
            v = vmap[r]
            if v.supervised_on(s.day) and not has_sup:
                continue
            team.append(r)
            has_sup = has_sup or v.supervises_on(s.day)
        for skill in s.skills:
            if team and not any(skill in vmap[r].skills for r in team):
                extra = [r for r in cands if r not in team and skill in vmap[r].skills
                         and (not vmap[r].supervised_on(s.day) or has_sup)]
                if extra and len(team) < s.max_people:
                    team.append(extra[0])
                else:
                    team = []
        if len(team) < s.min_people:
            continue
        for r in team:
            taken[r].append(s)
            chosen.append(Assignment(r, s.district, s.day, s.band))
    plan = explain_assignments(problem, chosen)
    val, cover = objective(problem, plan)
    return Plan("greedy", plan, val, cover, float(sum(s.demand for s in problem.slots)),
                seconds=time.perf_counter() - t0, method="greedy",
                explanation=f"{len(plan)} assignments, most demanding slot first")
