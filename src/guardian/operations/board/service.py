"""The analyst's text per section of the quarterly board report: add a version, read the latest,
read the history. Texts survive regeneration of the report because they live in the store, not
in the report's files."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from guardian.errors import InputError
from guardian.operations.board.models import BoardText
from guardian.store.db import read_connection, write_begin

MAX_BODY = 20_000
"""Characters of one text (about five pages)."""
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
_SECTION = re.compile(r"^[a-z_]+(:[a-z][a-z0-9_]*)?$")


def check_quarter(quarter: str) -> str:
    """``"2021q4"`` -> ``"2021Q4"``; refuses anything else with the expected form."""
    q = str(quarter or "").strip().upper()
    m = _QUARTER.match(q)
    if not m or not 1900 <= int(m.group(1)) <= 2100:
        raise InputError(f"quarter {quarter!r} is not of the form YYYYQn, e.g. 2021Q4")
    return q


def _row(r) -> dict[str, Any]:
    return {"force": r.force, "quarter": r.quarter, "section": r.section, "version": r.version,
            "author": r.author, "at": r.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "body": r.body}


def set_text(bind: Engine | Connection, *, force: str, quarter: str, section: str, body: str,
             author: str, at: datetime | None = None) -> dict[str, Any]:
    """Store a new version of a section's text (an empty body withdraws the text).

    Parameters
    ----------
    force : str
        Dataset name ("Essex Police").
    quarter : str
        ``YYYYQn``.
    section : str
        Section key (``performance``, ``theme:<key>``, ``question:<key>``, ...); the caller
        checks it against the report's sections.
    body : str
        The text (plain text; paragraphs separated by blank lines).
    author : str
        Who wrote it (user name).

    Returns
    -------
    dict
        The stored version: ``force, quarter, section, version, author, at, body``.
    """
    quarter = check_quarter(quarter)
    if not _SECTION.match(section or ""):
        raise InputError(f"section {section!r} is not a section key such as 'performance' or "
                         "'theme:hate_crime'")
    author = str(author or "").strip()
    if not author or len(author) > 60:
        raise InputError("an author (1-60 characters) is required; pass --author NAME")
    body = str(body if body is not None else "").replace("\r\n", "\n").strip()
    if len(body) > MAX_BODY:
        raise InputError(f"the text has {len(body):,} characters; the limit is {MAX_BODY:,}")
    at = (at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None, microsecond=0)
    with write_begin(bind) as conn:
        last = conn.execute(
            select(func.max(BoardText.version)).where(
                BoardText.force == force, BoardText.quarter == quarter,
                BoardText.section == section)).scalar()
        version = int(last or 0) + 1
        conn.execute(insert(BoardText).values(force=force, quarter=quarter, section=section,
                                              version=version, author=author, created_at=at,
                                              body=body))
    return {"force": force, "quarter": quarter, "section": section, "version": version,
            "author": author, "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "body": body}


def current_texts(bind: Engine | Connection, *, force: str, quarter: str) -> dict[str, dict]:
    """Section -> its latest version (withdrawn texts, with an empty body, are left out)."""
    quarter = check_quarter(quarter)
    q = (select(BoardText.__table__).where(BoardText.force == force, BoardText.quarter == quarter)
         .order_by(BoardText.section, BoardText.version))
    with read_connection(bind) as conn:
        rows = conn.execute(q).all()
    latest: dict[str, dict] = {}
    for r in rows:
        latest[r.section] = _row(r)
    return {k: v for k, v in latest.items() if v["body"]}


def history(bind: Engine | Connection, *, force: str, quarter: str,
            section: str | None = None) -> list[dict[str, Any]]:
    """Every version (oldest first), of one section or of all."""
    quarter = check_quarter(quarter)
    q = select(BoardText.__table__).where(BoardText.force == force, BoardText.quarter == quarter)
    if section:
        q = q.where(BoardText.section == section)
    q = q.order_by(BoardText.section, BoardText.version)
    with read_connection(bind) as conn:
        return [_row(r) for r in conn.execute(q).all()]
