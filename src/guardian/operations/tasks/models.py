"""Store model for tasks: one row per thing a person is asked to do at a place."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
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

KINDS = ("cocoon-visit", "patrol-visit", "street-briefing", "volunteer-shift", "leaflet-drop")


class Task(Base):
    """A task: a place, a window (``due_at``), an assignee (a user or a team), a status and an
    outcome. ``source_ref`` points at the cocoon visit (``V-<id>``) or patrol day (``D-<id>``)
    that created it, so a task is created once however often it is synchronised."""

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("kind", "source_ref", name="uq_tasks_kind_source"),
        Index("ix_tasks_assignee_status_due", "assignee", "status", "due_at"),
        # The phone's query is "mine OR my team's": each side of the OR needs its own index.
        Index("ix_tasks_team_status_due", "team", "status", "due_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    kind: Mapped[str] = mapped_column(String(20))
    source_ref: Mapped[str] = mapped_column(String(30))
    district: Mapped[str] = mapped_column(String(100), default="")
    place: Mapped[str] = mapped_column(Text, default="")  # exact: a victim's address or point
    area: Mapped[str] = mapped_column(Text, default="")  # coarse label safe for partners
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)  # a victim's own place
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    why: Mapped[str] = mapped_column(Text, default="")
    window_start: Mapped[datetime] = mapped_column(DateTime)  # UTC
    due_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    assignee: Mapped[str | None] = mapped_column(String(60), nullable=True)  # username
    team: Mapped[str | None] = mapped_column(String(60), nullable=True)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | done
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)  # patrol interactions etc.
    done_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    done_by: Mapped[str | None] = mapped_column(String(60), nullable=True)


class Submission(Base):
    """An outcome submission by idempotency key: a phone that resends a queued visit gets the
    first answer back instead of a second record."""

    __tablename__ = "task_submissions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    username: Mapped[str] = mapped_column(String(60))
    at: Mapped[datetime] = mapped_column(DateTime)
    response: Mapped[dict] = mapped_column(JSON)
