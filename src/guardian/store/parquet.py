"""The columnar national store: police.uk months (and force extracts) as partitioned Parquet.

Layout (hive-style, readable by pyarrow, DuckDB, Dask and Spark alike)::

    ROOT/events/force=Essex/month=2024-01/part-0.parquet     valid events (canonical columns)
    ROOT/events/force=Essex/month=2024-01/_quarantine.parquet  refused rows: line, reason, raw
    ROOT/events/force=Essex/month=2024-01/_manifest.json       file, sha256, the accounting

Files starting with ``_`` are invisible to dataset readers, so a reader of ``ROOT/events`` sees
events only. Every row read ends in exactly one place, as in ``guardian ingest``: the
partition's events, its quarantine (with a reason), or counted as a duplicate (its id is held by
another month of the same force, or repeats one earlier in the file).

Parsing and validation are :mod:`guardian.data.policeuk` / :mod:`guardian.data.extract`, the
very functions ``guardian ingest`` runs; nothing is checked twice or differently here.

A partition is written whole into a staging folder under ``ROOT/_staging`` (same file system)
and then swapped in with one ``renameat2(RENAME_EXCHANGE)``: a reader, or a crash, sees either
the old month or the new one, never a mix. Writing the same file again is a no-op
("unchanged"); a republished month replaces its partition ("replaced").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from guardian.data.extract import ExtractMapping, parse_extract
from guardian.data.geography import fill_districts, force_short_name, forces
from guardian.data.policeuk import ParsedFile, parse_police_uk
from guardian.data.schema import EVENT_COLUMNS, empty_events, to_canonical
from guardian.data.sources import Source, UnreadableFile, iter_sources
from guardian.errors import InputError
from guardian.store.ingest import FileReport

EVENTS = "events"
DATA_FILE = "part-0.parquet"
QUARANTINE_FILE = "_quarantine.parquet"
MANIFEST = "_manifest.json"
STAGING = "_staging"

# Stored columns: the canonical frame without ``district`` (filled from the LSOA when read, as
# the SQL store does, so a district configuration applies to data already written) plus the
# source line, which keeps the load order within a month.
STORED = [c for c in EVENT_COLUMNS if c != "district"] + ["line"]


def partition_force(dataset: str) -> str:
    """The ``force=`` value of a dataset: the short force name for the 43 forces ("Essex"),
    otherwise the dataset name itself (force extracts)."""
    short = force_short_name(dataset)
    return short if short in forces() else dataset


def _check_value(v: str) -> str:
    if not v or "/" in v or v.startswith((".", "_")) or "=" in v:
        raise InputError(f"{v!r} cannot name a Parquet partition (no '/', '=', leading '.' or '_')")
    return v


def partition_dir(root: Path, force: str, month: str) -> Path:
    """Folder of one (force, month) partition."""
    return Path(root) / EVENTS / f"force={_check_value(force)}" / f"month={_check_value(month)}"


# --------------------------------------------------------------------------------------------
# atomic replacement

_libc = None


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where the
    system call is not available."""
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        _libc = ctypes.CDLL(name, use_errno=True) if name else False
    fn = getattr(_libc, "renameat2", None) if _libc else None
    if fn is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if rc != 0:
        err = ctypes.get_errno()
        if err in (38, 22, 95):  # ENOSYS, EINVAL, EOPNOTSUPP: file system cannot
            return False
        raise OSError(err, os.strerror(err), str(a))
    return True


def _swap_in(staged: Path, target: Path) -> None:
    """Put the folder ``staged`` at ``target``, replacing what is there in one step."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.rename(staged, target)  # atomic: target absent
        return
    if _exchange(staged, target):
        shutil.rmtree(staged)  # now holds the old partition
        return
    # Fallback (no RENAME_EXCHANGE): a moment without the partition, never a mixed one.
    old = staged.with_name(staged.name + ".old")
    os.rename(target, old)
    os.rename(staged, target)
    shutil.rmtree(old)


# --------------------------------------------------------------------------------------------
# writing


@dataclass
class _ForceIds:
    """Event ids held by each month partition of one force (to count cross-month duplicates
    exactly as the SQL store's unique key does)."""

    by_month: dict[str, set] = field(default_factory=dict)

    def others(self, month: str) -> set:
        out: set = set()
        for m, ids in self.by_month.items():
            if m != month:
                out |= ids
        return out


class ParquetWriter:
    """Writes parsed files into a partitioned store at ``root`` (one per command)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._ids: dict[str, _ForceIds] = {}

    def _force_ids(self, force: str) -> _ForceIds:
        if force not in self._ids:
            ids = _ForceIds()
            base = self.root / EVENTS / f"force={force}"
            for part in sorted(base.glob("month=*")) if base.is_dir() else []:
                f = part / DATA_FILE
                if f.is_file():
                    col = pq.read_table(f, columns=["event_id"]).column(0).to_pylist()
                    ids.by_month[part.name.split("=", 1)[1]] = set(col)
            self._ids[force] = ids
        return self._ids[force]

    def manifest(self, force: str, month: str) -> dict | None:
        p = partition_dir(self.root, force, month) / MANIFEST
        return json.loads(p.read_text()) if p.is_file() else None

    def write(self, src: Source, parsed: ParsedFile) -> FileReport:
        """Store one parsed file; returns its accounting (``rows_read = loaded + quarantined
        + duplicates``)."""
        report = FileReport(name=src.name, status="loaded", dataset=parsed.dataset,
                            kind=parsed.kind, month=parsed.month or "", rows_read=parsed.rows_read)
        if parsed.kind == "outcomes":
            report.status = "skipped"
            report.message = ("outcomes files are not part of the columnar store (events keep "
                              "the street file's last outcome)")
            return report
        force = partition_force(parsed.dataset)
        ev = to_canonical(parsed.events)
        months = sorted(set(ev["month"].astype(str))) if parsed.kind == "extract" else [parsed.month]
        old = [self.manifest(force, m) for m in months]
        if months and all(o is not None and o["sha256"] == parsed.sha256 for o in old):
            report.status = "unchanged"
            report.loaded = sum(o["loaded"] for o in old)
            report.quarantined = sum(o["quarantined"] for o in old)
            report.duplicates = sum(o["duplicates"] for o in old)
            report.message = f"already written from {old[0]['file']}"
            return report
        replaced = sorted({o["file"] for o in old if o is not None})
        ids = self._force_ids(force)
        quarantined = pd.DataFrame({"line": [q.line for q in parsed.quarantined],
                                    "reason": [q.reason for q in parsed.quarantined],
                                    "raw": [q.raw for q in parsed.quarantined]})
        in_file_dups = len(parsed.duplicates)
        loaded = dups = 0
        for i, month in enumerate(months):
            sub = ev[ev["month"].astype(str) == month] if parsed.kind == "extract" else ev
            held = ids.others(month)
            seen = sub["event_id"].astype(str).isin(held).to_numpy() if held else \
                np.zeros(len(sub), dtype=bool)
            sub = sub[~seen]
            # The file's quarantine and in-file duplicates are booked on its first month.
            q = quarantined if i == 0 else quarantined.iloc[:0]
            extra = in_file_dups if i == 0 else 0
            self._write_partition(force, month, sub, q, {
                "file": src.name, "sha256": parsed.sha256, "dataset": parsed.dataset,
                "kind": parsed.kind, "rows_read": int(len(sub) + len(q) + int(seen.sum()) + extra),
                "loaded": int(len(sub)), "quarantined": int(len(q)),
                "duplicates": int(seen.sum()) + extra, "crs": parsed.crs,
                "timezone": parsed.timezone,
                "written_at": datetime.now(UTC).isoformat(timespec="seconds")})
            ids.by_month[month] = set(sub["event_id"].astype(str))
            loaded += len(sub)
            dups += int(seen.sum()) + extra
        report.loaded, report.quarantined, report.duplicates = loaded, len(quarantined), dups
        if report.loaded + report.quarantined + report.duplicates != report.rows_read:
            raise RuntimeError(f"{src.name}: accounting does not add up: {report}")
        if replaced:
            report.status = "replaced"
            report.message = "replaces " + ", ".join(replaced)
        return report

    def _write_partition(self, force: str, month: str, events: pd.DataFrame,
                         quarantined: pd.DataFrame, manifest: dict) -> None:
        staging = self.root / STAGING
        staging.mkdir(parents=True, exist_ok=True)
        tmp = staging / uuid.uuid4().hex
        tmp.mkdir()
        try:
            cols = events[STORED].reset_index(drop=True)
            pq.write_table(pa.Table.from_pandas(cols, preserve_index=False), tmp / DATA_FILE)
            pq.write_table(pa.Table.from_pandas(quarantined.reset_index(drop=True),
                                                preserve_index=False), tmp / QUARANTINE_FILE)
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
            for f in tmp.iterdir():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
            _swap_in(tmp, partition_dir(self.root, force, month))
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)


def export_parquet(
    root: Path,
    paths: list,
    *,
    mapping: ExtractMapping | None = None,
    progress: Callable[[FileReport], None] | None = None,
) -> list[FileReport]:
    """Validate police.uk street files (or a force extract with ``mapping``) and write them as
    partitioned Parquet under ``root`` (see the module notes).

    Parameters
    ----------
    root : Path
        Store folder (created when missing).
    paths : list of path
        Files, folders or police.uk archive zips, as for ``guardian ingest``.
    mapping : ExtractMapping, optional
        Column mapping of a force extract.
    progress : callable, optional
        Called with each file's report.

    Returns
    -------
    list of FileReport
        One per file: ``loaded`` / ``replaced`` / ``unchanged`` / ``skipped`` (outcomes files)
        / ``error`` (not a police.uk or extract file; nothing of it written). A damaged file
        (:class:`~guardian.data.sources.UnreadableFile`) stops the command before it writes.
    """
    root = Path(root)
    sources = list(iter_sources(paths))
    writer = ParquetWriter(root)
    reports = []
    for src in sources:
        try:
            parsed = parse_extract(src, mapping) if mapping is not None else parse_police_uk(src)
        except UnreadableFile:
            raise
        except InputError as exc:
            rep = FileReport(name=src.name, status="error", message=str(exc))
        else:
            rep = writer.write(src, parsed)
        reports.append(rep)
        if progress is not None:
            progress(rep)
    shutil.rmtree(root / STAGING, ignore_errors=True)
    return reports


# --------------------------------------------------------------------------------------------
# reading


def partitions(root: Path) -> pd.DataFrame:
    """Every partition with its accounting: ``force, month, dataset, file, sha256, rows_read,
    loaded, quarantined, duplicates, path`` (sorted by force, month)."""
    rows = []
    base = Path(root) / EVENTS
    for part in sorted(base.glob("force=*/month=*")) if base.is_dir() else []:
        man = part / MANIFEST
        if not man.is_file():
            continue
        m = json.loads(man.read_text())
        rows.append({"force": part.parent.name.split("=", 1)[1],
                     "month": part.name.split("=", 1)[1], "dataset": m["dataset"],
                     "file": m["file"], "sha256": m["sha256"], "rows_read": m["rows_read"],
                     "loaded": m["loaded"], "quarantined": m["quarantined"],
                     "duplicates": m["duplicates"], "path": str(part / DATA_FILE)})
    cols = ["force", "month", "dataset", "file", "sha256", "rows_read", "loaded",
            "quarantined", "duplicates", "path"]
    return pd.DataFrame(rows, columns=cols)


def read_partition_table(path: str | Path, *, columns: list[str] | None = None,
                         dictionary: list[str] | None = None) -> pa.Table:
    """One partition's stored columns as an Arrow table (``dictionary``: columns to read
    dictionary-encoded, which pandas turns into categoricals)."""
    return pq.read_table(path, columns=columns, read_dictionary=dictionary)


def read_partition_file(path: str | Path, *, categories=None,
                        columns: list[str] | None = None) -> pd.DataFrame:
    """One partition's events as a canonical event frame (rows in load order)."""
    table = pq.read_table(path, columns=columns)
    ev = table.to_pandas()
    if categories is not None:
        ev = ev[ev["category"].isin(list(categories))]
    if columns is not None:
        return ev.reset_index(drop=True)
    return _canonical(ev)


def _canonical(ev: pd.DataFrame) -> pd.DataFrame:
    if ev.empty:
        return empty_events()
    ev = ev.assign(district="")
    ev = fill_districts(ev)
    out = to_canonical(ev[list(EVENT_COLUMNS)])
    out["time"] = ev["time"]
    return out.reset_index(drop=True)


def read_events(root: Path, *, force: str | None = None, months=None,
                categories=None) -> pd.DataFrame:
    """Events of the store (or of one force / some months) as one canonical frame, ordered
    as the SQL store orders them: by month, then by line within a month's file."""
    parts = partitions(root)
    if force is not None:
        parts = parts[parts["force"] == force]
    if months is not None:
        parts = parts[parts["month"].isin(list(months))]
    frames = [read_partition_file(p, categories=categories) for p in parts["path"]]
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_events()
    return pd.concat(frames, ignore_index=True)


def quarantine_rows(root: Path) -> pd.DataFrame:
    """Every refused row of the partitions in force: ``force, month, file, line, reason, raw``."""
    out = []
    for r in partitions(root).itertuples():
        q = pd.read_parquet(Path(r.path).parent / QUARANTINE_FILE)
        if len(q):
            out.append(q.assign(force=r.force, month=r.month, file=r.file))
    cols = ["force", "month", "file", "line", "reason", "raw"]
    return pd.concat(out, ignore_index=True)[cols] if out else pd.DataFrame(columns=cols)
