"""Reads and actions of Street Safe on the store. Everything returned here is aggregated with
the minimum count (:mod:`.aggregate`); exact points never leave the store, and comments never
leave it either (no function here returns them)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select

from guardian.errors import InputError, NotFound
from guardian.operations.streetsafe import aggregate as agg
from guardian.operations.streetsafe.area import ForceArea
from guardian.operations.streetsafe.config import ACTION_KINDS, REASONS, StreetSafeConfig
from guardian.operations.streetsafe.models import (
    StreetSafeAction,
    StreetSafeRefusal,
    StreetSafeReport,
)
from guardian.store.db import read_connection, write_begin
from guardian.store.models import Event, Place

COLUMNS = ["cell_x", "cell_y", "reasons", "month", "daynight", "x", "y"]


def reports_frame(engine, area: ForceArea, *, start: str | None = None,
                  end: str | None = None) -> pd.DataFrame:
    """The dataset's reports (cells, reasons, month, day/night) with their district; months
    ``start <= month <= end`` when given. No comment column: it is never aggregated."""
    t = StreetSafeReport.__table__
    q = select(t.c.cell_x, t.c.cell_y, t.c.reasons, t.c.month, t.c.daynight, t.c.x, t.c.y).where(
        t.c.dataset_id == area.dataset_id)
    if start:
        q = q.where(t.c.month >= start)
    if end:
        q = q.where(t.c.month <= end)
    with read_connection(engine) as conn:
        rows = conn.execute(q).all()
    df = pd.DataFrame(rows, columns=COLUMNS)
    df["district"] = area.districts(df["x"].to_numpy(float), df["y"].to_numpy(float)) \
        if len(df) else pd.Series(dtype=object)
    return df


def crime_cells(engine, area: ForceArea, cell_m: int, months: int = 12) -> tuple[pd.DataFrame,
                                                                               list[str]]:
    """Recorded crimes per cell over the latest ``months`` loaded months of the dataset."""
    with read_connection(engine) as conn:
        loaded = conn.execute(select(Event.month).where(Event.dataset_id == area.dataset_id)
                              .distinct().order_by(Event.month.desc()).limit(months)
                              ).scalars().all()
        if not loaded:
            return pd.DataFrame(columns=["cell_x", "cell_y", "crimes"]), []
        rows = conn.execute(select(Place.x, Place.y).join(Event, Event.place_id == Place.id)
                            .where(Event.dataset_id == area.dataset_id,
                                   Event.month.in_(loaded), Place.x.is_not(None))).all()
    xy = np.array(rows, dtype=float).reshape(-1, 2)
    cx, cy = np.floor(xy[:, 0] / cell_m).astype(int), np.floor(xy[:, 1] / cell_m).astype(int)
    df = (pd.DataFrame({"cell_x": cx, "cell_y": cy}).groupby(["cell_x", "cell_y"]).size()
          .rename("crimes").reset_index())
    return df, sorted(loaded)


def _with_centre(rows: list[dict], area: ForceArea, cell_m: int, anchor: bool = False):
    """Add the snapped centre (lat, lon of the cell's middle) and district to each row."""
    if not rows:
        return rows
    cx = np.array([r["anchor"][0] if anchor else r["cell_x"] for r in rows], float)
    cy = np.array([r["anchor"][1] if anchor else r["cell_y"] for r in rows], float)
    mx, my = (cx + 0.5) * cell_m, (cy + 0.5) * cell_m
    lat, lon = area.to_latlon(mx, my)
    dist = area.districts(mx, my)
    for r, a, b, d in zip(rows, np.atleast_1d(lat), np.atleast_1d(lon), dist, strict=True):
        r["lat"], r["lon"] = round(float(a), 5), round(float(b), 5)
        r.setdefault("district", str(d))
        if not r["district"]:
            r["district"] = str(d)
    return rows


def layer(engine, area: ForceArea, cfg: StreetSafeConfig) -> dict[str, Any]:
    """The dashboard layer: cells with at least ``min_count`` reports (count, reasons, snapped
    centre) and what was withheld."""
    df = reports_frame(engine, area)
    shown, held = agg.cells(df, cfg.min_count)
    return {"dataset": area.dataset, "min_count": cfg.min_count, "cell_m": cfg.cell_m,
            "cells": _with_centre(shown, area, cfg.cell_m), "withheld": held,
            "reports": int(len(df))}


def summary(engine, area: ForceArea, cfg: StreetSafeConfig, *, start: str | None = None,
            end: str | None = None) -> dict[str, Any]:
    """Clusters, trend by month, reasons by district, the comparison with recorded crime, the
    actions taken and the refusal counters."""
    k = cfg.min_count
    df = reports_frame(engine, area, start=start, end=end)
    cl = _with_centre(agg.clusters(df, k), area, cfg.cell_m, anchor=True)
    acts = actions(engine, area)
    by_cell: dict[tuple[int, int], list[dict]] = {}
    for a in acts:
        by_cell.setdefault((a["cell_x"], a["cell_y"]), []).append(a)
    for c in cl:
        c["actions"] = by_cell.get(tuple(c["anchor"]), [])
    crime, months = crime_cells(engine, area, cfg.cell_m)
    cmp = agg.compare_recorded(df, crime, k)
    for key in ("unsafe_little_recorded", "recorded_few_unsafe"):
        _with_centre(cmp[key], area, cfg.cell_m)
    cmp["crime_months"] = months
    return {"dataset": area.dataset, "min_count": k, "cell_m": cfg.cell_m,
            "reports": int(len(df)) if len(df) >= k or len(df) == 0 else None,
            "clusters": cl, "trend": agg.trend(df, k),
            "reasons_by_district": agg.reasons_by_district(df, k), "comparison": cmp,
            "actions": acts, "refusals": refusals(engine)}


def refusals(engine) -> dict[str, int]:
    """Stored counters of refused (and folded, replayed) submissions, all days summed."""
    t = StreetSafeRefusal.__table__
    with read_connection(engine) as conn:
        rows = conn.execute(select(t.c.reason, func.sum(t.c.count)).group_by(t.c.reason)).all()
    return {str(r): int(n) for r, n in sorted(rows)}


def actions(engine, area: ForceArea) -> list[dict]:
    """Every "you said, we did" action of the dataset, newest first."""
    t = StreetSafeAction.__table__
    with read_connection(engine) as conn:
        rows = conn.execute(select(t).where(t.c.dataset_id == area.dataset_id)
                            .order_by(t.c.done_on.desc(), t.c.id.desc())).all()
    return [{"id": r.id, "cell_x": r.cell_x, "cell_y": r.cell_y, "key": agg.cell_key(r.cell_x,
             r.cell_y), "area": r.area, "kind": r.kind, "kind_label": ACTION_KINDS[r.kind],
             "note": r.note, "done_on": r.done_on.isoformat(), "created_by": r.created_by}
            for r in rows]


def add_action(engine, area: ForceArea, cfg: StreetSafeConfig, *, cluster: str, kind: str,
               note: str, done_on: date, username: str, at: datetime | None = None) -> dict:
    """Attach an action to a cluster (by its key). Only a cluster of at least ``min_count``
    reports can have one, so the public page never points at a place with fewer.

    Raises
    ------
    InputError
        Unknown kind, empty or long note. NotFound: no such cluster.
    """
    if kind not in ACTION_KINDS:
        raise InputError(f"action kind must be one of {list(ACTION_KINDS)}")
    note = " ".join(str(note or "").split())
    if not 3 <= len(note) <= 300:
        raise InputError("say what was done in 3-300 characters (it is shown to the public)")
    cell = agg.parse_cell_key(cluster)
    found = [c for c in agg.clusters(reports_frame(engine, area), cfg.min_count)
             if cell is not None and tuple(c["anchor"]) == cell]
    if not found:
        raise NotFound(f"no Street Safe cluster {cluster!r} (of {cfg.min_count}+ reports)")
    c = _with_centre(found, area, cfg.cell_m, anchor=True)[0]
    now = (at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    with write_begin(engine) as conn:
        rid = conn.execute(insert(StreetSafeAction).values(
            dataset_id=area.dataset_id, cell_x=cell[0], cell_y=cell[1],
            area=c["district"][:120] or "unknown", kind=kind, note=note, done_on=done_on,
            created_by=username, created_at=now).returning(StreetSafeAction.id)).scalar_one()
    return {"id": rid, "cluster": cluster, "area": c["district"], "kind": kind, "note": note,
            "done_on": done_on.isoformat()}


def public_view(engine, area: ForceArea, cfg: StreetSafeConfig) -> dict[str, Any]:
    """What the public page shows: per area (district), the places people flagged as clusters
    of ``min_count``+ reports (snapped centre, count) and what was done there."""
    df = reports_frame(engine, area)
    cl = _with_centre(agg.clusters(df, cfg.min_count), area, cfg.cell_m, anchor=True)
    acts = actions(engine, area)
    areas: dict[str, dict] = {}
    for c in cl:
        a = areas.setdefault(c["district"], {"area": c["district"], "places": 0, "reports": 0,
                                             "actions": []})
        a["places"] += 1
        a["reports"] += c["reports"]
    for x in acts:
        areas.setdefault(x["area"], {"area": x["area"], "places": 0, "reports": 0,
                                     "actions": []})["actions"].append(
            {"kind": x["kind_label"], "note": x["note"], "done_on": x["done_on"]})
    return {"dataset": area.dataset, "min_count": cfg.min_count,
            "areas": sorted(areas.values(), key=lambda a: a["area"])}


EXPORT_FIELDS = ["cell_key", "centre_lat", "centre_lon", "cell_m", "district", "reports",
                 "night"] + list(REASONS)


def _csv(v) -> str:
    return "" if v is None else str(v)


def export_csv(engine, area: ForceArea, cfg: StreetSafeConfig) -> str:
    """The partner export: one row per cell of ``min_count``+ reports (snapped centre, counts
    per reason). No exact point, no time finer than the cell's totals, no comment."""
    d = layer(engine, area, cfg)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(EXPORT_FIELDS)
    for c in d["cells"]:
        w.writerow([c["key"], c["lat"], c["lon"], cfg.cell_m, c["district"], c["reports"],
                    _csv(c["night"])] + [_csv(c["reasons"].get(r, 0)) for r in REASONS])
    return buf.getvalue()


def month_section(engine, area: ForceArea, cfg: StreetSafeConfig, month: str) -> dict:
    """The briefing's figures for ``month``: reports, reasons, clusters, the comparison with
    recorded crime and the actions of the month."""
    df = reports_frame(engine, area, start=month, end=month)
    k = cfg.min_count
    if df.empty:
        return {"reports": 0}
    first = (pd.Period(month, freq="M") - 11).strftime("%Y-%m")
    year = reports_frame(engine, area, start=first, end=month)
    months = [str(p) for p in pd.period_range(first, month, freq="M")]
    cl = _with_centre(agg.clusters(df, k), area, cfg.cell_m, anchor=True)
    rc = agg.reason_counts(df["reasons"])
    n = len(df)
    crime, cmonths = crime_cells(engine, area, cfg.cell_m)
    cmp = agg.compare_recorded(df, crime, k)
    for key in ("unsafe_little_recorded", "recorded_few_unsafe"):
        _with_centre(cmp[key], area, cfg.cell_m)
    cmp["crime_months"] = cmonths
    acts = [a for a in actions(engine, area) if a["done_on"][:7] == month]
    return {"reports": n if n >= k else None, "withheld": n < k, "min_count": k,
            "reasons": [{"reason": REASONS.get(r, r), "reports": agg.at_least(v, k)}
                        for r, v in rc.items()],
            "clusters": cl, "trend": agg.trend(year, k, months),
            "by_district": agg.reasons_by_district(df, k), "comparison": cmp, "actions": acts}

