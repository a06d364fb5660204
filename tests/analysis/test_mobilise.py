"""The mobilisation model on small hand-checked cases: every rule triggered, CP-SAT equal to a
brute-force optimum, re-solve keeps fixed assignments, infeasibility names the rule."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from guardian.analysis.mobilise import (
    Assignment,
    Problem,
    Rules,
    Slot,
    Volunteer,
    check_plan,
    greedy_plan,
    objective,
    solve,
)
from guardian.errors import InputError

D = date(2026, 1, 5)
ADULT = None


def vol(ref, kind="active-citizen", district="A", **kw):
    return Volunteer(ref=ref, kind=kind, districts=(district,), **kw)


def avail(*triples):
    return frozenset(triples)


def refs(plan, key=None):
    return sorted(a.volunteer for a in plan.assignments if key is None or a.key == key)


def test_cadet_never_at_night_and_never_unsupervised():
    cadet = vol("C1", "cadet", date_of_birth=date(2010, 3, 1))
    sc = vol("S1", "special")
    ac = vol("A1")
    night = Slot("A", D, 1, demand=10, need=3, min_people=1, max_people=3)
    day = Slot("A", D + timedelta(days=2), 0, demand=5, need=3, min_people=1, max_people=3)
    p = Problem((cadet, sc, ac), (night, day),
                avail(("C1", D, 1), ("S1", D, 1), ("A1", D, 1),
                      ("C1", day.day, 0), ("A1", day.day, 0)))
    plan = solve(p)
    assert plan.status == "optimal"
    # at night only the adults; in the day the cadet has no Special with them, so stays home
    assert refs(plan, night.key) == ["A1", "S1"]
    assert refs(plan, day.key) == ["A1"]
    assert check_plan(p, plan.assignments) == []
    # the checker catches both if a plan forces them
    bad = [Assignment("C1", "A", D, 1), Assignment("C1", "A", day.day, 0),
           Assignment("A1", "A", day.day, 0)]
    rules = sorted(v.rule for v in check_plan(p, bad))
    # the night slot: a cadet, alone; the day slot: a cadet with an Active Citizen only
    assert rules == ["cadet_daytime", "supervision", "supervision"]
    # with a Special free in the day the cadet goes, and the why names the supervisor
    p2 = Problem(p.volunteers, p.slots, p.available | {("S1", day.day, 0)})
    plan2 = solve(p2)
    assert "C1" in refs(plan2, day.key) and "S1" in refs(plan2, day.key)
    why = next(a.why for a in plan2.assignments if a.volunteer == "C1")
    assert "supervised by S1" in why and "daytime band (cadet)" in why


def test_officer_present_supervises_cadets():
    cadet = vol("C1", "cadet", date_of_birth=date(2011, 1, 1))
    s = Slot("A", D, 0, demand=3, need=1, min_people=1, officer_present=True)
    plan = solve(Problem((cadet,), (s,), avail(("C1", D, 0))))
    assert refs(plan) == ["C1"]
    assert "police officer present" in plan.assignments[0].why


def test_expired_accreditation_never_assigned():
    ok = vol("P1", "csas", accredited_until=D)
    expired = vol("P2", "csas", accredited_until=D - timedelta(days=1))
    never = vol("P3", "csas")
    s = Slot("A", D, 0, demand=9, need=3, min_people=1, max_people=3)
    p = Problem((ok, expired, never), (s,), avail(*[(r, D, 0) for r in ("P1", "P2", "P3")]))
    assert refs(solve(p)) == ["P1"]
    assert refs(greedy_plan(p)) == ["P1"]
    v = check_plan(p, [Assignment("P2", "A", D, 0)])
    assert [x.rule for x in v] == ["accreditation"]


def test_rest_max_shifts_hours_and_under18_caps():
    # 16-24 then 24-08 the same night: no rest at all -> one of them only
    a = Slot("A", D, 1, demand=4, need=1, min_people=1)
    b = Slot("A", D, 2, demand=3, need=1, min_people=1)
    c = Slot("A", D + timedelta(days=3), 0, demand=2, need=1, min_people=1)
    v = vol("A1")
    p = Problem((v,), (a, b, c), avail(("A1", D, 1), ("A1", D, 2), ("A1", c.day, 0)))
    assert sorted(x.key for x in solve(p).assignments) == sorted([a.key, c.key])
    assert [x.rule for x in check_plan(p, [Assignment("A1", *a.key), Assignment("A1", *b.key)])
            ] == ["rest"]
    # max one shift: only the most demanding
    p1 = Problem((vol("A1", max_shifts=1),), (a, b, c), p.available)
    assert [x.key for x in solve(p1).assignments] == [a.key]
    # max 8 hours is the same limit through hours
    p2 = Problem((vol("A1", max_hours=8),), (a, b, c), p.available)
    assert [x.key for x in solve(p2).assignments] == [a.key]
    assert {x.rule for x in check_plan(p2, [Assignment("A1", *a.key),
                                            Assignment("A1", *c.key)])} == {"max_hours"}
    # an under-18 PSV (not a cadet) with a Special: day shifts capped at 8 h in the period
    young = vol("Y1", "psv", date_of_birth=date(2009, 6, 1))
    sc = vol("S1", "special")
    d1, d2 = Slot("A", D, 0, 5, need=2, min_people=1), Slot("A", D + timedelta(2), 0, 4, need=2,
                                                               min_people=1)
    p3 = Problem((young, sc), (d1, d2),
                 avail(*[(r, s.day, 0) for r in ("Y1", "S1") for s in (d1, d2)]),
                 Rules(under18_max_hours=8))
    plan = solve(p3)
    assert sum(1 for x in plan.assignments if x.volunteer == "Y1") == 1
    assert check_plan(p3, plan.assignments) == []
    bad = [Assignment(r, *s.key) for r in ("Y1", "S1") for s in (d1, d2)]
    assert [x.rule for x in check_plan(p3, bad)] == ["under18_hours"]


def test_skills_min_max_and_district():
    medic = vol("M1", skills=frozenset({"first aid"}))
    others = [vol(f"A{i}") for i in range(4)]
    away = vol("B1", district="B", skills=frozenset({"first aid"}))
    s = Slot("A", D, 0, demand=10, need=4, min_people=2, max_people=3, skills=("first aid",))
    everyone = (medic, *others, away)
    p = Problem(everyone, (s,), avail(*[(v.ref, D, 0) for v in everyone]))
    plan = solve(p)
    assert "M1" in refs(plan) and len(plan.assignments) == 3 and "B1" not in refs(plan)
    assert check_plan(p, plan.assignments) == []
    checks = {x.rule for x in check_plan(p, [Assignment(f"A{i}", *s.key) for i in range(4)])}
    assert checks == {"skills", "max_per_deployment"}
    assert {x.rule for x in check_plan(p, [Assignment("M1", *s.key)])} == {"min_per_deployment"}
    assert {x.rule for x in check_plan(p, [Assignment("B1", *s.key)])} >= {"district"}
    # without the medic nobody may go: the skill is required
    p2 = Problem(everyone[1:5], (s,), avail(*[(v.ref, D, 0) for v in everyone[1:5]]))
    assert solve(p2).assignments == ()


def test_infeasible_request_names_the_rules():
    cadet = vol("C1", "cadet", date_of_birth=date(2011, 1, 1))
    ac = vol("A1")
    s = Slot("A", D, 0, demand=5, need=2, min_people=2, required=True)
    p = Problem((cadet, ac), (s,), avail(("C1", D, 0), ("A1", D, 0)))
    plan = solve(p)
    assert plan.status == "infeasible" and plan.assignments == ()
    assert "supervision" in plan.blocked_by
    assert any(b.startswith("required:A 2026-01-05 08-16") for b in plan.blocked_by)
    assert "never without a supervising adult" in plan.explanation
    # nobody available at all: availability is named
    empty = Problem((ac,), (s,), frozenset())
    blocked = set(solve(empty).blocked_by)
    assert f"required:{s.label}" in blocked
    assert blocked & {"availability", "min_per_deployment"}
    # a fixed assignment of an expired accreditation names the accreditation rule
    pp = vol("P1", "csas", accredited_until=D - timedelta(days=30))
    s2 = Slot("A", D, 0, demand=1, need=1, min_people=1)
    fixed = solve(Problem((pp,), (s2,), avail(("P1", D, 0))), fixed=[("P1", s2.key)])
    assert fixed.status == "infeasible"
    assert "accreditation" in fixed.blocked_by


def test_resolve_keeps_fixed_assignments_after_drop_out():
    sc1, sc2 = vol("S1", "special"), vol("S2", "special")
    cad = vol("C1", "cadet", date_of_birth=date(2012, 1, 1))
    ac = [vol(f"A{i}") for i in range(3)]
    s1 = Slot("A", D, 0, demand=8, need=3, min_people=2)
    s2 = Slot("A", D + timedelta(1), 0, demand=6, need=3, min_people=2)
    people = (sc1, sc2, cad, *ac)
    av = avail(*[(v.ref, s.day, 0) for v in people for s in (s1, s2)])
    p = Problem(people, (s1, s2), av)
    first = solve(p)
    assert check_plan(p, first.assignments) == []
    drop = next(a.volunteer for a in first.assignments if a.key == s1.key)
    keep = [(a.volunteer, a.key) for a in first.assignments
            if a.key != s1.key and a.volunteer != drop]
    again = solve(p, fixed=keep, excluded=[drop], hint=first.assignments)
    got = {(a.volunteer, a.key) for a in again.assignments}
    assert set(keep) <= got
    assert drop not in refs(again)
    assert check_plan(p, again.assignments, fixed=keep, excluded=[drop]) == []
    assert all(a.fixed for a in again.assignments if (a.volunteer, a.key) in set(keep))


def _brute(p: Problem) -> int:
    pairs = [(v.ref, s.key) for v in p.volunteers for s in p.slots]
    best = 0
    for mask in range(1 << len(pairs)):
        chosen = [Assignment(r, *k) for i, (r, k) in enumerate(pairs) if mask >> i & 1]
        if check_plan(p, chosen):
            continue
        best = max(best, objective(p, chosen)[0])
    return best


@pytest.mark.parametrize("seed", range(5))
def test_cpsat_equals_brute_force_on_tiny_instances(seed):
    rng = random.Random(seed)
    kinds = ["special", "cadet", "csas", "active-citizen", "psv"]
    vols = []
    for i in range(3):
        k = rng.choice(kinds)
        vols.append(Volunteer(
            f"V{i}", k, (rng.choice("AB"),),
            skills=frozenset({"first aid"}) if rng.random() < 0.4 else frozenset(),
            accredited_until=D + timedelta(rng.choice([-1, 5])) if k == "csas" else None,
            date_of_birth=date(2010, 1, 1) if k == "cadet" else None,
            max_shifts=rng.choice([None, 1])))
    slots = []
    for d, day, band in [("A", D, 0), ("B", D, 0), ("A", D, 1), ("B", D + timedelta(1), 0)]:
        slots.append(Slot(d, day, band, demand=rng.randint(1, 9), need=rng.randint(1, 2),
                          min_people=1, max_people=2,
                          skills=("first aid",) if rng.random() < 0.25 else ()))
    av = frozenset((v.ref, s.day, s.band) for v in vols for s in slots if rng.random() < 0.7)
    p = Problem(tuple(vols), tuple(slots), av, Rules(fairness_weight=rng.choice([0.0, 0.5])))
    plan = solve(p)
    assert plan.status == "optimal"
    assert check_plan(p, plan.assignments) == []
    assert plan.objective == _brute(p)
    g = greedy_plan(p)
    assert check_plan(p, g.assignments) == []
    assert g.objective <= plan.objective


def test_fairness_lifts_the_starved_district():
    # one Special, two slots at the same time: A has more demand, B none covered without fairness
    sc = Volunteer("S1", "special", ("A", "B"))
    a = Slot("A", D, 0, demand=10, need=1, min_people=1)
    b = Slot("B", D, 0, demand=9, need=1, min_people=1)
    c = Slot("A", D + timedelta(2), 0, demand=1, need=1, min_people=1)
    av = avail(("S1", D, 0), ("S1", c.day, 0))
    no_fair = solve(Problem((sc,), (a, b, c), av, Rules(fairness_weight=0)))
    assert sorted(x.district for x in no_fair.assignments) == ["A", "A"]
    fair = solve(Problem((sc,), (a, b, c), av, Rules(fairness_weight=1.0)))
    assert sorted(x.district for x in fair.assignments) == ["A", "B"]


def test_inputs_are_checked():
    with pytest.raises(InputError, match="type 'sergeant'"):
        vol("X", "sergeant")
    with pytest.raises(InputError, match="band 5"):
        Slot("A", D, 5, demand=1)
    with pytest.raises(InputError, match="min_people"):
        Slot("A", D, 0, demand=1, min_people=3, max_people=2)
    with pytest.raises(InputError, match="unique"):
        Problem((vol("X"), vol("X")), (), frozenset())
    with pytest.raises(InputError, match="max_shifts"):
        Rules(max_shifts=-1)


def test_checker_names_availability_required_and_fixed():
    a = vol("A1")
    s = Slot("A", D, 0, demand=1, need=1, min_people=1, required=True)
    p = Problem((a,), (s,), frozenset())
    assert [v.rule for v in check_plan(p, [])] == ["required"]
    got = {v.rule for v in check_plan(p, [Assignment("A1", *s.key)],
                                      fixed=[("A1", (s.district, D + timedelta(1), 0))],
                                      excluded=["A1"])}
    assert got == {"availability", "fixed"}
