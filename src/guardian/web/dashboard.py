"""The district dashboard's figures: aggregates only (counts), so every dashboard role may see
them, partners included."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from guardian.operations.cocoons.models import Cocoon
from guardian.operations.patrols.models import PatrolDay, PatrolPlan, PatrolVisit
from guardian.operations.tasks import service as tasks


def dashboard_data(engine, *, as_of: datetime) -> dict[str, Any]:
    """Tasks by kind and team, live cocoons, and patrol dosage delivered against plan."""
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
    return {"as_of": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "live_cocoons": int(live),
            "tasks": tasks.task_summary(engine, as_of=as_of), "patrol_dosage": dosage}
