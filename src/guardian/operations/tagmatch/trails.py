"""GPS-tag trail files: validation into a quarantine, Parquet storage by subject bucket and day,
and the retention purge.

A trail file is a CSV with columns ``subject, time, lon, lat, accuracy_m`` (one row per fix):

* ``subject`` a pseudonym (4-64 letters, digits, ``-`` or ``_``), never a name;
* ``time`` ISO 8601 with a UTC offset (a fix without one is refused: its hour is unknowable);
* ``lon``, ``lat`` WGS84 degrees inside Great Britain (with a margin);
* ``accuracy_m`` the receiver's accuracy radius, 0-1000 metres.

Stored as ``ROOT/bucket=NN/day=YYYY-MM-DD/part-<sha>.parquet`` (subject, t, x, y,
accuracy_m; x/y EPSG:27700 metres). Buckets split subjects (a hash of the pseudonym), so one
task holds each subject's whole trail and the hit's context and dwell are exact; days are what
the retention purge deletes.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyproj import Transformer
from sqlalchemy import Engine, insert, select

from guardian.data.policeuk import UK_LAT, UK_LON
from guardian.errors import InputError
from guardian.operations.tagmatch.models import TagmatchImport, TagmatchQuarantine
from guardian.store.db import write_begin

COLUMNS = ("subject", "time", "lon", "lat", "accuracy_m")
PSEUDONYM = re.compile(r"^[A-Za-z0-9_-]{4,64}$")
MAX_ACCURACY_FIELD_M = 1000.0
BUCKETS = 16
BNG = "EPSG:27700"


def trails_root(home: Path) -> Path:
    """Where trail Parquet lives under ``GUARDIAN_HOME``."""
    return Path(home) / "tagmatch" / "trails"


def bucket_of(subjects: np.ndarray, buckets: int = BUCKETS) -> np.ndarray:
    """Stable bucket of each pseudonym (first bytes of its SHA-1), ``0..buckets-1``."""
    uniq, inv = np.unique(np.asarray(subjects, dtype=object), return_inverse=True)
    b = np.array([int(hashlib.sha1(str(s).encode()).hexdigest()[:8], 16) % buckets
                  for s in uniq], dtype=np.int64)
    return b[inv]


def validate_trail(data: bytes, name: str) -> tuple[pd.DataFrame, list[tuple[int, str, str]], int]:
    """Parse and check a trail CSV.

    Returns
    -------
    points : DataFrame
        ``subject, t`` (int64 POSIX seconds UTC), ``x, y`` (metres, EPSG:27700), ``lon, lat``,
        ``accuracy_m`` of the valid rows.
    quarantined : list of (line, reason, raw)
        Rows refused, each with the value at fault named.
    rows_read : int
    """
    text = data.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    if not lines:
        raise InputError(f"{name}: empty file; expected a header {', '.join(COLUMNS)}")
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(f"{name}: not a CSV ({exc})") from exc
    df.columns = [c.strip().lower() for c in df.columns]
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"{name}: missing columns {missing}; a trail file has {list(COLUMNS)}")
    n = len(df)
    why = np.full(n, "", dtype=object)

    def refuse(mask, fmt):
        mask = np.asarray(mask) & (why == "")
        for i in np.flatnonzero(mask):
            why[i] = fmt(i)

    subj = df["subject"].str.strip().to_numpy(object)
    refuse([not PSEUDONYM.match(s) for s in subj],
           lambda i: f"subject {subj[i]!r} is not a pseudonym (4-64 letters, digits, - or _)")
    raw_t = df["time"].str.strip()
    t = pd.to_datetime(raw_t, errors="coerce", utc=True, format="ISO8601")
    has_offset = raw_t.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True).to_numpy()
    refuse(t.isna().to_numpy(), lambda i: f"time {raw_t.iloc[i]!r} is not an ISO 8601 time")
    refuse(~has_offset, lambda i: f"time {raw_t.iloc[i]!r} has no UTC offset; add Z or +00:00")
    lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy(float)
    lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(float)
    acc = pd.to_numeric(df["accuracy_m"], errors="coerce").to_numpy(float)
    bad_ll = ~(np.isfinite(lon) & np.isfinite(lat))
    refuse(bad_ll, lambda i: f"lon/lat ({df['lon'].iloc[i]!r}, {df['lat'].iloc[i]!r}) are not numbers")
    outside = ~bad_ll & ~((lon >= UK_LON[0]) & (lon <= UK_LON[1]) & (lat >= UK_LAT[0])
                          & (lat <= UK_LAT[1]))
    refuse(outside, lambda i: f"point ({lon[i]}, {lat[i]}) is outside Great Britain")
    refuse(~np.isfinite(acc) | (acc < 0) | (acc > MAX_ACCURACY_FIELD_M),
           lambda i: f"accuracy_m {df['accuracy_m'].iloc[i]!r} is not 0-{MAX_ACCURACY_FIELD_M:.0f} metres")
    ok = why == ""
    body = lines[1:]
    quarantined = [(int(i) + 2, str(why[i]), body[i] if i < len(body) else "")
                   for i in np.flatnonzero(~ok)]
    x, y = Transformer.from_crs("EPSG:4326", BNG, always_xy=True).transform(lon[ok], lat[ok])
    secs = (t[ok] - pd.Timestamp("1970-01-01", tz="UTC")) // pd.Timedelta(seconds=1)
    points = pd.DataFrame({"subject": subj[ok], "t": secs.to_numpy(np.int64),
                           "x": np.asarray(x, float), "y": np.asarray(y, float),
                           "lon": lon[ok], "lat": lat[ok], "accuracy_m": acc[ok]})
    return points, quarantined, n


def write_points(root: Path, points: pd.DataFrame, tag: str) -> int:
    """Write validated points under ``root`` by bucket and day (files named by ``tag``);
    each file is written to a staging name and renamed into place. Returns the number of
    files written."""
    root = Path(root)
    if points.empty:
        return 0
    day = pd.to_datetime(points["t"], unit="s", utc=True).dt.strftime("%Y-%m-%d")
    bucket = bucket_of(points["subject"].to_numpy(object))
    staging = root / "_staging"
    staging.mkdir(parents=True, exist_ok=True)
    n = 0
    cols = ["subject", "t", "x", "y", "accuracy_m"]
    for (b, d), sub in points.assign(_b=bucket, _d=day.to_numpy()).groupby(["_b", "_d"]):
        target = root / f"bucket={int(b):02d}" / f"day={d}" / f"part-{tag}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = staging / f"{uuid.uuid4().hex}.parquet"
        pq.write_table(pa.Table.from_pandas(sub[cols].reset_index(drop=True),
                                            preserve_index=False), tmp)
        tmp.replace(target)
        n += 1
    shutil.rmtree(staging, ignore_errors=True)
    return n


def import_trail(engine: Engine, root: Path, path: Path) -> dict:
    """Import one trail CSV: valid fixes to Parquet, refused ones to the quarantine.

    Idempotent: a file already imported (same SHA-256) is reported ``unchanged``. The
    accounting row and quarantine commit in one transaction after the Parquet files are in
    place; a crash in between leaves files a rerun overwrites (same names).

    Returns
    -------
    dict
        ``name, status (imported | unchanged), rows_read, loaded, quarantined``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such trail file")
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    with engine.connect() as conn:
        old = conn.execute(select(TagmatchImport).where(TagmatchImport.sha256 == sha)).first()
    if old is not None:
        o = old
        return {"name": str(path), "status": "unchanged", "rows_read": o.rows_read,
                "loaded": o.loaded, "quarantined": o.quarantined,
                "message": f"already imported from {o.name}"}
    points, quarantined, n = validate_trail(data, str(path))
    write_points(root, points, sha[:16])
    now = datetime.now(UTC).replace(tzinfo=None)
    first = last = None
    if len(points):
        first = datetime.fromtimestamp(int(points["t"].min()), UTC).replace(tzinfo=None)
        last = datetime.fromtimestamp(int(points["t"].max()), UTC).replace(tzinfo=None)
    with write_begin(engine) as conn:
        iid = conn.execute(insert(TagmatchImport).values(
            name=str(path)[:500], sha256=sha, rows_read=n, loaded=len(points),
            quarantined=len(quarantined), first_at=first, last_at=last,
            imported_at=now).returning(TagmatchImport.id)).scalar_one()
        if quarantined:
            conn.execute(insert(TagmatchQuarantine), [
                {"import_id": iid, "line": ln, "reason": r, "raw": raw}
                for ln, r, raw in quarantined])
    if len(points) + len(quarantined) != n:
        raise RuntimeError(f"{path}: accounting does not add up")
    return {"name": str(path), "status": "imported", "rows_read": n, "loaded": len(points),
            "quarantined": len(quarantined), "message": ""}


def bucket_paths(root: Path, first_day: str | None = None,
                 last_day: str | None = None) -> dict[int, list[str]]:
    """Trail files per bucket, optionally only days ``first_day..last_day`` (inclusive)."""
    out: dict[int, list[str]] = {}
    for f in sorted(Path(root).glob("bucket=*/day=*/*.parquet")):
        day = f.parent.name.split("=", 1)[1]
        if (first_day and day < first_day) or (last_day and day > last_day):
            continue
        out.setdefault(int(f.parent.parent.name.split("=", 1)[1]), []).append(str(f))
    return out


def read_points(paths: list[str]) -> pd.DataFrame:
    """Points of some trail files, one frame."""
    if not paths:
        return pd.DataFrame({"subject": pd.Series(dtype=object), "t": pd.Series(dtype=np.int64),
                             "x": pd.Series(dtype=float), "y": pd.Series(dtype=float),
                             "accuracy_m": pd.Series(dtype=float)})
    return pq.read_table(paths).to_pandas() if len(paths) > 1 else pd.read_parquet(paths[0])


def purge_trails(root: Path, *, retention_days: int, now: datetime | None = None) -> list[str]:
    """Delete trail days older than ``retention_days`` (by the fix's UTC day). Returns the
    days deleted."""
    if retention_days < 1:
        raise InputError(f"retention must be at least 1 day, got {retention_days}")
    now = now or datetime.now(UTC)
    cutoff = (now - timedelta(days=retention_days)).strftime("%Y-%m-%d")
    gone = set()
    for d in sorted(Path(root).glob("bucket=*/day=*")):
        day = d.name.split("=", 1)[1]
        if day < cutoff:
            shutil.rmtree(d)
            gone.add(day)
    return sorted(gone)
