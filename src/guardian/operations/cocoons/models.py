"""Store models for burglary cocoons: the cocoon (a zone), its member burglaries, its visits.

Times are stored as naive UTC (``*_at``) except ``CocoonMember.reported_local``, the report time
as the source gave it (naive, in the dataset's timezone), which the calendar arithmetic of the
risk window uses so that a daylight-saving change never moves a day boundary.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from guardian.store.base import Base

OUTCOMES: tuple[str, ...] = ("spoke", "advice", "no-answer", "declined")
"""Visit outcomes: spoke to a resident, advice left (card through the door), no answer,
resident declined."""

REACHED: tuple[str, ...] = ("spoke", "advice")
"""Outcomes that count as the household having received the crime-prevention message."""


class Cocoon(Base):
    """A cocoon: the zone around one or more dwelling burglaries, at raised risk until ``ends_at``.

    ``state`` is what is stored ("live" or "merged"); the status users see (open, active,
    expired, merged) is derived from it and an "as of" time by the service.
    """

    __tablename__ = "cocoons"
    __table_args__ = (Index("ix_cocoons_dataset_ends", "dataset_id", "ends_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    state: Mapped[str] = mapped_column(String(10), default="live")  # live | merged
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cocoons.id"), nullable=True)
    radius_m: Mapped[float] = mapped_column(Float)
    window_days: Mapped[float] = mapped_column(Float)
    visit_hours: Mapped[float] = mapped_column(Float)
    params_source: Mapped[str] = mapped_column(Text)  # "default" | "knox: <dataset> <dates>, seed N"
    time_precision: Mapped[str] = mapped_column(String(10))  # coarsest of the members
    opened_at: Mapped[datetime] = mapped_column(DateTime)  # first member's report time (UTC)
    first_due_at: Mapped[datetime] = mapped_column(DateTime)  # opened_at + visit_hours
    ends_at: Mapped[datetime] = mapped_column(DateTime)  # latest member + window (UTC)
    owner: Mapped[str | None] = mapped_column(String(60), nullable=True)
    opened_as_of: Mapped[datetime] = mapped_column(DateTime)  # "as of" of the run that opened it
    merged_as_of: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class CocoonMember(Base):
    """A dwelling burglary in a cocoon. One row per (dataset, event): opening is idempotent."""

    __tablename__ = "cocoon_members"
    __table_args__ = (
        UniqueConstraint("dataset_id", "event_key", name="uq_cocoon_members_dataset_event"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cocoon_id: Mapped[int] = mapped_column(ForeignKey("cocoons.id"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    event_key: Mapped[str] = mapped_column(String(100))
    month: Mapped[str] = mapped_column(String(7))
    reported_local: Mapped[datetime] = mapped_column(DateTime)  # naive, dataset timezone
    reported_at: Mapped[datetime] = mapped_column(DateTime, index=True)  # UTC
    time_precision: Mapped[str] = mapped_column(String(10))
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    location: Mapped[str] = mapped_column(Text, default="")
    radius_m: Mapped[float] = mapped_column(Float)
    window_days: Mapped[float] = mapped_column(Float)
    near_repeat_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("cocoon_members.id"), nullable=True
    )
    added_as_of: Mapped[datetime] = mapped_column(DateTime)


class CocoonVisit(Base):
    """A visit task: one place to call on because of one member burglary, due within 48 hours."""

    __tablename__ = "cocoon_visits"
    __table_args__ = (Index("ix_cocoon_visits_cocoon_due", "cocoon_id", "due_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cocoon_id: Mapped[int] = mapped_column(ForeignKey("cocoons.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("cocoon_members.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)  # 0 = the victim's own point, then nearest first
    is_victim: Mapped[bool] = mapped_column(Boolean, default=False)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    place: Mapped[str] = mapped_column(Text, default="")
    distance_m: Mapped[float] = mapped_column(Float)  # to the burglary that planned it
    due_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    outcome: Mapped[str | None] = mapped_column(String(12), nullable=True)
    visited_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # UTC
    visited_by: Mapped[str | None] = mapped_column(String(60), nullable=True)
