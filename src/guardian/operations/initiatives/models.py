"""Store tables of operations.initiatives: the initiative, its planned days, its outcomes.

An initiative (a Street Week, a day of action, a Crime Stoppers Zone, a seasonal campaign)
belongs to one dataset (the force's data), has a place (a polygon, grid cells or whole
districts), dates, partners, resources and outcomes. ``initiatives_days`` holds one row per
day, phase and district it touches: what the mobilisation plan reads as planned events.
Dates are calendar dates in the dataset's timezone; ``*_at`` times are naive UTC.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
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

KINDS: tuple[str, ...] = ("street-week", "day-of-action", "cs-zone", "campaign")
"""Initiative kinds: Street Week, day of action, Crime Stoppers Zone, seasonal campaign."""

PHASES: tuple[str, ...] = ("pre-scoping", "deployment", "evaluation")
"""Phases of an initiative's days. Only deployment days are planned events for the
mobilisation plan; a day of action, a zone's leaflet drop and a campaign day are deployment."""

PLACE_KINDS: tuple[str, ...] = ("polygon", "cells", "districts")


class Initiative(Base):
    """One initiative: what, where, when, with whom, at what cost."""

    __tablename__ = "initiatives"
    __table_args__ = (
        UniqueConstraint("dataset_id", "name", name="uq_initiatives_dataset_name"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    kind: Mapped[str] = mapped_column(String(20))  # one of KINDS
    name: Mapped[str] = mapped_column(String(120))
    start_date: Mapped[date] = mapped_column(Date)  # first day of the first phase
    end_date: Mapped[date] = mapped_column(Date)  # last day of the last phase (inclusive)
    place_kind: Mapped[str] = mapped_column(String(10))  # one of PLACE_KINDS
    # polygon: GeoJSON geometry in the dataset's CRS (metres); cells: {"cell_m", "cells": [[i, j]]};
    # districts: list of district names
    place: Mapped[dict] = mapped_column(JSON)
    districts: Mapped[list] = mapped_column(JSON)  # districts the place touches (derived)
    categories: Mapped[list] = mapped_column(JSON)  # crime categories it targets ([] = all)
    partners: Mapped[list] = mapped_column(JSON)
    band: Mapped[str] = mapped_column(String(5), default="")  # "" = every band (24/7)
    uplift: Mapped[float] = mapped_column(Float)  # demand multiplier on deployment days
    volunteer_hours: Mapped[float] = mapped_column(Float, default=0.0)
    officer_hours: Mapped[float] = mapped_column(Float, default=0.0)
    cash_gbp: Mapped[float] = mapped_column(Float, default=0.0)  # direct spend (print, hire)
    details: Mapped[dict] = mapped_column(JSON)  # why chosen (zones, campaigns), phases, etc.
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(60))


class InitiativeDay(Base):
    """A day of an initiative in one district and phase (band "" = all day)."""

    __tablename__ = "initiatives_days"
    __table_args__ = (
        UniqueConstraint("initiative_id", "day", "district", "band",
                         name="uq_initiatives_days_initiative_day_district_band"),
        Index("ix_initiatives_days_day", "day"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    initiative_id: Mapped[int] = mapped_column(ForeignKey("initiatives.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    phase: Mapped[str] = mapped_column(String(12))  # one of PHASES
    district: Mapped[str] = mapped_column(String(100))
    band: Mapped[str] = mapped_column(String(5), default="")


class InitiativeOutcome(Base):
    """An outcome measure of an initiative: one value per (measure, detail); re-recording
    replaces it (so re-running an import is idempotent)."""

    __tablename__ = "initiatives_outcomes"
    __table_args__ = (
        UniqueConstraint("initiative_id", "measure", "detail",
                         name="uq_initiatives_outcomes_initiative_measure_detail"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    initiative_id: Mapped[int] = mapped_column(ForeignKey("initiatives.id"), index=True)
    measure: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(String(100), default="")  # e.g. referral partner
    value: Mapped[float] = mapped_column(Float)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by: Mapped[str] = mapped_column(String(60))
    note: Mapped[str] = mapped_column(Text, default="")
