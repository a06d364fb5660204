"""Fixtures of the fault suite: run the CLI as a user would, snapshot the store, record cases.

Each case ends with ``record(...)``: with ``GUARDIAN_FAULTS_RESULTS`` set to a folder, it writes
one JSON file per case and store there, from which ``scripts/reliability_table.py`` renders
``docs/reliability.md``. A case is recorded only after its assertions have passed.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

from conftest import ESSEX

RESULTS_ENV = "GUARDIAN_FAULTS_RESULTS"
DEC = ESSEX / "2021-12-essex-street.csv.gz"
NOV = ESSEX / "2021-11-essex-street.csv.gz"


@lru_cache(maxsize=4)
def real_text(path: Path = DEC) -> str:
    """Decompressed text of a bundled police.uk file."""
    return gzip.decompress(path.read_bytes()).decode("utf-8")


def real_lines(path: Path = DEC, n: int | None = 2000) -> list[str]:
    """Header and the first ``n`` data rows of a bundled file (all rows with ``n=None``)."""
    lines = real_text(path).splitlines()
    return lines if n is None else lines[: n + 1]


def count_rows(data: bytes) -> int:
    """Non-blank CSV records after the header, counted independently of the loader."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    text = data.decode("utf-8-sig")
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return sum(1 for r in rows[1:] if r)


@dataclass
class Result:
    """How one command ended: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    @property
    def reports(self) -> list[dict]:
        """The per-file reports of ``ingest --json``."""
        start = self.out.find("[")
        return json.loads(self.out[start:]) if start >= 0 else []

    @property
    def message(self) -> str:
        """The one line a user reads: stderr's, else the reports' messages or totals."""
        lines = [ln for ln in self.err.splitlines() if ln.strip()]
        if lines:
            return lines[0].strip()
        reps = self.reports
        if reps:
            msgs = [f"{r['status']}: {r['message']}" for r in reps if r["message"]]
            tot = {k: sum(r[k] for r in reps) for k in ("rows_read", "loaded", "quarantined",
                                                        "duplicates")}
            return "; ".join(msgs) or (
                f"{', '.join(sorted({r['status'] for r in reps}))}: read {tot['rows_read']:,} = "
                f"loaded {tot['loaded']:,} + quarantined {tot['quarantined']:,} + duplicates "
                f"{tot['duplicates']:,}")
        out = [ln for ln in self.out.splitlines() if ln.strip()]
        return out[-1].strip() if out else ""


def _traceback_free(result: Result) -> None:
    assert "Traceback" not in result.err + result.out, result.err


@pytest.fixture
def cli(store_url, capsys, monkeypatch):
    """Run ``guardian ARGS`` in-process on the test's store through :func:`guardian.cli.main`
    (the entry point, so its error mapping is what is tested)."""
    from guardian.cli import main

    monkeypatch.setenv("GUARDIAN_DATABASE_URL", store_url)

    def run(*args) -> Result:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        cap = capsys.readouterr()
        result = Result(code, cap.out, cap.err)
        _traceback_free(result)
        return result

    return run


def snapshot(url: str) -> dict[str, int]:
    """Row counts of every table a load writes, and the files in force."""
    from sqlalchemy import func, select

    from guardian.store.db import get_engine
    from guardian.store.models import (
        Dataset,
        DuplicateRecord,
        Event,
        Outcome,
        Place,
        QuarantineRow,
        SourceFile,
    )

    engine = get_engine(url)
    try:
        with engine.connect() as conn:
            out = {m.__tablename__: conn.execute(select(func.count()).select_from(m)).scalar_one()
                   for m in (Dataset, SourceFile, Event, Place, QuarantineRow, DuplicateRecord,
                             Outcome)}
            out["files_in_force"] = conn.execute(select(func.count()).select_from(SourceFile)
                                                 .where(SourceFile.superseded_at.is_(None))
                                                 ).scalar_one()
    finally:
        engine.dispose()
    return out


def store_kind(url: str) -> str:
    return "postgresql" if url.startswith("postgresql") else "sqlite"


@pytest.fixture
def record(request, store_url):
    """Write a case's result for the reliability table (when ``GUARDIAN_FAULTS_RESULTS`` is set)."""

    def write(case: str, command: str, result: Result | None = None, *, rows_lost: int = 0,
              code: int | None = None, message: str | None = None, gap: bool = False) -> None:
        assert rows_lost == 0
        folder = os.environ.get(RESULTS_ENV)
        if not folder:
            return
        Path(folder).mkdir(parents=True, exist_ok=True)
        rec = {"case": case, "command": command, "store": store_kind(store_url),
               "exit_code": result.code if code is None else code,
               "message": result.message if message is None else message,
               "rows_lost": rows_lost, "test": request.node.nodeid, "gap": gap}
        # Paths of the test's temporary folder say nothing to a reader of the table.
        rec["message"] = re.sub(r"/\S*/(?=[^/\s]+)", "", rec["message"])
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        (Path(folder) / f"{name}.json").write_text(json.dumps(rec, indent=2))

    return write
