"""The audit log table. Rows are only ever inserted: the migration adds triggers that refuse
UPDATE and DELETE on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from guardian.store.base import Base


class AuditEntry(Base):
    """Who consulted, disclosed, altered or erased which personal or exact-location record,
    when, and why."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)  # UTC
    username: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(24))
    operation: Mapped[str] = mapped_column(String(12))  # consult | disclose | alter | erase
    record: Mapped[str] = mapped_column(String(200))  # e.g. "task T-12 (victim address)"
    justification: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
