"""Store models for data in: datasets, source files, events, outcomes, quarantine."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from guardian.store.base import Base


class Dataset(Base):
    """A publisher of events: a police.uk force ("Essex Police") or a force extract."""

    __tablename__ = "datasets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # "police.uk" | "extract"
    crs: Mapped[str] = mapped_column(String(40))
    timezone: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class SourceFile(Base):
    """One loaded file, with the per-file accounting rows read = loaded + quarantined + dups."""

    __tablename__ = "source_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # street | outcomes | extract
    month: Mapped[str | None] = mapped_column(String(7), nullable=True)
    rows_read: Mapped[int] = mapped_column(Integer)
    loaded: Mapped[int] = mapped_column(Integer)
    quarantined: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    loaded_at: Mapped[datetime] = mapped_column(DateTime)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Event(Base):
    """A recorded crime or ASB incident (canonical event frame, one row)."""

    __tablename__ = "events"
    __table_args__ = (
        # A unique index, not a table constraint, so that a first load into an empty table can
        # drop it and build it once at the end (SQLite cannot drop a table constraint). One
        # integer column: the dataset is mixed into the hash (see guardian.store.bulk.key_hash).
        Index("uq_events_key_hash", "key_hash", unique=True),
        # Few indexes on purpose: each one costs at load time. Month filters (the common query)
        # use this one; replacement deletes go by dataset + month + file through it too.
        Index("ix_events_dataset_month", "dataset_id", "month"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign keys on the two bulk tables: a per-row FK check doubles the cost of a load
    # (measured on PostgreSQL: 3.7 s vs 1.9 s for 254k rows), and the ingest transaction is
    # their only writer, inserting rows for the dataset and file rows it has just written.
    dataset_id: Mapped[int] = mapped_column(Integer)
    event_key: Mapped[str] = mapped_column(String(100))
    # 64-bit hash of (dataset, event_key) (guardian.store.bulk.key_hash) carrying the
    # uniqueness: an integer index builds in a third of the time of one on (dataset, 64-character
    # text), and is a quarter the size.
    key_hash: Mapped[int] = mapped_column(BigInteger)
    month: Mapped[str] = mapped_column(String(7))
    occurred_local: Mapped[datetime] = mapped_column(DateTime)  # naive, dataset timezone
    time_precision: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(60))
    dwelling: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    place_id: Mapped[int] = mapped_column(Integer)  # -> places.id (bulk table: no FK)
    outcome: Mapped[str] = mapped_column(Text, default="")
    outcome_month: Mapped[str | None] = mapped_column(String(7), nullable=True)
    source_file_id: Mapped[int] = mapped_column(Integer)
    source_line: Mapped[int] = mapped_column(Integer)


PLACE_COLUMNS = ("x", "y", "lon", "lat", "location", "lsoa_code", "lsoa_name")


class Place(Base):
    """Where events were recorded: a police.uk map point ("On or near ...", shared by every
    crime snapped to it) or an extract's own coordinates, with its LSOA.

    Events refer to their place rather than repeating it: a map point holds hundreds of crimes,
    and a narrower events row is what a 250k-row load spends its time writing. A place of a
    replaced month stays (other months may use it).
    """

    __tablename__ = "places"
    __table_args__ = (Index("ix_places_dataset", "dataset_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(Integer)  # bulk table: no FK (see Event)
    x: Mapped[float | None] = mapped_column(Float, nullable=True)  # metres, the dataset's CRS
    y: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    location: Mapped[str] = mapped_column(Text, default="")
    lsoa_code: Mapped[str] = mapped_column(String(12), default="")
    lsoa_name: Mapped[str] = mapped_column(String(100), default="")


class Outcome(Base):
    """A police.uk outcome row (latest per crime is attached to the event)."""

    __tablename__ = "outcomes"
    __table_args__ = (Index("ix_outcomes_dataset_crime", "dataset_id", "crime_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(Integer)  # bulk table: no FK (see Event)
    crime_id: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))
    outcome: Mapped[str] = mapped_column(Text)
    source_file_id: Mapped[int] = mapped_column(Integer, index=True)
    source_line: Mapped[int] = mapped_column(Integer)


class QuarantineRow(Base):
    """A row refused at load, with its reason and raw text: nothing is silently dropped."""

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_file_id: Mapped[int] = mapped_column(ForeignKey("source_files.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)


class DuplicateRecord(Base):
    """A row whose id was already stored: counted and traceable, stored once."""

    __tablename__ = "duplicates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_file_id: Mapped[int] = mapped_column(ForeignKey("source_files.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    event_key: Mapped[str] = mapped_column(String(100))
