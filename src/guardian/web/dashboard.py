"""The district dashboard's figures: aggregates only (counts), so every dashboard role may see
them, partners included."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from guardian.errors import GuardianError
from guardian.operations.cocoons.models import Cocoon
from guardian.operations.patrols.models import PatrolDay, PatrolPlan, PatrolSpot, PatrolVisit
from guardian.operations.tasks import service as tasks


def dashboard_data(engine, *, as_of: datetime, district: str | None = None) -> dict[str, Any]:
    """Tasks by kind and team, live cocoons, patrol dosage delivered against plan, and the harm
    spots (150 m cells, not addresses) of each district's latest patrol plan with why each is
    there; only ``district``'s when given (its name as the plans and tasks spell it)."""
    now = as_of.astimezone(UTC).replace(tzinfo=None)
    with engine.connect() as conn:
        live_q = select(func.count()).select_from(Cocoon).where(
            Cocoon.state == "live", Cocoon.ends_at > now, Cocoon.opened_at <= now)
        live = conn.execute(live_q).scalar_one()
        plan_q = (select(PatrolPlan.id, PatrolPlan.district, PatrolPlan.week_start)
                  .order_by(PatrolPlan.week_start.desc()))
        if district:
            plan_q = plan_q.where(PatrolPlan.district == district)
        plans = conn.execute(plan_q.limit(10)).all()
        districts = sorted({d for (d,) in conn.execute(select(PatrolPlan.district).distinct())}
                           | tasks.task_districts(conn))
        dosage = []
        for pid, dist, week in plans:
            planned = conn.execute(select(func.coalesce(func.sum(PatrolDay.visits_planned), 0))
                                   .where(PatrolDay.plan_id == pid,
                                          PatrolDay.arm == "patrol")).scalar_one()
            done = conn.execute(select(func.count()).select_from(PatrolVisit)
                                .where(PatrolVisit.plan_id == pid)).scalar_one()
            dosage.append({"plan": f"P-{pid}", "district": dist, "week": week.isoformat(),
                           "visits_planned": int(planned), "visits_done": int(done)})
        spots = []
        latest = {}
        for pid, dist, _week in plans:
            latest.setdefault(dist, pid)
        for dist, pid in sorted(latest.items()):
            for sp in conn.execute(select(PatrolSpot.__table__).where(PatrolSpot.plan_id == pid)
                                   .order_by(PatrolSpot.rank)):
                spots.append({"plan": f"P-{pid}", "district": dist, "rank": sp.rank,
                              "streets": sp.streets, "offences": sp.offences,
                              "share_harm": sp.share_harm, "why": sp.why,
                              "lon": sp.lon, "lat": sp.lat})
    return {"as_of": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "district": district,
            "districts": districts, "live_cocoons": int(live),
            "tasks": tasks.task_summary(engine, as_of=as_of, district=district),
            "patrol_dosage": dosage, "harm_spots": spots}


class HeadlineCache:
    """The latest briefing's headline figures per force, worked out once per state of the
    loaded data (a new or superseded file changes the key) -- a few seconds of work that a
    dashboard load should not repeat."""

    def __init__(self):
        self._lock = threading.Lock()
        self._key = None
        self._value: list[dict[str, Any]] = []

    def get(self, engine) -> list[dict[str, Any]]:
        """One entry per police.uk force in the store: ``{"force", "month", "sentences"}`` or
        ``{"force", "unavailable": reason}``."""
        key = _data_version(engine)
        with self._lock:  # one computation at a time; the others wait for its result
            if key != self._key:
                self._value = briefing_headlines(engine)
                self._key = key
            return self._value


def _data_version(engine) -> tuple:
    from guardian.store.models import SourceFile

    with engine.connect() as conn:
        return tuple(conn.execute(select(func.count(), func.max(SourceFile.id),
                                         func.count(SourceFile.superseded_at))).one())


def briefing_headlines(engine) -> list[dict[str, Any]]:
    """The headline sentences of the briefing for each police.uk force's latest month."""
    from guardian.reports.briefing import headline
    from guardian.reports.context import gather_context
    from guardian.store.models import Dataset

    with engine.connect() as conn:
        names = conn.execute(select(Dataset.name).where(Dataset.kind == "police.uk")
                             .order_by(Dataset.name)).scalars().all()
    out = []
    for name in names:
        try:
            ctx = gather_context(engine, name, None)
            h = headline.SECTION.build(ctx)
        except GuardianError as exc:  # e.g. a force with no crime rows yet
            out.append({"force": name, "unavailable": str(exc)})
            continue
        out.append({"force": name, "month": h["month"], "month_label": h["month_label"],
                    "crime": h["crime"]["count"], "asb": h["asb"]["count"],
                    "harm_per_1000": h["harm"].get("per_1000"),
                    "sentences": h["sentences"]})
    return out
