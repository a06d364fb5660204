"""Benchmark: the monthly mobilisation plan by CP-SAT beside the greedy baseline, same run.

A realistic generated pool: 1,500 volunteers of the five types in the proportions of the
force's support unit (SYSTEM.md / issue 12): 545 CSAS accredited persons, 250 Volunteer Police
Cadets, 300 Special Constables, 250 Active Citizens, 155 Police Support Volunteers; each in one
of the 10 districts with the most harm (chance in proportion to the district's population;
Specials may also deploy in 2 other districts, PSVs in 1 other), with about 3 free shifts in the month (cadets: daytime only). CSAS accreditation dates are
spread over the last 4 years, so about a quarter are past their 3-year refresher. Deployments:
10 districts x 31 days x 3 bands; demand from the bundled Essex data (harm_index_v1 over the
loaded months before the plan month; month-level, as police.uk has no times) with the shipped
planning calendar; each deployment needs 4 people (2-6), night deployments a first-aider.

Prints: CP-SAT's solve time (goal <= 60 s on 2 cores), status and the optimality gap it
reports, harm-weighted coverage of CP-SAT and greedy (goal >= 10% more), and the rule checker's
count of broken rules on both outputs (goal 0).

    .venv/bin/python benchmarks/mobilise.py [--seed 0] [--time-limit 60]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ESSEX = ROOT / "data" / "police_uk_street_essex"
MIX = {"csas": 545, "cadet": 250, "special": 300, "active-citizen": 250, "psv": 155}
MONTH = "2022-01"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=45.0,
                    help="CP-SAT's search limit, seconds (model build comes on top)")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="mobilise-bench-"))
    os.environ["GUARDIAN_HOME"] = str(home)
    from guardian.analysis.mobilise import (
        Problem,
        Rules,
        Slot,
        Volunteer,
        check_plan,
        greedy_plan,
        solve,
    )
    from guardian.data.geography import district_population
    from guardian.operations.volunteers.demand import district_demand
    from guardian.store.db import get_engine
    from guardian.store.ingest import ingest

    engine = get_engine(f"sqlite:///{home / 'store.db'}")
    files = sorted(ESSEX.glob("2021-*-essex-street.csv.gz"))
    t0 = time.perf_counter()
    ingest(engine, files)
    t_ingest = time.perf_counter() - t0
    t0 = time.perf_counter()
    frame, basis = district_demand(engine, dataset="Essex Police", month=MONTH)
    per = frame.groupby("district")["demand"].sum().sort_values(ascending=False)
    districts = list(per.index[:10])
    frame = frame[frame["district"].isin(districts)]
    t_demand = time.perf_counter() - t0
    slots = tuple(Slot(r.district, r.day, int(r.band), demand=float(r.demand), need=4,
                       min_people=2, max_people=6,
                       skills=("first aid",) if r.band == 2 else (), reason=r.reason)
                  for r in frame.itertuples())
    rng = np.random.default_rng(args.seed)
    pop = district_population("essex").set_index("district").loc[districts, "population"]
    pdist = (pop / pop.sum()).to_numpy()
    days = sorted({s.day for s in slots})
    plan_day = days[0]
    vols, avail = [], set()
    n = 0
    for kind, count in MIX.items():
        for _ in range(count):
            n += 1
            ref = f"V-{n}"
            d = districts[rng.choice(len(districts), p=pdist)]
            # Specials deploy force-wide in practice; here in their own and 2 other districts,
            # PSVs in 1 other; the rest only in their own (their scheme or unit is local).
            extra = {"special": 2, "psv": 1}.get(kind, 0)
            others = [x for x in districts if x != d]
            also = tuple(others[i] for i in rng.choice(len(others), size=extra, replace=False))
            skills = set()
            if rng.random() < 0.3 or kind == "special" and rng.random() < 0.5:
                skills.add("first aid")
            if rng.random() < 0.25:
                skills.add("driving")
            acc = None
            if kind == "csas":
                acc_on = plan_day - timedelta(days=int(rng.integers(0, 4 * 365)))
                acc = acc_on.replace(year=acc_on.year + 3) if not (
                    acc_on.month == 2 and acc_on.day == 29) else acc_on + timedelta(days=3 * 365)
            dob = None
            if kind == "cadet":
                dob = plan_day - timedelta(days=int(rng.integers(13 * 365, 18 * 365)))
            vols.append(Volunteer(ref, kind, (d, *also), frozenset(skills), accredited_until=acc,
                                  date_of_birth=dob, needs_supervision=kind == "cadet"))
            k = int(rng.choice([2, 3, 3, 3, 4]))
            if kind == "cadet":
                picks = rng.choice(len(days), size=k, replace=False)
                for i in picks:
                    avail.add((ref, days[i], 0))
            else:
                cells = [(day, b) for day in days for b in range(3)]
                wts = np.array([(0.4, 0.4, 0.2)[b] for _, b in cells])
                picks = rng.choice(len(cells), size=k, replace=False, p=wts / wts.sum())
                for i in picks:
                    avail.add((ref, *cells[i]))
    problem = Problem(tuple(vols), slots, frozenset(avail), Rules())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{sys.version.split()[0]}; other work was running on the machine at the same time")
    print(f"store: {len(files)} Essex months ingested in {t_ingest:.1f} s; demand in "
          f"{t_demand:.1f} s")
    for b in basis:
        print(f"  demand basis: {b}")
    print(f"pool: {len(vols)} volunteers {MIX}; {len(avail)} free shifts "
          f"({len(avail) / len(vols):.2f} each); {len(slots)} deployments "
          f"({len(districts)} districts x {len(days)} days x 3 bands)")
    expired = sum(1 for v in vols if v.kind == "csas" and not v.accredited_on(plan_day))
    print(f"CSAS past refresher on {plan_day}: {expired} of {MIX['csas']}")
    t0 = time.perf_counter()
    g = greedy_plan(problem)
    t_g = time.perf_counter() - t0
    t0 = time.perf_counter()
    c = solve(problem, time_limit_s=args.time_limit, workers=2, random_state=args.seed,
              hint=g.assignments)
    t_c = time.perf_counter() - t0
    vg, vc = check_plan(problem, g.assignments), check_plan(problem, c.assignments)
    print(f"greedy : {t_g:6.2f} s, {len(g.assignments)} shifts, coverage {g.coverage:,.0f} of "
          f"{g.demand:,.0f} ({100 * g.coverage_share:.1f}%), objective {g.objective:,}; "
          f"rules broken: {len(vg)}")
    print(f"CP-SAT : {t_c:6.2f} s ({c.status}, gap {100 * (c.gap or 0):.3f}%, bound "
          f"{c.bound:,.0f}), {len(c.assignments)} shifts, coverage {c.coverage:,.0f} "
          f"({100 * c.coverage_share:.1f}%), objective {c.objective:,}; rules broken: {len(vc)}")
    print(f"coverage CP-SAT / greedy = {c.coverage / g.coverage:.3f} "
          f"({100 * (c.coverage / g.coverage - 1):+.1f}%; goal >= +10%)")

    def worst(plan):
        cov, dem = {}, {}
        cnt = {}
        for a in plan.assignments:
            cnt[a.key] = cnt.get(a.key, 0) + 1
        for s in slots:
            dem[s.district] = dem.get(s.district, 0) + s.demand
            cov[s.district] = cov.get(s.district, 0) + s.demand * min(cnt.get(s.key, 0),
                                                                      s.need) / s.need
        return min(cov[d] / dem[d] for d in dem)

    print(f"lowest district coverage share: greedy {100 * worst(g):.1f}%, CP-SAT "
          f"{100 * worst(c):.1f}% (fairness weight {problem.rules.fairness_weight})")
    ok = not vg and not vc and t_c <= 60 and c.coverage >= 1.1 * g.coverage
    print(f"goals (CP-SAT <= 60 s incl. model build, >= +10% coverage, no rule broken): "
          f"{'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
