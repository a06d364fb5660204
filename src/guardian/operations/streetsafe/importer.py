"""``guardian streetsafe import``: a force's existing Street Safe export (CSV).

Columns: ``lat, lon, reasons, timestamp`` and optionally ``daynight`` (``day``/``night``; else
from the local hour, 07:00-18:59 is day) and ``when``. ``reasons`` are codes or police.uk labels
(case-insensitive) separated by ``;`` or ``|``. Rows that fail validation or lie outside the
force area go to the quarantine with the reason. Idempotent: each row's key is a hash of the
dataset and its content, so re-importing a file (or an overlapping one) stores nothing twice;
identical rows within a file are counted as duplicates.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import insert, select

from guardian.errors import InputError
from guardian.operations.streetsafe.area import ForceArea
from guardian.operations.streetsafe.config import DAYNIGHT, REASONS, WHEN, StreetSafeConfig
from guardian.operations.streetsafe.models import StreetSafeReport
from guardian.store.db import write_begin
from guardian.store.models import QuarantineRow, SourceFile

REQUIRED = ("lat", "lon", "reasons", "timestamp")
_BY_LABEL = {v.lower(): k for k, v in REASONS.items()} | {k: k for k in REASONS}


def _reasons(text: str) -> list[str]:
    out = []
    for part in str(text).replace("|", ";").split(";"):
        p = part.strip().lower()
        if not p:
            continue
        if p not in _BY_LABEL:
            raise ValueError(f"unknown reason {part.strip()!r}")
        out.append(_BY_LABEL[p])
    if not out:
        raise ValueError("no reason given")
    return sorted(set(out))


def import_file(engine, area: ForceArea, cfg: StreetSafeConfig, path: Path,
                *, now: datetime | None = None) -> dict:
    """Load one export file in one transaction.

    Returns
    -------
    dict
        ``rows, loaded, quarantined, duplicates, already`` (rows stored by an earlier import)
        and ``file`` (its sha256).

    Raises
    ------
    InputError
        Missing columns or an unreadable file (nothing is written).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it as UTF-8 CSV ({exc})") from exc
    sha = hashlib.sha256(raw).hexdigest()
    reader = csv.DictReader(io.StringIO(text))
    cols = [c.strip().lower() for c in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise InputError(f"{path.name}: missing column(s) {missing}; expected {list(REQUIRED)}")
    reader.fieldnames = cols
    tz = area.timezone or "Europe/London"
    good, bad, seen, dups = [], [], set(), 0
    lines = text.splitlines()
    for i, row in enumerate(reader, start=2):
        rawline = lines[i - 1] if i - 1 < len(lines) else ""
        try:
            try:
                lat, lon = float(row["lat"]), float(row["lon"])
            except (TypeError, ValueError) as exc:
                raise ValueError(f"lat/lon {row['lat']!r}, {row['lon']!r} missing or not a "
                                 "number") from exc
            if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90
                    and -180 <= lon <= 180):
                raise ValueError(f"lat/lon {row['lat']!r}, {row['lon']!r} is not a place")
            reasons = _reasons(row["reasons"] or "")
            stamp = str(row["timestamp"] or "").strip()
            try:
                ts = pd.Timestamp(stamp)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"bad timestamp {stamp[:40]!r}") from exc
            if ts is pd.NaT:
                raise ValueError("empty timestamp")
            if ts.tzinfo is None:
                ts = ts.tz_localize(tz, nonexistent="shift_forward", ambiguous=False)
            local = ts.tz_convert(tz)
            dn = str(row.get("daynight") or "").strip().lower() or (
                "day" if 7 <= local.hour < 19 else "night")
            if dn not in DAYNIGHT:
                raise ValueError(f"daynight {dn!r} is not day or night")
            when = str(row.get("when") or "").strip().lower() or "earlier"
            if when not in WHEN:
                raise ValueError(f"when {when!r} is not now or earlier")
            x, y = area.to_xy(lat, lon)
            if not area.contains(x, y):
                raise ValueError(f"outside the {area.dataset} area")
        except (ValueError, TypeError, OverflowError) as exc:
            bad.append((i, str(exc), rawline))
            continue
        utc = ts.tz_convert("UTC").tz_localize(None).to_pydatetime()
        content = f"{area.dataset_id}|{lat:.6f}|{lon:.6f}|{','.join(reasons)}|{utc.isoformat()}"
        key = "imp-" + hashlib.sha256(content.encode()).hexdigest()[:40]
        if key in seen:
            dups += 1
            continue
        seen.add(key)
        good.append({"key": key, "dataset_id": area.dataset_id,
                     "received_at": utc.replace(second=0, microsecond=0),
                     "month": local.strftime("%Y-%m"), "lat": lat, "lon": lon, "x": x, "y": y,
                     "cell_x": int(math.floor(x / cfg.cell_m)),
                     "cell_y": int(math.floor(y / cfg.cell_m)), "reasons": ",".join(reasons),
                     "when": when, "daynight": dn, "not_reported": None, "comment": None,
                     "source": "import"})
    stamp = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    t = StreetSafeReport.__table__
    with write_begin(engine) as conn:
        done = conn.execute(select(SourceFile.id).where(
            SourceFile.sha256 == sha, SourceFile.kind == "streetsafe",
            SourceFile.dataset_id == area.dataset_id)).first()
        if done is not None:  # the same file again: nothing to do, nothing quarantined twice
            return {"file": sha, "rows": len(good) + len(bad) + dups, "loaded": 0,
                    "already": len(good), "quarantined": len(bad), "duplicates": dups,
                    "quarantine": [{"line": ln, "reason": why} for ln, why, _ in bad[:20]],
                    "file_already_imported": True}
        have = set()
        keys = [g["key"] for g in good]
        for j in range(0, len(keys), 500):
            have.update(conn.execute(select(t.c.key).where(t.c.key.in_(keys[j:j + 500])))
                        .scalars())
        new = [g for g in good if g["key"] not in have]
        sf = conn.execute(insert(SourceFile).values(
            dataset_id=area.dataset_id, name=path.name, sha256=sha, kind="streetsafe",
            month=None, rows_read=len(good) + len(bad) + dups, loaded=len(new),
            quarantined=len(bad), duplicates=dups, loaded_at=stamp)
            .returning(SourceFile.id)).scalar_one()
        if new:
            conn.execute(insert(t), [dict(g, source_file_id=sf) for g in new])
        if bad:
            conn.execute(insert(QuarantineRow), [{"source_file_id": sf, "line": ln,
                                                  "reason": why, "raw": r[:2000]}
                                                 for ln, why, r in bad])
    return {"file": sha, "rows": len(good) + len(bad) + dups, "loaded": len(new),
            "already": len(good) - len(new), "quarantined": len(bad), "duplicates": dups,
            "quarantine": [{"line": ln, "reason": why} for ln, why, _ in bad[:20]],
            "file_already_imported": False}
