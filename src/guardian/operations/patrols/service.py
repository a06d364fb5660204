"""Hot-spot patrols: planning a district's week, logging visits, delivered dosage, the briefing.

Every function is keyword-only, takes an :class:`~sqlalchemy.Engine` (one transaction per call)
or a :class:`~sqlalchemy.Connection` (the caller's transaction) and raises :mod:`guardian.errors`
domain errors.

The rules (``docs/patrols.md`` explains them for users)
-------------------------------------------------------
* **Spots**: the top ``spots`` grid cells (``cell_m`` metres square, default 150) of a district by
  harm over the latest ``lookback_months`` (default 12) loaded months before the plan week,
  selected by :func:`guardian.analysis.hotspots.harm_spots` (harm, then offences, then
  south-to-north / west-to-east). Categories default to street violence
  (:data:`~guardian.operations.patrols.planning.DEFAULT_PATROL_CATEGORIES`); police-generated
  categories (drugs, possession of weapons) are excluded unless asked, and the plan says so.
* **Harm**: each offence weighted by the shipped harm table (:mod:`guardian.data.harm_table`,
  ``harm_index_v1``: ONS Crime Severity Score per police.uk category); ``harm_table=None`` gives
  plain counts. The plan states which.
* **Dosage**: on a patrol day each spot gets ``visits_per_day`` visits of ``minutes`` (default 3
  of 15 minutes; Koper 1995).
* **Days**: every day of the week is a patrol day, or (``random_days=k``) each spot is patrolled
  on ``k`` random days and is a control on the others, balanced across days
  (:func:`~guardian.operations.patrols.planning.random_day_design`); the seed is stored.
* **Peak hours**: an hour-of-day profile of the targeted offences in the spots when every one
  has a time of day; police.uk has months only, and then the plan says "no time-of-day data;
  peak hours unknown".
* **Visits**: a visit counts towards the local calendar day on which it started; it must start
  within the plan week, end after it starts and last at most 12 hours. A visit on a control day
  is logged and flagged as *contamination*.

Layout: :mod:`.planning` (spot choice, day design, dosage arithmetic: no database),
:mod:`.rules` (defaults, references, input checks, time handling), :mod:`.queries` (SQL), and
the public operations: :mod:`.plans` (make, read, list) and :mod:`.delivery` (log a visit,
delivered dosage, the briefing section). Every public name is importable from here.
"""

from __future__ import annotations

from guardian.operations.patrols.delivery import log_visit, patrol_section_data, plan_dosage
from guardian.operations.patrols.plans import create_plan, get_plan, list_plans
from guardian.operations.patrols.rules import (
    DEFAULT_CELL_M,
    DEFAULT_MINUTES,
    DEFAULT_SPOTS,
    DEFAULT_VISITS_PER_DAY,
    plan_ref,
)

__all__ = [
    "DEFAULT_CELL_M", "DEFAULT_MINUTES", "DEFAULT_SPOTS", "DEFAULT_VISITS_PER_DAY",
    "create_plan", "get_plan", "list_plans", "log_visit",
    "patrol_section_data", "plan_dosage", "plan_ref",
]
