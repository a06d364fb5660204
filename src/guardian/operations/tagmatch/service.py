"""Tag matching as a service: the partitioned join on Dask, storing hits, the review queue and
the retention purge.

Hits are intelligence for a person to review, never evidence. Only holders of
``tagmatch.review`` see them, every view and every decision writes an audit entry, and the
outcome (``discounted`` or ``passed`` for investigation) is recorded with its reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, func, insert, select, update

from guardian.analysis.tagmatch import match_tags
from guardian.errors import Conflict, Forbidden, InputError, NotFound
from guardian.operations.accounts.roles import allowed
from guardian.operations.accounts.service import Account
from guardian.operations.audit import service as audit
from guardian.operations.tagmatch import trails
from guardian.operations.tagmatch.config import TagmatchConfig
from guardian.operations.tagmatch.models import TagmatchHit
from guardian.store.db import read_connection, write_begin

PERMISSION = "tagmatch.review"
OUTCOMES = ("discounted", "passed")
JUSTIFICATION = "review of GPS-tag proximity hits"
MATCH_CATEGORIES = ("Burglary", "Robbery")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def crimes_frame(events: pd.DataFrame) -> pd.DataFrame:
    """Crimes for matching from canonical events: the span each could have happened in, from
    its time precision (a police.uk month-precision crime spans its whole month; a day-precision
    one its day; an exact one its minute)."""
    ev = events[events["x"].notna() & events["y"].notna() & events["time"].notna()]
    t = ev["time"]
    start = t.dt.tz_convert("UTC")
    prec = ev["time_precision"].astype(str).to_numpy()
    month_end = t.apply(lambda v: v + pd.offsets.MonthBegin(1)).dt.tz_convert("UTC") \
        if (prec == "month").any() else start
    day_end = (t + pd.Timedelta(days=1)).dt.tz_convert("UTC")
    end = np.where(prec == "month", month_end, np.where(prec == "day", day_end,
                                                         start + pd.Timedelta(minutes=1)))
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    s = ((start - epoch) // pd.Timedelta(seconds=1)).to_numpy(np.int64)
    e = ((pd.DatetimeIndex(end) - epoch) // pd.Timedelta(seconds=1)).to_numpy(np.int64) - 1
    return pd.DataFrame({"crime_id": ev["event_id"].astype(str).to_numpy(object),
                         "category": ev["category"].astype(str).to_numpy(object),
                         "t_start": s, "t_end": np.maximum(e, s),
                         "x": ev["x"].to_numpy(float), "y": ev["y"].to_numpy(float)})


def _bucket_task(paths: list[str], crimes: pd.DataFrame, config: TagmatchConfig) -> pd.DataFrame:
    pts = trails.read_points(paths)
    return match_tags(pts, crimes, windows=config.windows, default=config.default,
                      max_accuracy_m=config.max_accuracy_m)


def match_partitioned(client, root: Path, crimes: pd.DataFrame,
                      config: TagmatchConfig) -> pd.DataFrame:
    """Hits of every trail bucket under ``root`` against ``crimes``, one Dask task per subject
    bucket (crimes broadcast to every worker). With ``client=None`` the buckets run here, one
    after another."""
    if crimes.empty:
        return match_tags(trails.read_points([]), crimes)
    lo = pd.Timestamp(int(crimes["t_start"].min()) - 86400 - max(
        [w.before_s for w in config.windows.values()] + [config.default.before_s]),
        unit="s", tz="UTC").strftime("%Y-%m-%d")
    hi = pd.Timestamp(int(crimes["t_end"].max()) + 86400 + max(
        [w.after_s for w in config.windows.values()] + [config.default.after_s]),
        unit="s", tz="UTC").strftime("%Y-%m-%d")
    buckets = trails.bucket_paths(root, lo, hi)
    if client is None:
        parts = [_bucket_task(p, crimes, config) for _, p in sorted(buckets.items())]
    else:
        [c] = client.scatter([crimes], broadcast=True)
        futures = [client.submit(_bucket_task, p, c, config, pure=False)
                   for _, p in sorted(buckets.items())]
        parts = client.gather(futures)
    parts = [p for p in parts if len(p)]
    if not parts:
        return match_tags(trails.read_points([]), crimes.iloc[:0])
    return pd.concat(parts, ignore_index=True).sort_values(
        ["crime_id", "subject"], kind="stable").reset_index(drop=True)


def _ts(v) -> datetime:
    return datetime.fromtimestamp(int(v), UTC).replace(tzinfo=None)


def store_hits(engine: Engine, dataset: str, crimes: pd.DataFrame, hits: pd.DataFrame,
               config: TagmatchConfig) -> dict:
    """Add new hits to the review queue (a crime-subject pair already there, reviewed or not,
    is left as it is: rerunning a match is idempotent). Returns ``{"new", "kept"}``."""
    xy = crimes.set_index("crime_id")[["x", "y"]]
    params = config.to_dict()
    new = kept = 0
    with write_begin(engine) as conn:
        have = {(c, s) for c, s in conn.execute(
            select(TagmatchHit.crime_id, TagmatchHit.subject).where(
                TagmatchHit.dataset == dataset)).all()}
        rows = []
        for h in hits.itertuples(index=False):
            if (h.crime_id, h.subject) in have:
                kept += 1
                continue
            have.add((h.crime_id, h.subject))
            ctx = {"closest_at": _ts(h.closest_t).isoformat(),
                   "closest_accuracy_m": float(h.closest_accuracy_m),
                   "before": None if np.isnan(h.prev_distance_m) else
                   {"distance_m": float(h.prev_distance_m), "seconds_before": float(h.prev_gap_s)},
                   "after": None if np.isnan(h.next_distance_m) else
                   {"distance_m": float(h.next_distance_m), "seconds_after": float(h.next_gap_s)},
                   "window": {"distance_m": float(h.distance_window_m),
                              "before_s": int(h.before_s), "after_s": int(h.after_s)}}
            rows.append({"dataset": dataset, "crime_id": str(h.crime_id), "category": h.category,
                         "subject": str(h.subject), "crime_x": float(xy.loc[h.crime_id, "x"]),
                         "crime_y": float(xy.loc[h.crime_id, "y"]),
                         "distance_m": float(h.distance_m), "time_diff_s": int(h.time_diff_s),
                         "dwell_s": int(h.dwell_s), "n_points": int(h.n_points),
                         "first_at": _ts(h.first_t), "last_at": _ts(h.last_t), "context": ctx,
                         "params": params, "status": "pending", "created_at": _now()})
        if rows:
            conn.execute(insert(TagmatchHit), rows)
            new = len(rows)
    return {"new": new, "kept": kept}


def purge(engine: Engine, root: Path, *, retention_days: int,
          now: datetime | None = None) -> dict:
    """Delete trail days older than the retention period, and the still-pending hits whose
    trail is gone (reviewed hits stay: they are the record of a decision)."""
    now = now or datetime.now(UTC)
    days = trails.purge_trails(root, retention_days=retention_days, now=now)
    if now.tzinfo is not None:
        now = now.astimezone(UTC)
    cutoff = now.replace(tzinfo=None) - timedelta(days=retention_days)
    with write_begin(engine) as conn:
        gone = conn.execute(delete(TagmatchHit).where(
            TagmatchHit.status == "pending", TagmatchHit.last_at < cutoff)).rowcount
    return {"days_deleted": days, "pending_hits_deleted": int(gone or 0)}


# --------------------------------------------------------------------------------------------
# the review queue


def _check(account: Account) -> None:
    if not allowed(account.role, PERMISSION):
        raise Forbidden(f"your role ({account.role}) may not review tag proximity hits")


def _hit_dict(h) -> dict:
    return {"id": h.id, "dataset": h.dataset, "crime_id": h.crime_id, "category": h.category,
            "subject": h.subject, "crime_x": h.crime_x, "crime_y": h.crime_y,
            "distance_m": h.distance_m, "time_diff_s": h.time_diff_s, "dwell_s": h.dwell_s,
            "n_points": h.n_points, "first_at": h.first_at.isoformat(),
            "last_at": h.last_at.isoformat(), "context": h.context, "params": h.params,
            "status": h.status, "reason": h.reason, "decided_by": h.decided_by,
            "decided_at": h.decided_at.isoformat() if h.decided_at else None}


def queue(engine: Engine, account: Account, *, status: str = "pending",
          limit: int = 200) -> list[dict]:
    """Hits of ``status`` (``pending``, ``discounted``, ``passed`` or ``all``), newest first.
    The listing is itself a consultation of personal data: it is audited."""
    _check(account)
    if status not in (*OUTCOMES, "pending", "all"):
        raise InputError(f"status {status!r} is not one of pending, discounted, passed, all")
    with write_begin(engine) as conn:
        q = select(TagmatchHit).order_by(TagmatchHit.created_at.desc(), TagmatchHit.id.desc())
        if status != "all":
            q = q.where(TagmatchHit.status == status)
        rows = [_hit_dict(r) for r in conn.execute(q.limit(limit)).all()]
        audit.record(conn, username=account.username, role=account.role, operation="consult",
                     record=f"tagmatch queue ({status}, {len(rows)} hits)",
                     justification=JUSTIFICATION, detail={"hits": [r["id"] for r in rows]})
    return rows


def get_hit(engine: Engine, account: Account, hit_id: int) -> dict:
    """One hit, audited."""
    _check(account)
    with write_begin(engine) as conn:
        row = conn.execute(select(TagmatchHit).where(TagmatchHit.id == hit_id)).first()
        if row is None:
            raise NotFound(f"no tag proximity hit {hit_id}")
        audit.record(conn, username=account.username, role=account.role, operation="consult",
                     record=f"tagmatch hit {hit_id} (subject {row.subject})",
                     justification=JUSTIFICATION)
        return _hit_dict(row)


def decide(engine: Engine, account: Account, hit_id: int, *, outcome: str, reason: str,
           at: datetime | None = None) -> dict:
    """Record a reviewer's outcome: ``discounted`` or ``passed`` (for investigation), with the
    reason. A hit is decided once (:class:`Conflict` after)."""
    _check(account)
    if outcome not in OUTCOMES:
        raise InputError(f"outcome {outcome!r} is not one of {list(OUTCOMES)}")
    reason = str(reason or "").strip()
    if len(reason) < 3:
        raise InputError("give the reason for the outcome (at least a few words)")
    at = (at or datetime.now(UTC)).replace(tzinfo=None)
    with write_begin(engine) as conn:
        row = conn.execute(select(TagmatchHit).where(TagmatchHit.id == hit_id)).first()
        if row is None:
            raise NotFound(f"no tag proximity hit {hit_id}")
        if row.status != "pending":
            raise Conflict(f"hit {hit_id} was already {row.status} by {row.decided_by}")
        conn.execute(update(TagmatchHit).where(TagmatchHit.id == hit_id).values(
            status=outcome, reason=reason[:2000], decided_by=account.username, decided_at=at))
        audit.record(conn, username=account.username, role=account.role, operation="alter",
                     record=f"tagmatch hit {hit_id} (subject {row.subject})",
                     justification=JUSTIFICATION, detail={"outcome": outcome, "reason": reason[:500]},
                     at=at)
    with read_connection(engine) as conn:
        return _hit_dict(conn.execute(select(TagmatchHit).where(TagmatchHit.id == hit_id)).first())


def counts(engine: Engine) -> dict[str, int]:
    """Hits per status (no personal data; not audited)."""
    with read_connection(engine) as conn:
        return dict(conn.execute(select(TagmatchHit.status, func.count()).group_by(
            TagmatchHit.status)).all())
