"""Store models for hot-spot patrols: the plan, its spots, its spot-days (patrol or control) and
the logged visits.

Times of visits are stored as naive UTC (``*_at``); ``day`` columns are calendar dates in the
dataset's timezone (the day a visit counts towards is the local date of its start).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from guardian.store.base import Base

ARMS: tuple[str, ...] = ("patrol", "control")


class PatrolPlan(Base):
    """A week's patrol plan for one district: spots, dosage, day design and how they were chosen."""

    __tablename__ = "patrol_plans"
    __table_args__ = (
        # one plan per district and week: a second would double-count in the briefing
        UniqueConstraint("dataset_id", "district", "week_start",
                         name="uq_patrol_plans_dataset_district_week"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    district: Mapped[str] = mapped_column(String(100))
    week_start: Mapped[date] = mapped_column(Date)  # first of 7 days (local calendar)
    created_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    cell_m: Mapped[float] = mapped_column(Float)
    spots_requested: Mapped[int] = mapped_column(Integer)
    visits_per_day: Mapped[int] = mapped_column(Integer)
    minutes: Mapped[float] = mapped_column(Float)  # planned minutes per visit
    design: Mapped[str] = mapped_column(String(12))  # "every-day" | "random"
    patrol_days: Mapped[int] = mapped_column(Integer)  # patrol days per spot (7 = every day)
    seed: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    start_month: Mapped[str] = mapped_column(String(7))  # targeting window (inclusive)
    end_month: Mapped[str] = mapped_column(String(7))
    categories: Mapped[list] = mapped_column(JSON)
    excluded_categories: Mapped[list] = mapped_column(JSON)
    harm_basis: Mapped[str] = mapped_column(Text)
    precision: Mapped[str] = mapped_column(String(12))  # "approximate" | "exact"
    hours: Mapped[dict] = mapped_column(JSON)  # HourProfile.to_dict()
    summary: Mapped[dict] = mapped_column(JSON)  # totals, shares, months used, area rule
    notes: Mapped[list] = mapped_column(JSON)


class PatrolSpot(Base):
    """One spot of a plan: a grid cell (``cell_m`` square), with why it is on the list."""

    __tablename__ = "patrol_spots"
    __table_args__ = (UniqueConstraint("plan_id", "rank", name="uq_patrol_spots_plan_rank"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("patrol_plans.id"))
    rank: Mapped[int] = mapped_column(Integer)  # 1 = most harm; users refer to spots by rank
    gx: Mapped[int] = mapped_column(Integer)  # global cell key: floor(x / cell_m)
    gy: Mapped[int] = mapped_column(Integer)
    x: Mapped[float] = mapped_column(Float)  # cell centre, metres
    y: Mapped[float] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    offences: Mapped[int] = mapped_column(Integer)
    harm: Mapped[float] = mapped_column(Float)
    share_harm: Mapped[float] = mapped_column(Float)
    share_offences: Mapped[float] = mapped_column(Float)
    share_area: Mapped[float] = mapped_column(Float)
    streets: Mapped[str] = mapped_column(Text, default="")
    why: Mapped[str] = mapped_column(Text, default="")


class PatrolDay(Base):
    """One spot on one day: a patrol day (visits planned) or a control day (no patrol)."""

    __tablename__ = "patrol_days"
    __table_args__ = (UniqueConstraint("spot_id", "day", name="uq_patrol_days_spot_day"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("patrol_plans.id"), index=True)
    spot_id: Mapped[int] = mapped_column(ForeignKey("patrol_spots.id"))
    day: Mapped[date] = mapped_column(Date)
    arm: Mapped[str] = mapped_column(String(8))  # patrol | control
    visits_planned: Mapped[int] = mapped_column(Integer)
    minutes_planned: Mapped[float] = mapped_column(Float)


class PatrolVisit(Base):
    """A logged patrol visit: who (collar number or team, never a member of the public), where,
    when, and counts of what was done."""

    __tablename__ = "patrol_visits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("patrol_plans.id"), index=True)
    spot_id: Mapped[int] = mapped_column(ForeignKey("patrol_spots.id"), index=True)
    day: Mapped[date] = mapped_column(Date)  # local date of the start
    start_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    end_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    officer: Mapped[str] = mapped_column(String(60))
    business_checks: Mapped[int] = mapped_column(Integer, default=0)
    stop_search: Mapped[int] = mapped_column(Integer, default=0)
    engagements: Mapped[int] = mapped_column(Integer, default=0)
    arrests: Mapped[int] = mapped_column(Integer, default=0)
    weapons_found: Mapped[int] = mapped_column(Integer, default=0)
    logged_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
