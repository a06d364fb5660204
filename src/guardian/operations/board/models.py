"""Store tables of operations.board: the analyst's text per board-report section, versioned.

A text is never overwritten: each ``guardian board text set`` adds a version, so the history of
what the board was told (who wrote it, when) is kept; the report shows the latest version.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from guardian.store.base import Base


class BoardText(Base):
    """One version of the analyst's text for one section of one force's quarterly report."""

    __tablename__ = "board_texts"
    __table_args__ = (
        UniqueConstraint("force", "quarter", "section", "version",
                         name="uq_board_texts_force_quarter_section_version"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    force: Mapped[str] = mapped_column(String(100))  # dataset name ("Essex Police")
    quarter: Mapped[str] = mapped_column(String(6))  # "2021Q4"
    section: Mapped[str] = mapped_column(String(80))  # "performance", "theme:hate_crime", ...
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per force, quarter and section
    author: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime)  # UTC
    body: Mapped[str] = mapped_column(Text)  # empty: the text was withdrawn
