"""Recount every rule on any plan (CP-SAT's, greedy's, a hand-edited one)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from guardian.analysis.mobilise.problem import SHIFT_HOURS, Assignment, Problem


@dataclass(frozen=True)
class Violation:
    """One broken rule: its name (a key of :data:`~guardian.analysis.mobilise.problem.RULES`),
    who or where, and what was found."""

    rule: str
    where: str
    detail: str


def check_plan(problem: Problem, assignments: Iterable[Assignment], *,
               fixed: Iterable[tuple[str, tuple]] = (),
               excluded: Iterable[str] = ()) -> list[Violation]:
    """Every rule broken by ``assignments`` (empty list: the plan keeps every rule).

    Independent of the solvers: it recounts from the problem's definitions, one rule at a time.
    """
    items = list(assignments)
    smap = {s.key: s for s in problem.slots}
    vmap = {v.ref: v for v in problem.volunteers}
    out: list[Violation] = []
    by_slot: dict[tuple, list[str]] = defaultdict(list)
    by_vol: dict[str, list[tuple]] = defaultdict(list)
    seen = set()
    for a in items:
        if a.key not in smap:
            out.append(Violation("district", a.volunteer, f"no deployment {a.key}"))
            continue
        if a.volunteer not in vmap:
            out.append(Violation("availability", a.volunteer, "not in the registry"))
            continue
        if (a.volunteer, a.key) in seen:
            out.append(Violation("max_per_deployment", a.volunteer, "assigned twice to one slot"))
            continue
        seen.add((a.volunteer, a.key))
        by_slot[a.key].append(a.volunteer)
        by_vol[a.volunteer].append(a.key)
    for ref in set(excluded):
        for key in by_vol.get(ref, ()):
            out.append(Violation("availability", ref, f"dropped out but assigned {key}"))
    for ref, keys in by_vol.items():
        v = vmap[ref]
        for key in keys:
            s = smap[key]
            for rule in problem.blockers(v, s):
                out.append(Violation(rule, ref, s.label))
        if len(keys) > problem.shift_cap(v):
            out.append(Violation("max_shifts", ref, f"{len(keys)} > {problem.shift_cap(v)}"))
        if SHIFT_HOURS * len(keys) > problem.hour_cap(v):
            out.append(Violation("max_hours", ref,
                                 f"{SHIFT_HOURS * len(keys)} h > {problem.hour_cap(v)} h"))
        minor_h = SHIFT_HOURS * sum(1 for k in keys if v.minor_on(smap[k].day))
        if minor_h > problem.rules.under18_max_hours:
            out.append(Violation("under18_hours", ref,
                                 f"{minor_h} h > {problem.rules.under18_max_hours} h"))
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                if problem.conflicts(smap[a], smap[b]):
                    out.append(Violation("rest", ref, f"{smap[a].label} and {smap[b].label}"))
    for s in problem.slots:
        people = by_slot.get(s.key, [])
        n = len(people)
        if n and n < s.min_people:
            out.append(Violation("min_per_deployment", s.label, f"{n} < {s.min_people}"))
        if n > s.max_people:
            out.append(Violation("max_per_deployment", s.label, f"{n} > {s.max_people}"))
        if s.required and n == 0:
            out.append(Violation("required", s.label, "asked for but not staffed"))
        if n:
            for skill in s.skills:
                if not any(skill in vmap[r].skills for r in people):
                    out.append(Violation("skills", s.label, f"nobody with {skill!r}"))
            needing = [r for r in people if vmap[r].supervised_on(s.day)]
            if needing and not s.officer_present and not any(
                    vmap[r].supervises_on(s.day) for r in people):
                out.append(Violation("supervision", s.label,
                                     f"{', '.join(needing)} without a supervising adult"))
    have = {(a.volunteer, a.key) for a in items}
    for ref, key in fixed:
        if (ref, key) not in have:
            out.append(Violation("fixed", ref, f"fixed to {key} but not in the plan"))
    return out
