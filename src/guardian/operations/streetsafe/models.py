"""Store tables of operations.streetsafe: the reports (exact point, kept for the force only),
the short-lived client hashes used for rate limiting, the counters of what was refused, and the
"you said, we did" actions.

Times are naive UTC. No table holds an IP address: ``streetsafe_clients.client`` is a keyed hash
(HMAC-SHA256 with a random key that rotates daily and is deleted after the window; see
:mod:`guardian.operations.streetsafe.keys`), and its rows are deleted after the window too.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from guardian.store.base import Base


class StreetSafeReport(Base):
    """One "I feel unsafe here" report. ``key`` is the idempotency key the page (or the import)
    sends: a retry with the same key stores nothing new."""

    __tablename__ = "streetsafe_reports"
    __table_args__ = (Index("ix_streetsafe_reports_dataset_month", "dataset_id", "month"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    dataset_id: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(DateTime)  # to the minute
    month: Mapped[str] = mapped_column(String(7))  # month it was felt (received, or the import's)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    x: Mapped[float] = mapped_column(Float)  # metres, the dataset's CRS
    y: Mapped[float] = mapped_column(Float)
    cell_x: Mapped[int] = mapped_column(Integer)  # floor(x / cell size)
    cell_y: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[str] = mapped_column(String(200))  # codes joined by ","
    when: Mapped[str] = mapped_column(String(8))  # now | earlier
    daynight: Mapped[str] = mapped_column(String(8))  # day | night | unknown
    not_reported: Mapped[str | None] = mapped_column(String(40), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)  # screened; never exported
    source: Mapped[str] = mapped_column(String(10))  # web | import
    source_file_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class StreetSafeClient(Base):
    """A recent submission of one client (keyed hash of its address), for the per-client limit
    and folding of duplicate bursts. Deleted after the window."""

    __tablename__ = "streetsafe_clients"
    __table_args__ = (Index("ix_streetsafe_clients_client_at", "client", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # cell + reasons, for folding
    report_id: Mapped[int] = mapped_column(Integer)


class StreetSafeRefusal(Base):
    """Counters of refused (and folded) submissions per day and reason: stored, never dropped."""

    __tablename__ = "streetsafe_refusals"
    __table_args__ = (UniqueConstraint("day", "reason"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(24))
    count: Mapped[int] = mapped_column(Integer)


class StreetSafeAction(Base):
    """ "You said, we did": an action a supervisor attached to an area (the anchor cell of a
    cluster), shown on the public page."""

    __tablename__ = "streetsafe_actions"
    __table_args__ = (Index("ix_streetsafe_actions_cell", "dataset_id", "cell_x", "cell_y"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(Integer)
    cell_x: Mapped[int] = mapped_column(Integer)
    cell_y: Mapped[int] = mapped_column(Integer)
    area: Mapped[str] = mapped_column(String(120))  # district name shown to the public
    kind: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(String(300))
    done_on: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime)
