"""The district dashboard's figures: aggregates only (counts), so every dashboard role may see
them, partners included."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from guardian.operations.cocoons.models import Cocoon
from guardian.operations.patrols.models import PatrolDay, PatrolPlan, PatrolSpot, PatrolVisit
from guardian.operations.tasks import service as tasks


def dashboard_data(engine, *, as_of: datetime) -> dict[str, Any]:
    """Tasks by kind and team, live cocoons, patrol dosage delivered against plan, and the harm
    spots (150 m cells, not addresses) of each district's latest patrol plan with why each is
    there."""
    now = as_of.astimezone(UTC).replace(tzinfo=None)
    with engine.connect() as conn:
        live = conn.execute(select(func.count()).select_from(Cocoon).where(
            Cocoon.state == "live", Cocoon.ends_at > now, Cocoon.opened_at <= now)).scalar_one()
        plans = conn.execute(select(PatrolPlan.id, PatrolPlan.district, PatrolPlan.week_start)
                             .order_by(PatrolPlan.week_start.desc()).limit(10)).all()
        dosage = []
        for pid, district, week in plans:
            planned = conn.execute(select(func.coalesce(func.sum(PatrolDay.visits_planned), 0))
                                   .where(PatrolDay.plan_id == pid,
                                          PatrolDay.arm == "patrol")).scalar_one()
            done = conn.execute(select(func.count()).select_from(PatrolVisit)
                                .where(PatrolVisit.plan_id == pid)).scalar_one()
            dosage.append({"plan": f"P-{pid}", "district": district, "week": week.isoformat(),
                           "visits_planned": int(planned), "visits_done": int(done)})
        spots = []
        latest = {}
        for pid, district, _week in plans:
            latest.setdefault(district, pid)
        for district, pid in sorted(latest.items()):
            for sp in conn.execute(select(PatrolSpot.__table__).where(PatrolSpot.plan_id == pid)
                                   .order_by(PatrolSpot.rank)):
                spots.append({"plan": f"P-{pid}", "district": district, "rank": sp.rank,
                              "streets": sp.streets, "offences": sp.offences,
                              "share_harm": sp.share_harm, "why": sp.why,
                              "lon": sp.lon, "lat": sp.lat})
    return {"as_of": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "live_cocoons": int(live),
            "tasks": tasks.task_summary(engine, as_of=as_of), "patrol_dosage": dosage,
            "harm_spots": spots}
