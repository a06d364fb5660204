"""The mobilisation problem: volunteers, deployments (district x day x band) and the rules.

Pure data: frozen dataclasses in, frozen dataclasses out. The solvers
(:mod:`~guardian.analysis.mobilise.cpsat`, :mod:`~guardian.analysis.mobilise.greedy`) and the
checker (:mod:`~guardian.analysis.mobilise.checker`) all read the same :class:`Problem`, and
every plan is scored by the one :func:`objective` so the methods compare like with like.

Time bands
----------
Three 8-hour bands per day: ``0`` = 08-16, ``1`` = 16-24, ``2`` = 24-08 (starts at midnight at
the end of the day, ends 08:00 the next morning). Only band 0 is daytime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from guardian.errors import InputError

BANDS: tuple[str, ...] = ("08-16", "16-24", "24-08")
BAND_START_H: tuple[int, ...] = (8, 16, 24)
SHIFT_HOURS = 8
DAYTIME_BANDS: frozenset[int] = frozenset({0})

KINDS: tuple[str, ...] = ("special", "active-citizen", "csas", "psv", "cadet")
"""Volunteer types: Special Constable, Active Citizen, CSAS accredited person, Police Support
Volunteer, Volunteer Police Cadet."""
SUPERVISOR_KINDS: frozenset[str] = frozenset({"special"})
ACCREDITED_KINDS: frozenset[str] = frozenset({"csas"})
"""Types whose deployment needs a valid accreditation on the day."""

RULES: dict[str, str] = {
    "availability": "a volunteer is deployed only in a day and band they said they are free",
    "district": "a volunteer is deployed only in their own district(s)",
    "max_shifts": "no more shifts in the period than the person's (or the default) maximum",
    "max_hours": "no more hours in the period than the person's (or the default) maximum",
    "rest": "at least the minimum rest between the end of one shift and the start of the next "
            "(and never two shifts at once)",
    "skills": "each skill a deployment needs is held by at least one person deployed there",
    "accreditation": "an accredited person (CSAS) is deployed only while their accreditation "
                     "is valid (expiry and 3-year refresher) on the day",
    "cadet_daytime": "cadets are deployed only in daytime bands (08-16)",
    "supervision": "anyone needing supervision (cadets, under-18s) is never without a "
                   "supervising adult (a Special, or a police officer present) in the deployment",
    "under18_hours": "under-18s work no more than the under-18 hour cap in the period",
    "min_per_deployment": "a deployment that goes ahead has at least its minimum people",
    "max_per_deployment": "a deployment has at most its maximum people",
    "required": "a deployment asked for (a planned event) goes ahead",
    "fixed": "an assignment fixed by the coordinator is kept",
}
"""Every rule by name, as explanations and the checker name them."""


@dataclass(frozen=True)
class Volunteer:
    """One person who can be deployed.

    Attributes
    ----------
    ref : str
        Stable reference (e.g. ``"V-12"``); no names reach the model.
    kind : str
        One of :data:`KINDS`.
    districts : tuple of str
        Districts they deploy in (their own first).
    skills : frozenset of str
    accredited_until : date or None
        Last day the accreditation is valid (the earlier of expiry and refresher due), for
        :data:`ACCREDITED_KINDS`; None = not accredited.
    date_of_birth : date or None
        Needed for cadets (the under-18 rules); None = an adult.
    needs_supervision : bool
        Supervision required whatever the age (cadets and under-18s always need it).
    max_shifts, max_hours : int or None
        Personal limits for the period (None: the rules' defaults).
    """

    ref: str
    kind: str
    districts: tuple[str, ...]
    skills: frozenset[str] = frozenset()
    accredited_until: date | None = None
    date_of_birth: date | None = None
    needs_supervision: bool = False
    max_shifts: int | None = None
    max_hours: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"volunteer {self.ref}: type {self.kind!r} is not one of {list(KINDS)}")
        if not self.districts:
            raise InputError(f"volunteer {self.ref}: no district")

    def age_on(self, day: date) -> int | None:
        """Age in whole years on ``day`` (None when no date of birth is known)."""
        if self.date_of_birth is None:
            return None
        b = self.date_of_birth
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))

    def minor_on(self, day: date) -> bool:
        age = self.age_on(day)
        return age is not None and age < 18

    def supervised_on(self, day: date) -> bool:
        """True when this person needs a supervising adult in the deployment on ``day``."""
        return self.kind == "cadet" or self.needs_supervision or self.minor_on(day)

    def supervises_on(self, day: date) -> bool:
        """True when this person can supervise (a Special aged 18 or over)."""
        return self.kind in SUPERVISOR_KINDS and not self.minor_on(day)

    def accredited_on(self, day: date) -> bool:
        return self.accredited_until is not None and day <= self.accredited_until


@dataclass(frozen=True)
class Slot:
    """A deployment: district x day x band, with its demand and staffing limits.

    Attributes
    ----------
    demand : float
        Harm-weighted demand expected in the slot (>= 0; units of the demand model).
    need : int
        People that fully cover the demand; coverage counts up to ``need`` people.
    min_people, max_people : int
        A deployment that goes ahead has between these many people.
    skills : tuple of str
        Skills at least one person deployed must hold.
    officer_present : bool
        A police officer is on the deployment (a supervising adult).
    required : bool
        The deployment must go ahead (a planned event); an infeasible request is explained.
    reason : str
        Where the demand comes from (written into every assignment's "why").
    """

    district: str
    day: date
    band: int
    demand: float
    need: int = 2
    min_people: int = 2
    max_people: int = 6
    skills: tuple[str, ...] = ()
    officer_present: bool = False
    required: bool = False
    reason: str = ""

    def __post_init__(self) -> None:
        if self.band not in (0, 1, 2):
            raise InputError(f"band {self.band!r} is not 0 (08-16), 1 (16-24) or 2 (24-08)")
        if not (self.demand >= 0):
            raise InputError(f"slot {self.key}: demand must be >= 0, got {self.demand!r}")
        if not (1 <= self.min_people <= self.max_people):
            raise InputError(f"slot {self.key}: need 1 <= min_people <= max_people, got "
                             f"{self.min_people}..{self.max_people}")
        if self.need < 1:
            raise InputError(f"slot {self.key}: need must be >= 1")

    @property
    def key(self) -> tuple[str, date, int]:
        return (self.district, self.day, self.band)

    @property
    def label(self) -> str:
        return f"{self.district} {self.day.isoformat()} {BANDS[self.band]}"

    @property
    def start_h(self) -> int:
        """Start, in hours since 0001-01-01 (for rest arithmetic)."""
        return self.day.toordinal() * 24 + BAND_START_H[self.band]


@dataclass(frozen=True)
class Rules:
    """Limits that apply to everyone (personal limits in :class:`Volunteer` override the
    shift and hour maxima downwards or upwards)."""

    max_shifts: int = 8
    max_hours: int = 64
    rest_hours: int = 11
    under18_max_hours: int = 16
    fairness_weight: float = 0.2
    """Weight of the fairness term: the lowest district coverage share times the total
    demand, times this (0 switches fairness off)."""

    def __post_init__(self) -> None:
        for name in ("max_shifts", "max_hours", "rest_hours", "under18_max_hours"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InputError(f"rule {name} must be a whole number >= 0, got {v!r}")
        if not (0 <= self.fairness_weight <= 10):
            raise InputError(f"fairness_weight must be between 0 and 10, got {self.fairness_weight}")


@dataclass(frozen=True)
class Problem:
    """Volunteers, slots, availability and rules.

    ``available`` holds ``(volunteer ref, district-free slot time (day, band))`` pairs: a person
    free on a day and band may be deployed to any slot of that time in their districts.
    """

    volunteers: tuple[Volunteer, ...]
    slots: tuple[Slot, ...]
    available: frozenset[tuple[str, date, int]]
    rules: Rules = field(default_factory=Rules)

    def __post_init__(self) -> None:
        refs = [v.ref for v in self.volunteers]
        if len(set(refs)) != len(refs):
            raise InputError("volunteer refs must be unique")
        keys = [s.key for s in self.slots]
        if len(set(keys)) != len(keys):
            raise InputError("slots must be unique per district, day and band")

    def volunteer(self, ref: str) -> Volunteer:
        for v in self.volunteers:
            if v.ref == ref:
                return v
        raise InputError(f"no volunteer {ref!r} in the problem")

    def shift_cap(self, v: Volunteer) -> int:
        return v.max_shifts if v.max_shifts is not None else self.rules.max_shifts

    def hour_cap(self, v: Volunteer) -> int:
        return v.max_hours if v.max_hours is not None else self.rules.max_hours

    def conflicts(self, a: Slot, b: Slot) -> bool:
        """True when one person cannot work both (overlap, or rest shorter than the rule)."""
        if a.key == b.key:
            return False
        first, second = (a, b) if a.start_h <= b.start_h else (b, a)
        gap = second.start_h - (first.start_h + SHIFT_HOURS)
        return gap < self.rules.rest_hours

    def blockers(self, v: Volunteer, s: Slot) -> list[str]:
        """Rules that forbid ``v`` in ``s`` on their own (empty: allowed)."""
        out = []
        if (v.ref, s.day, s.band) not in self.available:
            out.append("availability")
        if s.district not in v.districts:
            out.append("district")
        if v.kind in ACCREDITED_KINDS and not v.accredited_on(s.day):
            out.append("accreditation")
        if v.kind == "cadet" and s.band not in DAYTIME_BANDS:
            out.append("cadet_daytime")
        return out


@dataclass(frozen=True)
class Assignment:
    """One volunteer in one slot, with the reason."""

    volunteer: str
    district: str
    day: date
    band: int
    why: str = ""
    fixed: bool = False

    @property
    def key(self) -> tuple[str, date, int]:
        return (self.district, self.day, self.band)


@dataclass(frozen=True)
class Plan:
    """A solved (or attempted) plan.

    Attributes
    ----------
    status : str
        ``"optimal"``, ``"feasible"``, ``"infeasible"``, ``"greedy"`` or ``"unknown"``.
    assignments : tuple of Assignment
    objective : int
        :func:`objective` of the assignments (integer points).
    bound : float or None
        CP-SAT's best bound on the objective (None for greedy).
    gap : float or None
        ``(bound - objective) / bound`` as CP-SAT reports it.
    coverage : float
        Harm-weighted demand covered (units of demand).
    demand : float
        Total demand of the slots.
    blocked_by : tuple of str
        For an infeasible request: the rules (and requests) that together block it.
    explanation : str
    seconds : float
    """

    status: str
    assignments: tuple[Assignment, ...]
    objective: int
    coverage: float
    demand: float
    bound: float | None = None
    gap: float | None = None
    blocked_by: tuple[str, ...] = ()
    explanation: str = ""
    seconds: float = 0.0
    method: str = "cp-sat"

    @property
    def coverage_share(self) -> float:
        return self.coverage / self.demand if self.demand > 0 else 0.0

    def to_dict(self) -> dict:
        return {
            "status": self.status, "method": self.method, "objective": self.objective,
            "bound": self.bound, "gap": self.gap, "coverage": self.coverage,
            "demand": self.demand, "coverage_share": self.coverage_share,
            "blocked_by": list(self.blocked_by), "explanation": self.explanation,
            "seconds": self.seconds, "assignments": len(self.assignments),
        }


# --------------------------------------------------------------------------------------------
# The objective, defined once
# --------------------------------------------------------------------------------------------

SCALE = 1_000_000
"""Demand points are scaled so the largest slot weight per person is about this many."""
PERMILLE = 1000


def slot_weights(problem: Problem) -> dict[tuple, int]:
    """Integer points per covering person of each slot: ``demand / need`` scaled so the
    largest is :data:`SCALE` (CP-SAT needs integer coefficients)."""
    per = {s.key: s.demand / s.need for s in problem.slots}
    top = max(per.values(), default=0.0)
    if top <= 0:
        return dict.fromkeys(per, 0)
    return {k: int(round(SCALE * v / top)) for k, v in per.items()}


def fairness_points(problem: Problem) -> int:
    """Objective points per permille of the lowest district coverage share."""
    w = slot_weights(problem)
    total = sum(w[s.key] * s.need for s in problem.slots)
    return int(round(problem.rules.fairness_weight * total / PERMILLE))


def objective(problem: Problem, assignments) -> tuple[int, float]:
    """Score of a set of assignments: ``(integer objective, harm-weighted coverage)``.

    Coverage of a slot is ``demand * min(people, need) / need``. The integer objective is the
    scaled coverage plus :func:`fairness_points` times the lowest district's coverage share in
    permille (floored), districts with no demand left out. Every method is scored by this.
    """
    w = slot_weights(problem)
    count: dict[tuple, int] = {}
    for a in assignments:
        count[a.key] = count.get(a.key, 0) + 1
    pts = 0
    cover = 0.0
    dist_pts: dict[str, int] = {}
    dist_tot: dict[str, int] = {}
    for s in problem.slots:
        c = min(count.get(s.key, 0), s.need)
        pts += w[s.key] * c
        cover += s.demand * c / s.need
        dist_pts[s.district] = dist_pts.get(s.district, 0) + w[s.key] * c
        dist_tot[s.district] = dist_tot.get(s.district, 0) + w[s.key] * s.need
    shares = [PERMILLE * dist_pts[d] // t for d, t in dist_tot.items() if t > 0]
    z = min(shares) if shares else 0
    return pts + fairness_points(problem) * z, cover
