"""Writing and reading the audit log. There is no update or delete here, by design."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from guardian.errors import InputError
from guardian.operations.audit.models import AuditEntry
from guardian.store.db import read_connection

OPERATIONS = ("consult", "disclose", "alter", "erase")
JUSTIFICATIONS: tuple[str, ...] = (
    "crime prevention visit",
    "supervision of tasks",
    "analysis for tasking",
    "victim contact",
    "data protection request",
)
"""Reasons a user may give for reading or changing personal data (chosen from a list, so the
log can be counted; the coordination group may extend it)."""


def record(conn: Connection, *, username: str, role: str, operation: str, record: str,
           justification: str, detail: dict[str, Any] | None = None,
           at: datetime | None = None) -> None:
    """Append one entry, in the caller's transaction (the read or write it logs commits with
    it, or neither does).

    Raises
    ------
    InputError
        Unknown operation, or an empty justification.
    """
    if operation not in OPERATIONS:
        raise InputError(f"audit operation {operation!r} is not one of {list(OPERATIONS)}")
    if not str(justification or "").strip():
        raise InputError("a justification is required to see or change personal data")
    conn.execute(insert(AuditEntry).values(
        at=(at or datetime.now(UTC)).replace(tzinfo=None), username=username, role=role,
        operation=operation, record=record[:200], justification=str(justification)[:500],
        detail=detail or {}))


def entries(bind: Engine | Connection, *, start: datetime | None = None,
            end: datetime | None = None) -> list[dict[str, Any]]:
    """Entries with ``start <= at < end`` (UTC; either bound optional), oldest first."""
    q = select(AuditEntry.__table__).order_by(AuditEntry.at, AuditEntry.id)
    if start is not None:
        q = q.where(AuditEntry.at >= start.astimezone(UTC).replace(tzinfo=None))
    if end is not None:
        q = q.where(AuditEntry.at < end.astimezone(UTC).replace(tzinfo=None))
    with read_connection(bind) as conn:
        rows = conn.execute(q).all()
    return [{"id": r.id, "at": r.at.strftime("%Y-%m-%dT%H:%M:%SZ"), "username": r.username,
             "role": r.role, "operation": r.operation, "record": r.record,
             "justification": r.justification, "detail": r.detail} for r in rows]


def to_csv(rows: list[dict[str, Any]]) -> str:
    """The entries as CSV (detail as JSON text)."""
    import json

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cols = ["id", "at", "username", "role", "operation", "record", "justification", "detail"]
    w.writerow(cols)
    for r in rows:
        w.writerow([json.dumps(r[c], sort_keys=True) if c == "detail" else r[c] for c in cols])
    return buf.getvalue()
