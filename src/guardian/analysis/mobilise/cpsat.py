"""The monthly plan by OR-Tools CP-SAT: maximise harm-weighted demand covered under the rules.

Model
-----
``x[v, s]`` (volunteer ``v`` in slot ``s``) exists only for pairs that pass the per-pair rules
(availability, district, accreditation, cadet daytime); ``open[s]`` says the deployment goes
ahead and ``c[s] <= min(sum_v x[v, s], need_s)`` counts covering people. Maximised:
``sum_s w_s c_s + F * z`` with ``z`` (permille) at most every district's coverage share, so the
solver gains by lifting the worst-covered district (fairness) -- the objective is
:func:`~guardian.analysis.mobilise.problem.objective` exactly.

Infeasibility
-------------
When the asked-for deployments (``required``) or fixed assignments cannot all be met, the model
is rebuilt with one enforcement literal per rule (and per request) and solved under those
assumptions; CP-SAT's ``SufficientAssumptionsForInfeasibility`` names a set of rules and
requests that together block it.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable

from ortools.sat.python import cp_model

from guardian.analysis.mobilise.problem import (
    ACCREDITED_KINDS,
    BANDS,
    PERMILLE,
    RULES,
    SHIFT_HOURS,
    Assignment,
    Plan,
    Problem,
    Slot,
    fairness_points,
    objective,
    slot_weights,
)
from guardian.errors import InputError

_STATUS = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible",
           cp_model.INFEASIBLE: "infeasible", cp_model.MODEL_INVALID: "invalid",
           cp_model.UNKNOWN: "unknown"}


def _pairs(problem: Problem, fixed: set[tuple[str, tuple]], excluded: set[str],
           relax: bool) -> dict[tuple[str, tuple], list[str]]:
    """Candidate (volunteer, slot key) pairs -> the per-pair rules that would block them.

    Without ``relax`` only allowed pairs are kept (blockers empty); with ``relax`` fixed pairs
    that break a per-pair rule are kept too, so the explanation can name the rule."""
    by_time: dict[tuple, list[Slot]] = defaultdict(list)
    for s in problem.slots:
        by_time[(s.day, s.band)].append(s)
    out: dict[tuple[str, tuple], list[str]] = {}
    vmap = {v.ref: v for v in problem.volunteers}
    for ref, day, band in problem.available:
        v = vmap.get(ref)
        if v is None or ref in excluded:
            continue
        for s in by_time.get((day, band), ()):
            b = problem.blockers(v, s)
            if not b:
                out[(ref, s.key)] = []
    smap = {s.key: s for s in problem.slots}
    for ref, key in fixed:
        if (ref, key) in out:
            continue
        if ref not in vmap or key not in smap:
            raise InputError(f"fixed assignment {ref} -> {key} names no volunteer or slot")
        b = problem.blockers(vmap[ref], smap[key])
        if ref in excluded:
            b = b + ["availability"]
        if relax or not b:
            out[(ref, key)] = b
    return out


def _build(problem: Problem, pairs, fixed, *, explain: bool):
    m = cp_model.CpModel()
    smap = {s.key: s for s in problem.slots}
    vmap = {v.ref: v for v in problem.volunteers}
    lits: dict[str, cp_model.IntVar] = {}

    def guard(ct, rule: str):
        if explain:
            if rule not in lits:
                lits[rule] = m.NewBoolVar(rule)
            ct.OnlyEnforceIf(lits[rule])
        return ct

    x = {p: m.NewBoolVar(f"x{i}") for i, p in enumerate(pairs)}
    by_slot: dict[tuple, list] = defaultdict(list)
    by_vol: dict[str, list] = defaultdict(list)
    for (ref, key), var in x.items():
        by_slot[key].append((ref, var))
        by_vol[ref].append((key, var))
    # per-pair rules broken by a fixed pair (explain mode only)
    for p, var in x.items():
        for rule in pairs[p]:
            guard(m.Add(var == 0), rule)
    w = slot_weights(problem)
    obj = []
    cover = {}
    dist_terms: dict[str, list] = defaultdict(list)
    dist_tot: dict[str, int] = defaultdict(int)
    for s in problem.slots:
        people = by_slot.get(s.key, [])
        n = sum(v for _, v in people)
        op = m.NewBoolVar(f"open{s.district}{s.day}{s.band}")
        for _, v in people:
            m.AddImplication(v, op)
        guard(m.Add(n >= s.min_people * op), "min_per_deployment")
        guard(m.Add(n <= s.max_people), "max_per_deployment")
        if not people:  # nobody available (and allowed) at that time and place
            guard(m.Add(op == 0), "availability")
        if s.required:
            guard(m.Add(op == 1), f"required:{s.label}")
        for skill in s.skills:
            holders = [v for r, v in people if skill in vmap[r].skills]
            guard(m.Add(sum(holders) >= op), "skills")
        sup_needed = [v for r, v in people if vmap[r].supervised_on(s.day)]
        if sup_needed and not s.officer_present:
            sups = [v for r, v in people if vmap[r].supervises_on(s.day)]
            for v in sup_needed:
                guard(m.Add(sum(sups) >= v), "supervision")
        c = m.NewIntVar(0, s.need, f"c{s.district}{s.day}{s.band}")
        m.Add(c <= n)
        cover[s.key] = c
        obj.append(w[s.key] * c)
        dist_terms[s.district].append(w[s.key] * c)
        dist_tot[s.district] += w[s.key] * s.need
    for ref, items in by_vol.items():
        v = vmap[ref]
        vars_ = [var for _, var in items]
        guard(m.Add(sum(vars_) <= problem.shift_cap(v)), "max_shifts")
        guard(m.Add(SHIFT_HOURS * sum(vars_) <= problem.hour_cap(v)), "max_hours")
        minors = [var for key, var in items if v.minor_on(smap[key].day)]
        if minors:
            guard(m.Add(SHIFT_HOURS * sum(minors) <= problem.rules.under18_max_hours),
                  "under18_hours")
        ordered = sorted(items, key=lambda kv: smap[kv[0]].start_h)
        for i, (ka, va) in enumerate(ordered):
            for kb, vb in ordered[i + 1:]:
                if smap[kb].start_h - smap[ka].start_h >= SHIFT_HOURS + problem.rules.rest_hours:
                    break
                if problem.conflicts(smap[ka], smap[kb]):
                    guard(m.Add(va + vb <= 1), "rest")
    for ref, key in fixed:
        if (ref, key) in x:
            guard(m.Add(x[(ref, key)] == 1), f"fixed:{ref}@{smap[key].label}")
    fp = fairness_points(problem)
    if fp > 0 and dist_tot:
        z = m.NewIntVar(0, PERMILLE, "fair")
        for d, terms in dist_terms.items():
            if dist_tot[d] > 0:
                m.Add(z * dist_tot[d] <= PERMILLE * sum(terms))
        obj.append(fp * z)
    m.Maximize(sum(obj))
    return m, x, lits


def _why(vmap: dict, a_ref: str, s: Slot, mates: list[str], rank: dict, n_slots: int) -> str:
    v = vmap[a_ref]
    parts = [f"covers {s.demand:.1f} demand at {s.label} (rank {rank[s.key]} of "
             f"{n_slots} deployments{'; ' + s.reason if s.reason else ''})",
             f"allowed: available {s.day.isoformat()} {BANDS[s.band]}, deploys in {s.district}"]
    if v.kind in ACCREDITED_KINDS:
        parts.append(f"accreditation valid to {v.accredited_until.isoformat()}")
    if v.supervised_on(s.day):
        sup = [r for r in mates if vmap[r].supervises_on(s.day)]
        parts.append("supervised by " + (", ".join(sup) if sup else "the police officer present"))
    if v.kind == "cadet":
        parts.append("daytime band (cadet)")
    return "; ".join(parts)


def explain_assignments(problem: Problem, assignments: Iterable[Assignment],
                        fixed: set | None = None) -> tuple[Assignment, ...]:
    """The assignments with their "why": the demand covered and the rules that allowed them."""
    smap = {s.key: s for s in problem.slots}
    vmap = {v.ref: v for v in problem.volunteers}
    order = sorted(problem.slots, key=lambda s: (-s.demand, s.district, s.day, s.band))
    rank = {s.key: i + 1 for i, s in enumerate(order)}
    by_slot: dict[tuple, list[str]] = defaultdict(list)
    items = list(assignments)
    for a in items:
        by_slot[a.key].append(a.volunteer)
    fixed = fixed or set()
    out = []
    for a in sorted(items, key=lambda a: (a.day, a.band, a.district, a.volunteer)):
        why = _why(vmap, a.volunteer, smap[a.key], by_slot[a.key], rank, len(problem.slots))
        is_fixed = (a.volunteer, a.key) in fixed
        if is_fixed:
            why = "fixed by the coordinator; " + why
        out.append(Assignment(a.volunteer, a.district, a.day, a.band, why, is_fixed))
    return tuple(out)


def solve(problem: Problem, *, fixed: Iterable[tuple[str, tuple]] = (),
          excluded: Iterable[str] = (), hint: Iterable[Assignment] = (),
          time_limit_s: float = 60.0, workers: int = 2, random_state: int = 0) -> Plan:
    """Solve the plan with CP-SAT.

    Parameters
    ----------
    problem : Problem
    fixed : iterable of (volunteer ref, slot key)
        Assignments that must be kept (a re-solve after a drop-out fixes the rest of the plan).
    excluded : iterable of str
        Volunteers who dropped out: never assigned (a fixed pair naming one is infeasible).
    hint : iterable of Assignment
        A previous plan, given to the solver as a starting point.
    time_limit_s : float
        Wall-clock limit in seconds; the plan is "feasible" (with CP-SAT's gap) when hit.
    workers : int
        Search workers (threads).
    random_state : int
        CP-SAT's random seed.

    Returns
    -------
    Plan
        With ``blocked_by`` naming rules and requests when infeasible.
    """
    t0 = time.perf_counter()
    fixed = set(fixed)
    excluded = set(excluded)
    pairs = _pairs(problem, fixed, excluded, relax=False)
    total_demand = float(sum(s.demand for s in problem.slots))
    missing = [(r, k) for r, k in fixed if (r, k) not in pairs]
    if not missing:
        m, x, _ = _build(problem, pairs, fixed, explain=False)
        for a in hint:
            if (a.volunteer, a.key) in x:
                m.AddHint(x[(a.volunteer, a.key)], 1)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = float(time_limit_s)
        solver.parameters.num_search_workers = int(workers)
        solver.parameters.random_seed = int(random_state)
        st = solver.Solve(m)
        status = _STATUS.get(st, "unknown")
        if st in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            chosen = [Assignment(r, *k) for (r, k), var in x.items() if solver.Value(var)]
            chosen = explain_assignments(problem, chosen, fixed)
            val, cover = objective(problem, chosen)
            bound = float(solver.BestObjectiveBound())
            gap = (bound - val) / bound if bound > 0 else 0.0
            return Plan(status, chosen, val, cover, total_demand, bound=bound,
                        gap=max(0.0, gap), seconds=time.perf_counter() - t0,
                        explanation=f"{len(chosen)} assignments; CP-SAT {status}, gap "
                                    f"{100 * max(0.0, gap):.2f}%")
        if st != cp_model.INFEASIBLE:
            return Plan(status, (), 0, 0.0, total_demand, seconds=time.perf_counter() - t0,
                        explanation=f"CP-SAT found no plan within {time_limit_s:g} s ({status})")
    blocked = explain_infeasible(problem, fixed=fixed, excluded=excluded)
    return Plan("infeasible", (), 0, 0.0, total_demand, blocked_by=blocked,
                explanation=describe_block(problem, blocked), seconds=time.perf_counter() - t0)


def explain_infeasible(problem: Problem, *, fixed: Iterable = (), excluded: Iterable = (),
                       time_limit_s: float = 30.0) -> tuple[str, ...]:
    """Rules and requests that together make the plan infeasible (sorted; empty when it is
    feasible). Requests are named ``required:<slot>`` and ``fixed:<volunteer>@<slot>``."""
    fixed = set(fixed)
    pairs = _pairs(problem, fixed, set(excluded), relax=True)
    m, _, lits = _build(problem, pairs, fixed, explain=True)
    m.ClearObjective()
    m.AddAssumptions(list(lits.values()))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.num_search_workers = 1  # assumptions cores need a single worker
    st = solver.Solve(m)
    if st != cp_model.INFEASIBLE:
        return ()
    names = {v.Index(): k for k, v in lits.items()}
    core = sorted(names[i] for i in solver.SufficientAssumptionsForInfeasibility())
    return tuple(core)


def describe_block(problem: Problem, blocked: Iterable[str]) -> str:
    """A sentence per rule or request in ``blocked``."""
    parts = []
    for name in blocked:
        rule, _, what = name.partition(":")
        text = RULES.get(rule, rule)
        parts.append(f"{rule}{' (' + what + ')' if what else ''}: {text}")
    if not parts:
        return "infeasible, but no rule could be named"
    return "infeasible; these together block the plan -- " + " | ".join(parts)
