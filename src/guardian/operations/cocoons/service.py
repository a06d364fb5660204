"""Burglary cocooning: opening, merging, visiting, expiry, overdue visits and delivery figures.

Every function is keyword-only, takes an :class:`~sqlalchemy.Engine` (one transaction per call)
or a :class:`~sqlalchemy.Connection` (the caller's transaction), takes the "as of" time as a
parameter (never the clock) and raises :mod:`guardian.errors` domain errors.

The rules (``docs/cocoons.md`` explains them for users)
--------------------------------------------------------
* **Burglaries cocooned**: category "Burglary" with a dwelling flag that is true or unknown.
  police.uk does not separate dwelling from non-dwelling burglary, so on police.uk data this is
  "residential-or-unknown" burglary and every output says so (``burglary_basis``).
* **Member disc**: each member burglary *i* puts a disc of radius ``r_i`` metres around its
  point at risk from its report time ``t_i`` for ``w_i`` days (calendar days in the dataset's
  timezone): it is *live* at time *t* when ``t_i <= t < t_i + w_i``.
* **Merge rule**: two burglaries belong to the same cocoon when their discs overlap
  (distance ``<= r_i + r_j``) while the earlier one is live at the later one's report time
  (``|t_j - t_i| < w`` of the earlier). A cocoon is a connected group under that relation, so
  chains merge (A-B-C with A, C far apart) and a burglary touching two cocoons merges them (the
  older cocoon's id survives; the other is marked ``merged`` and points to it). The result does
  not depend on the order in which burglaries are opened.
* **Zone**: the union of the member discs (:func:`zone_geometry`); the cocoon ends at the
  latest ``t_i + w_i`` (a later member extends it).
* **Near repeat**: a member burglary that falls *inside* a live member disc of its cocoon
  (distance ``<= r_i`` and ``0 < t_j - t_i < w_i``) is recorded as a near repeat of the most
  recent such member. Burglaries with the same report time are never near repeats of each other
  (on month-resolution data nothing within one month is).
* **Visits**: each member burglary plans its own visits, due ``visit_hours`` (48) after its
  report time: the victim's own point first (rank 0), then the nearest known places within
  ``r_i`` of it, at most ``neighbour_visits`` of them (default 5; per force in
  ``forces.toml``). Each visit says why it was chosen; the other places of the zone are
  covered by the zone itself (leaflets, patrol) and counted, not listed as visit tasks.
* **Status** at an "as of" time: ``open`` (live, no visit recorded yet), ``active`` (live, at
  least one visit recorded), ``expired`` (``as_of >= ends_at``), ``merged`` (absorbed into
  another cocoon). A cocoon does not close when its visits are done: the zone stays at risk
  until it expires; visit completion is reported as delivery.

Layout: :mod:`.times` (as-of and calendar handling), :mod:`.validation` (references,
assignees, outcomes, parameters), :mod:`.planning` (merge rule, near repeats, visit lists,
zone coverage: no database), :mod:`.queries` (SQL reads), and the public operations:
:mod:`.opening` (open and merge), :mod:`.reading` (list, one cocoon, its places), :mod:`.visits`
(record, assign, overdue) and :mod:`.delivery` (delivery figures, the briefing section). Every
public name of those modules is importable from here.
"""

from __future__ import annotations

from guardian.operations.cocoons.delivery import (
    cocoon_section_data,
    default_as_of,
    delivery_figures,
)
from guardian.operations.cocoons.models import (
    OUTCOMES,
    REACHED,
)
from guardian.operations.cocoons.opening import OpenReport, open_cocoons
from guardian.operations.cocoons.planning import (
    link_burglaries,
    places_in_zone,
    places_within,
    plan_visits,
    read_addresses,
    short_key,
    visit_reason,
    zone_coverage,
    zone_geometry,
)
from guardian.operations.cocoons.queries import (
    cocoon_dataset,
    dataset_of_ref,
    known_places,
)
from guardian.operations.cocoons.reading import cocoon_places, get_cocoon, list_cocoons
from guardian.operations.cocoons.times import (
    TIMING,
    TIMING_NOTE,
)
from guardian.operations.cocoons.validation import (
    DEFAULT_NEIGHBOUR_VISITS,
    DEFAULT_RADIUS_M,
    DEFAULT_VISIT_HOURS,
    DEFAULT_WINDOW_DAYS,
    LIVE_STATUSES,
    STATUSES,
    CocoonParameters,
    check_neighbour_visits,
    cocoon_ref,
    knox_parameters,
    parse_ref,
    resolve_neighbour_visits,
    visit_ref,
)
from guardian.operations.cocoons.visits import assign_cocoon, overdue_visits, record_visit

__all__ = [
    "DEFAULT_MAX_VISITS", "DEFAULT_NEIGHBOUR_VISITS", "DEFAULT_RADIUS_M", "DEFAULT_VISIT_HOURS",
    "DEFAULT_WINDOW_DAYS", "LIVE_STATUSES", "OUTCOMES", "REACHED", "STATUSES", "TIMING",
    "TIMING_NOTE", "CocoonParameters", "OpenReport", "assign_cocoon", "check_neighbour_visits",
    "cocoon_dataset", "cocoon_places", "cocoon_ref", "cocoon_section_data", "dataset_of_ref",
    "default_as_of", "delivery_figures", "get_cocoon", "knox_parameters", "known_places",
    "link_burglaries", "list_cocoons", "open_cocoons", "overdue_visits", "parse_ref",
    "places_in_zone", "places_within", "plan_visits", "read_addresses", "record_visit",
    "resolve_neighbour_visits", "short_key", "visit_reason", "visit_ref", "zone_coverage",
    "zone_geometry",
]


# Former cap on all visits of a burglary, the victim included (the ``max_visits`` argument).
DEFAULT_MAX_VISITS = DEFAULT_NEIGHBOUR_VISITS + 1
