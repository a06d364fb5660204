"""Store tables of operations.tagmatch: trail imports and their quarantine, and proximity hits
with their review outcome.

Trail points themselves live in Parquet under ``GUARDIAN_HOME/tagmatch/trails`` (10^8-10^9
points do not belong in a row store); they are deleted after the retention period. A hit holds
the subject's pseudonym only, never a name. Times are naive UTC.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from guardian.store.base import Base


class TagmatchImport(Base):
    """One trail file imported: ``rows_read == loaded + quarantined``."""

    __tablename__ = "tagmatch_imports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    rows_read: Mapped[int] = mapped_column(Integer)
    loaded: Mapped[int] = mapped_column(Integer)
    quarantined: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    imported_at: Mapped[datetime] = mapped_column(DateTime)


class TagmatchQuarantine(Base):
    """A trail row refused at import, with the reason."""

    __tablename__ = "tagmatch_quarantine"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_id: Mapped[int] = mapped_column(Integer, index=True)
    line: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)


class TagmatchHit(Base):
    """A proximity hit for review: subject (pseudonym) near a crime. ``status`` is
    ``pending`` until a reviewer records ``discounted`` or ``passed`` (for investigation)."""

    __tablename__ = "tagmatch_hits"
    __table_args__ = (
        UniqueConstraint("dataset", "crime_id", "subject", name="uq_tagmatch_hits_crime_subject"),
        Index("ix_tagmatch_hits_status", "status", "created_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(120))
    crime_id: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(64))
    crime_x: Mapped[float] = mapped_column(Float)
    crime_y: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[float] = mapped_column(Float)
    time_diff_s: Mapped[int] = mapped_column(Integer)
    dwell_s: Mapped[int] = mapped_column(Integer)
    n_points: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[datetime] = mapped_column(DateTime)
    last_at: Mapped[datetime] = mapped_column(DateTime)
    context: Mapped[dict] = mapped_column(JSON)
    params: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(60), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
