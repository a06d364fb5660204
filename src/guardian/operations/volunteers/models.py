"""Store tables of operations.volunteers: the registry, availability, import quarantine, and the
monthly mobilisation plans with their deployments (slots) and assignments.

Dates are calendar dates (local); ``band`` is 0 = 08-16, 1 = 16-24, 2 = 24-08
(:data:`guardian.analysis.mobilise.problem.BANDS`). Times are naive UTC.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
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


class Volunteer(Base):
    """A person in the registry. ``source_id`` is the rostering tool's id (imports match on it);
    ``username`` links the record to a sign-in account (the volunteer sees only their own)."""

    __tablename__ = "volunteers_people"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    organisation: Mapped[str] = mapped_column(String(120), default="")
    district: Mapped[str] = mapped_column(String(100))
    also_districts: Mapped[list] = mapped_column(JSON, default=list)
    skills: Mapped[list] = mapped_column(JSON, default=list)
    accredited_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    accreditation_expiry: Mapped[date | None] = mapped_column(Date, nullable=True)
    date_of_birth: Mapped[date | None] = mapped_column(Date, nullable=True)
    needs_supervision: Mapped[bool] = mapped_column(Boolean, default=False)
    max_shifts: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_hours: Mapped[int | None] = mapped_column(Integer, nullable=True)
    username: Mapped[str | None] = mapped_column(String(60), nullable=True, unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Availability(Base):
    """A volunteer is free on ``day`` in ``band``."""

    __tablename__ = "volunteers_availability"
    __table_args__ = (
        UniqueConstraint("volunteer_id", "day", "band", name="uq_volunteers_availability_slot"),
        Index("ix_volunteers_availability_day", "day"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers_people.id"))
    day: Mapped[date] = mapped_column(Date)
    band: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(10))  # import | form


class ImportQuarantine(Base):
    """A registry or availability row refused at import, with the reason and the raw line."""

    __tablename__ = "volunteers_quarantine"
    __table_args__ = (UniqueConstraint("file_sha256", "line", name="uq_volunteers_quarantine_line"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    what: Mapped[str] = mapped_column(String(20))  # registry | availability
    file_name: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64))
    line: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime)


class MobilisePlan(Base):
    """A month's mobilisation plan: how it was solved, its demand basis and its totals.
    A re-solve (after a drop-out) is a new plan with ``parent_id`` set."""

    __tablename__ = "volunteers_plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    month: Mapped[str] = mapped_column(String(7))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers_plans.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(60), default="")
    status: Mapped[str] = mapped_column(String(12))
    method: Mapped[str] = mapped_column(String(12))
    objective: Mapped[int] = mapped_column(Integer)
    bound: Mapped[float | None] = mapped_column(Float, nullable=True)
    gap: Mapped[float | None] = mapped_column(Float, nullable=True)
    coverage: Mapped[float] = mapped_column(Float)
    demand: Mapped[float] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float)
    rules: Mapped[dict] = mapped_column(JSON)
    basis: Mapped[list] = mapped_column(JSON)  # sentences: where demand came from
    blocked_by: Mapped[list] = mapped_column(JSON, default=list)
    explanation: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[dict] = mapped_column(JSON, default=dict)


class MobiliseSlot(Base):
    """A deployment of a plan: district x day x band, its demand and its staffing limits."""

    __tablename__ = "volunteers_plan_slots"
    __table_args__ = (
        UniqueConstraint("plan_id", "district", "day", "band", name="uq_volunteers_plan_slots_key"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("volunteers_plans.id"))
    district: Mapped[str] = mapped_column(String(100))
    day: Mapped[date] = mapped_column(Date)
    band: Mapped[int] = mapped_column(Integer)
    demand: Mapped[float] = mapped_column(Float)
    need: Mapped[int] = mapped_column(Integer)
    min_people: Mapped[int] = mapped_column(Integer)
    max_people: Mapped[int] = mapped_column(Integer)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")


class MobiliseAssignment(Base):
    """One volunteer in one deployment of a plan, with why."""

    __tablename__ = "volunteers_assignments"
    __table_args__ = (
        UniqueConstraint("plan_id", "volunteer_id", "day", "band",
                         name="uq_volunteers_assignments_slot"),
        Index("ix_volunteers_assignments_volunteer", "volunteer_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("volunteers_plans.id"))
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers_people.id"))
    district: Mapped[str] = mapped_column(String(100))
    day: Mapped[date] = mapped_column(Date)
    band: Mapped[int] = mapped_column(Integer)
    why: Mapped[str] = mapped_column(Text)
    fixed: Mapped[bool] = mapped_column(Boolean, default=False)
